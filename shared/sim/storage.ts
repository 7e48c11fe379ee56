/**
 * The executor's plans buckets, simulated as Cloud Storage keeps objects: by `gs://bucket/name`,
 * bytes as written, read whole or not at all. A plan build writes its plan file and renderings
 * here (the simulated Cloud Build's upload step); an apply reads the file back; the control plane
 * reads the text for a person. It does not cooperate: an object nobody wrote is not there (404,
 * as objects.get answers), a replaced object is simply different, and faults come only as what
 * the API answers.
 */
import { createHash } from 'node:crypto';
import { parseGsUrl } from '../domain/executor/index.js';
import type { PlanFilesPort, StoredText } from '../ports.js';
import type { SimState } from './state.js';
import { FaultInjector, type ServiceErrorStyle } from './faults.js';

export type StorageMethod = 'getObject';

const STYLE: ServiceErrorStyle = { service: 'Cloud Storage', conflictCode: 'failed-precondition' };

export class SimulatedStorage implements PlanFilesPort {
  readonly faults = new FaultInjector<StorageMethod>(STYLE);
  private readonly objects = new Map<string, Buffer>();

  /** Its objects as plain data (state.ts). */
  exportState(): SimState {
    return { objects: new Map([...this.objects].map(([url, bytes]) => [url, new Uint8Array(bytes)])) };
  }

  /** Puts objects taken by exportState back. */
  importState(state: SimState): void {
    const objects = state.objects;
    if (!(objects instanceof Map)) throw new Error('plans bucket sim: the state has no objects map');
    this.objects.clear();
    for (const [url, bytes] of objects as Map<string, Uint8Array>) this.objects.set(url, Buffer.from(bytes));
  }

  /** Writes (or overwrites) one object, as `gcloud storage cp` does. */
  put(url: string, content: string | Buffer): void {
    if (parseGsUrl(url) === undefined) throw new Error(`plans bucket sim: not a gs:// object URL: ${url}`);
    this.objects.set(url, Buffer.from(content));
  }

  /** Deletes one object (as the bucket's lifecycle rule does after 30 days). */
  remove(url: string): void {
    this.objects.delete(url);
  }

  has(url: string): boolean {
    return this.objects.has(url);
  }

  /** The sha256 of an object's bytes (what `sha256sum` of the downloaded file prints). */
  digestOf(url: string): string | undefined {
    const bytes = this.objects.get(url);
    return bytes === undefined ? undefined : createHash('sha256').update(bytes).digest('hex');
  }

  /** Every object's URL with its sha256. */
  list(): Map<string, string> {
    return new Map([...this.objects.keys()].sort().map((url) => [url, this.digestOf(url) ?? '']));
  }

  /** objects.get with alt=media: the object's bytes as text, at most maxBytes of them. */
  readText(url: string, options: { maxBytes?: number } = {}): Promise<StoredText | undefined> {
    return this.faults.call('getObject', url, () => {
      const bytes = this.objects.get(url);
      if (bytes === undefined) return undefined;
      const max = options.maxBytes ?? Infinity;
      return { text: bytes.subarray(0, Math.min(bytes.length, max)).toString('utf8'), bytes: Math.min(bytes.length, max), truncated: bytes.length > max };
    });
  }
}

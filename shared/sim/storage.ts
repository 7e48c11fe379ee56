/**
 * Cloud Storage as the control plane uses it, simulated as it keeps objects: by `gs://bucket/name`,
 * bytes as written, read whole or not at all. The executor's plans buckets: a plan build writes
 * its plan file and renderings here (the simulated Cloud Build's upload step), an apply reads the
 * file back, the control plane reads the text for a person. The compliance evidence bucket: the
 * daily anchors, created once (ifGenerationMatch=0) in a bucket whose retention policy is locked.
 * It does not cooperate: an object nobody wrote is not there (404, as objects.get answers), a
 * create of a name taken fails (412), a locked bucket refuses to replace or delete an object
 * inside its retention (403, as Cloud Storage answers), and faults come only as what the API answers.
 */
import { createHash } from 'node:crypto';
import { parseGsUrl } from '../domain/executor/index.js';
import type { EvidenceBucketPort, PlanFilesPort, StoredText } from '../ports.js';
import type { SimState } from './state.js';
import { ControlPlaneError } from '../errors.js';
import { errorForHttpStatus, FaultInjector, type ServiceErrorStyle } from './faults.js';

export type StorageMethod = 'getObject' | 'insertObject';

const STYLE: ServiceErrorStyle = { service: 'Cloud Storage', conflictCode: 'failed-precondition' };

export class SimulatedStorage implements PlanFilesPort {
  readonly faults = new FaultInjector<StorageMethod>(STYLE);
  private readonly objects = new Map<string, Buffer>();
  private readonly generations = new Map<string, string>();
  private readonly written = new Map<string, number>();
  /** Buckets with a locked retention policy, and its length in days. */
  private readonly locked = new Map<string, number>();
  private nextGeneration = 1_700_000_000_000_000;

  constructor(private readonly clock: { now(): Date } = { now: () => new Date() }) {}

  /** Locks a bucket's retention policy (as `gcloud storage buckets update --lock-retention-period` does): for good. */
  lockRetention(bucket: string, days: number): void {
    this.locked.set(bucket, Math.max(days, this.locked.get(bucket) ?? 0));
  }

  /** Whether an object is inside its bucket's locked retention: it can be neither replaced nor deleted. */
  private retained(url: string): boolean {
    const bucket = parseGsUrl(url)?.bucket;
    const days = bucket === undefined ? undefined : this.locked.get(bucket);
    const at = this.written.get(url);
    return days !== undefined && at !== undefined && this.clock.now().getTime() - at < days * 86_400_000;
  }

  private refuseRetained(url: string, what: string): void {
    if (this.retained(url)) throw errorForHttpStatus(STYLE, 'objects', 403, `${what} ${url}: Object '${url.slice(5)}' is subject to bucket's retention policy or object retention and cannot be deleted or overwritten until expired.`);
  }

  /**
   * objects.insert with ifGenerationMatch=0: creates the object, or fails with 412 (conditionNotMet)
   * when the name is taken. Returns the new generation.
   */
  insert(url: string, content: string | Buffer): Promise<{ generation: string }> {
    return this.faults.call('insertObject', url, () => {
      if (parseGsUrl(url) === undefined) throw new Error(`storage sim: not a gs:// object URL: ${url}`);
      // What the adapter makes of Cloud Storage's 412 conditionNotMet for ifGenerationMatch=0.
      if (this.objects.has(url)) throw new ControlPlaneError('already-exists', `At least one of the pre-conditions you specified did not hold (${url} exists).`, { details: { httpStatus: 412, service: STYLE.service, method: 'insertObject' } });
      this.store(url, content);
      return { generation: this.generations.get(url) ?? '0' };
    });
  }

  private store(url: string, content: string | Buffer): void {
    this.objects.set(url, Buffer.from(content));
    this.nextGeneration += 1;
    this.generations.set(url, String(this.nextGeneration));
    this.written.set(url, this.clock.now().getTime());
  }

  /** Its objects as plain data (state.ts). */
  exportState(): SimState {
    return {
      objects: new Map([...this.objects].map(([url, bytes]) => [url, new Uint8Array(bytes)])),
      generations: new Map(this.generations),
      written: new Map(this.written),
      locked: new Map(this.locked),
      nextGeneration: this.nextGeneration,
    };
  }

  /** Puts objects taken by exportState back. */
  importState(state: SimState): void {
    const objects = state.objects;
    if (!(objects instanceof Map)) throw new Error('storage sim: the state has no objects map');
    this.objects.clear();
    for (const [url, bytes] of objects as Map<string, Uint8Array>) this.objects.set(url, Buffer.from(bytes));
    for (const [field, into] of [['generations', this.generations], ['written', this.written], ['locked', this.locked]] as const) {
      const kept = state[field];
      if (kept instanceof Map) for (const [key, value] of kept as Map<string, never>) (into as Map<string, unknown>).set(key, value);
    }
    if (typeof state.nextGeneration === 'number') this.nextGeneration = state.nextGeneration;
  }

  /** Writes (or overwrites) one object, as `gcloud storage cp` does. */
  put(url: string, content: string | Buffer): void {
    if (parseGsUrl(url) === undefined) throw new Error(`storage sim: not a gs:// object URL: ${url}`);
    this.refuseRetained(url, 'overwrite of');
    this.store(url, content);
  }

  /** Deletes one object (as the bucket's lifecycle rule does after 30 days). */
  remove(url: string): void {
    this.refuseRetained(url, 'delete of');
    this.objects.delete(url);
  }

  /** One bucket of it as the evidence port: objects created once, read back whole. */
  bucketPort(bucket: string): EvidenceBucketPort {
    return {
      bucket,
      create: (name, content) => this.insert(`gs://${bucket}/${name}`, content),
      read: async (name) => (await this.readText(`gs://${bucket}/${name}`))?.text,
    };
  }

  /** The object's generation, as objects.get's metadata gives it. */
  generationOf(url: string): string | undefined {
    return this.generations.get(url);
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

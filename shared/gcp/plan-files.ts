/**
 * Reading a saved plan's text from the executor's plans bucket with the function's own account
 * (Cloud Storage JSON API objects.get with alt=media: the object's bytes, no metadata). One GET
 * of one object is all the control plane asks of Cloud Storage, so it is a fetch, not a client.
 */
import { parseGsUrl } from '../domain/executor/index.js';
import type { PlanFilesPort, StoredText } from '../ports.js';
import { toControlPlaneError } from './google-api.js';

export const STORAGE_ENDPOINT = 'https://storage.googleapis.com';

/** The most of a plan's text a person is handed in one answer; a longer plan says it was cut. */
export const MAX_PLAN_TEXT_BYTES = 1024 * 1024;

export function createPlanFilesReader(options: { token: () => Promise<string>; endpoint?: string; timeoutMs?: number }): PlanFilesPort {
  const endpoint = (options.endpoint ?? STORAGE_ENDPOINT).replace(/\/$/, '');
  return {
    async readText(url: string, read: { maxBytes?: number } = {}): Promise<StoredText | undefined> {
      const what = `Cloud Storage objects.get of ${url}`;
      const object = parseGsUrl(url);
      if (object === undefined) throw new Error(`${what}: not a gs://bucket/object URL`);
      const max = read.maxBytes ?? MAX_PLAN_TEXT_BYTES;
      let response: Response;
      try {
        // The object's name is one path segment: its slashes are encoded too.
        response = await fetch(`${endpoint}/storage/v1/b/${encodeURIComponent(object.bucket)}/o/${encodeURIComponent(object.name)}?alt=media`, {
          headers: { authorization: `Bearer ${await options.token()}` },
          signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
        });
      } catch (error) {
        throw toControlPlaneError(what, error, { alreadyExists: 'already-exists' });
      }
      if (response.status === 404) {
        await response.body?.cancel();
        return undefined;
      }
      if (!response.ok) {
        const json = (await response.json().catch(() => undefined)) as { error?: { message?: unknown } } | undefined;
        const message = typeof json?.error?.message === 'string' ? `: ${json.error.message}` : '';
        throw toControlPlaneError(what, Object.assign(new Error(`HTTP ${response.status}${message}`), { status: response.status, response: { data: json } }), { alreadyExists: 'already-exists' });
      }
      // Read no more than the cap (and one byte to know there is more), however large the object.
      const chunks: Buffer[] = [];
      let held = 0;
      let truncated = false;
      const reader = response.body?.getReader();
      while (reader !== undefined) {
        const next = (await reader.read()) as { done: boolean; value?: Uint8Array };
        if (next.done || next.value === undefined) break;
        chunks.push(Buffer.from(next.value));
        held += next.value.byteLength;
        if (held > max) {
          truncated = true;
          await reader.cancel();
          break;
        }
      }
      const bytes = Buffer.concat(chunks).subarray(0, max);
      return { text: bytes.toString('utf8'), bytes: bytes.length, truncated };
    },
  };
}

/**
 * The compliance evidence bucket, through Cloud Storage's JSON API with the caller's own token:
 * objects.insert (a simple media upload) with ifGenerationMatch=0, so an object is created once
 * and never replaced, and objects.get with alt=media to read one back. Two calls of one bucket
 * are all it needs, so it is a fetch, not a client library.
 */
import * as z from 'zod';
import { evidenceBucketName } from '../domain/compliance/anchor.js';
import type { EvidenceBucketPort } from '../ports.js';
import { ControlPlaneError } from '../errors.js';
import { createPlanFilesReader, STORAGE_ENDPOINT } from './plan-files.js';
import { toControlPlaneError } from './google-api.js';

/** The largest object the control plane reads back: a day's export of a 10,000-instance fleet is a few tens of MB. */
export const MAX_EVIDENCE_OBJECT_BYTES = 256 * 1024 * 1024;

/** The fields of the Object resource objects.insert answers that the control plane reads. */
const insertedObject = z.object({ kind: z.literal('storage#object'), name: z.string(), bucket: z.string(), generation: z.string().regex(/^[0-9]+$/) });

/** The evidence bucket of a project, as infra/evidence.ts names it. */
export function createProjectEvidenceBucket(project: string, options: { token: () => Promise<string>; endpoint?: string }): EvidenceBucketPort {
  return createEvidenceBucket({ ...options, bucket: evidenceBucketName(project) });
}

export function createEvidenceBucket(options: { bucket: string; token: () => Promise<string>; endpoint?: string; timeoutMs?: number }): EvidenceBucketPort {
  const endpoint = (options.endpoint ?? STORAGE_ENDPOINT).replace(/\/$/, '');
  const reader = createPlanFilesReader({ token: options.token, endpoint, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) });
  return {
    bucket: options.bucket,
    async create(name, content, contentType) {
      const what = `Cloud Storage objects.insert of gs://${options.bucket}/${name}`;
      const query = new URLSearchParams({ uploadType: 'media', name, ifGenerationMatch: '0' });
      let response: Response;
      try {
        response = await fetch(`${endpoint}/upload/storage/v1/b/${encodeURIComponent(options.bucket)}/o?${query.toString()}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${await options.token()}`, 'content-type': contentType },
          body: content,
          signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
        });
      } catch (error) {
        throw toControlPlaneError(what, error, { alreadyExists: 'already-exists' });
      }
      const json: unknown = await response.json().catch(() => undefined);
      if (response.status === 412) {
        // ifGenerationMatch=0 failed: the object is there already, and a locked bucket keeps it as it is.
        throw new ControlPlaneError('already-exists', `${what}: the object exists (412 conditionNotMet); evidence is never replaced`, { details: { httpStatus: 412, name } });
      }
      if (!response.ok) {
        const message = typeof (json as { error?: { message?: unknown } } | undefined)?.error?.message === 'string' ? `: ${(json as { error: { message: string } }).error.message}` : '';
        throw toControlPlaneError(what, Object.assign(new Error(`HTTP ${response.status}${message}`), { status: response.status, response: { data: json } }), { alreadyExists: 'already-exists' });
      }
      const parsed = insertedObject.safeParse(json);
      if (!parsed.success) throw new ControlPlaneError('internal', `${what}: the answer is not an Object resource (${parsed.error.issues[0]?.message ?? 'unreadable'})`, { details: { httpStatus: response.status } });
      return { generation: parsed.data.generation };
    },
    async read(name) {
      const found = await reader.readText(`gs://${options.bucket}/${name}`, { maxBytes: MAX_EVIDENCE_OBJECT_BYTES });
      if (found === undefined) return undefined;
      if (found.truncated) throw new ControlPlaneError('internal', `gs://${options.bucket}/${name} is over ${MAX_EVIDENCE_OBJECT_BYTES} bytes`, { details: { name } });
      return found.text;
    },
  };
}

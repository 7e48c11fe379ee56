/**
 * The Firestore Admin API (REST, v1) on the control plane's own project, for the restore drill
 * of its database: backups.list, databases.restore, operations.get and .list, databases.delete.
 * Five calls of one API with the function's own token are a fetch each, not a client library;
 * every answer is parsed against the shape the API reference gives before it is believed.
 */
import * as z from 'zod';
import { ControlPlaneError } from '../errors.js';
import type { DatabaseBackup, DatabaseOperation, FirestoreAdminPort, StateStore } from '../ports.js';
import { toControlPlaneError } from './google-api.js';

export const FIRESTORE_ENDPOINT = 'https://firestore.googleapis.com';

/** google.longrunning.Operation as the Firestore Admin API answers it (metadata typed by `@type`). */
const operationSchema = z.object({
  name: z.string().min(1),
  done: z.boolean().optional(),
  metadata: z
    .looseObject({
      '@type': z.string().optional(),
      progressPercentage: z.object({ workEstimated: z.string().optional(), workCompleted: z.string().optional() }).optional(),
    })
    .optional(),
  error: z.object({ code: z.number().int(), message: z.string().optional() }).optional(),
});

const backupSchema = z.object({
  name: z.string().regex(/^projects\/[^/]+\/locations\/[^/]+\/backups\/[^/]+$/),
  database: z.string(),
  snapshotTime: z.iso.datetime({ offset: true }),
  expireTime: z.iso.datetime({ offset: true }),
  state: z.enum(['STATE_UNSPECIFIED', 'CREATING', 'READY', 'NOT_AVAILABLE']),
});

const listBackupsSchema = z.object({ backups: z.array(backupSchema).optional(), unreachable: z.array(z.string()).optional() });
const listOperationsSchema = z.object({ operations: z.array(operationSchema).optional(), nextPageToken: z.string().optional() });

function operationOf(parsed: z.infer<typeof operationSchema>): DatabaseOperation {
  const type = parsed.metadata?.['@type'];
  const progress = parsed.metadata?.progressPercentage;
  const estimated = Number(progress?.workEstimated ?? NaN);
  const completed = Number(progress?.workCompleted ?? NaN);
  return {
    name: parsed.name,
    done: parsed.done === true,
    // `type.googleapis.com/google.firestore.admin.v1.RestoreDatabaseMetadata` → RestoreDatabaseMetadata
    kind: type === undefined ? null : (type.split('.').at(-1) ?? type),
    error: parsed.error === undefined ? null : { code: parsed.error.code, message: parsed.error.message ?? `code ${parsed.error.code}` },
    progressPercent: Number.isFinite(estimated) && Number.isFinite(completed) && estimated > 0 ? Math.min(100, Math.round((completed / estimated) * 100)) : null,
  };
}

export interface FirestoreAdminOptions {
  project: string;
  token: () => Promise<string>;
  /** The documents of a database of the project, through the Firestore client (the drill reads its scratch database so). */
  open: (databaseId: string) => StateStore;
  endpoint?: string;
  timeoutMs?: number;
}

export function createFirestoreAdmin(options: FirestoreAdminOptions): FirestoreAdminPort {
  const endpoint = (options.endpoint ?? FIRESTORE_ENDPOINT).replace(/\/$/, '');
  const projectPath = `projects/${options.project}`;

  async function call<S extends z.ZodType>(method: 'GET' | 'POST' | 'DELETE', path: string, what: string, schema: S, body?: unknown): Promise<z.infer<S>> {
    let response: Response;
    try {
      response = await fetch(`${endpoint}/v1/${path}`, {
        method,
        headers: { authorization: `Bearer ${await options.token()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      throw toControlPlaneError(what, error, { alreadyExists: 'already-exists' });
    }
    const json: unknown = await response.json().catch(() => undefined);
    if (!response.ok) {
      const message = (json as { error?: { message?: unknown } } | undefined)?.error?.message;
      throw toControlPlaneError(what, Object.assign(new Error(`HTTP ${response.status}${typeof message === 'string' ? `: ${message}` : ''}`), { status: response.status, response: { data: json } }), { alreadyExists: 'already-exists' });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ControlPlaneError('internal', `${what}: the answer is not of the API's shape (${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'unreadable'})`, { retryable: false, details: { what, httpStatus: response.status } });
    }
    return parsed.data;
  }

  return {
    async listBackups() {
      // `locations/-`: the backups of every location, with those that did not answer named.
      const answer = await call('GET', `${projectPath}/locations/-/backups`, 'Firestore backups.list', listBackupsSchema);
      const backups: DatabaseBackup[] = (answer.backups ?? []).map((b) => ({ name: b.name, database: b.database, snapshotTime: b.snapshotTime, expireTime: b.expireTime, state: b.state }));
      return { backups, unreachable: answer.unreachable ?? [] };
    },

    async restoreDatabase(databaseId, backup) {
      return operationOf(await call('POST', `${projectPath}/databases:restore`, `Firestore databases.restore of ${backup} into ${databaseId}`, operationSchema, { databaseId, backup }));
    },

    async getOperation(name) {
      if (!name.startsWith(`${projectPath}/databases/`)) throw new ControlPlaneError('internal', `not an operation of ${projectPath}'s databases: ${name}`, { retryable: false });
      return operationOf(await call('GET', name, `Firestore operations.get of ${name}`, operationSchema));
    },

    async listOperations(databaseId) {
      const found: DatabaseOperation[] = [];
      let pageToken: string | undefined;
      do {
        const query = pageToken === undefined ? '' : `?pageToken=${encodeURIComponent(pageToken)}`;
        const page = await call('GET', `${projectPath}/databases/${encodeURIComponent(databaseId)}/operations${query}`, `Firestore operations.list of ${databaseId}`, listOperationsSchema);
        found.push(...(page.operations ?? []).map(operationOf));
        pageToken = page.nextPageToken === '' ? undefined : page.nextPageToken;
      } while (pageToken !== undefined);
      return found;
    },

    async deleteDatabase(databaseId) {
      return operationOf(await call('DELETE', `${projectPath}/databases/${encodeURIComponent(databaseId)}`, `Firestore databases.delete of ${databaseId}`, operationSchema));
    },

    openDatabase(databaseId) {
      return Promise.resolve(options.open(databaseId));
    },
  };
}

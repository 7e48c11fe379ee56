/**
 * What every call of the Cloud SQL adapter shares: the generated clients it is given, a
 * deadline on each call with errors mapped to the control plane's, 404 as an answer for a
 * get, and the paging and required-field helpers of the mappers.
 */
import type { SqlBackupRunsServiceClient, SqlInstancesServiceClient, SqlOperationsServiceClient, v1 as sqlV1 } from '@google-cloud/sql';
import { withDeadline } from '../deadline.js';
import { ControlPlaneError } from '../errors.js';
import type { Page } from '../ports.js';
import { malformedAnswer, optionalString, toControlPlaneError } from './google-api.js';

/** The generated clients the adapter calls. */
export interface CloudSqlClients {
  backupRuns: SqlBackupRunsServiceClient;
  /** Not exported by name from the package root in 0.25, only under `v1`. */
  backups: sqlV1.SqlBackupsServiceClient;
  instances: SqlInstancesServiceClient;
  operations: SqlOperationsServiceClient;
}

/** How the adapter's methods call a client. */
export interface SqlCalls {
  /** The gax options of every call: its timeout is the deadline, and gax never retries. */
  options: { timeout: number; retry: null };
  /** Runs one call under the deadline; its failure as a ControlPlaneError (409 as `conflict`). */
  call<T>(what: string, work: () => Promise<T>): Promise<T>;
  /** As `call`, but undefined for 404: for a get, "no such thing" is an answer. */
  get<T>(what: string, work: () => Promise<T>): Promise<T | undefined>;
}

/** The calls of an adapter whose every call has `ms` to answer. */
export function sqlCalls(ms: number): SqlCalls {
  async function call<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await withDeadline(what, work, ms);
    } catch (error) {
      throw toControlPlaneError(what, error, { alreadyExists: 'conflict' });
    }
  }
  async function get<T>(what: string, work: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call(what, work);
    } catch (error) {
      if (error instanceof ControlPlaneError && error.code === 'not-found') return undefined;
      throw error;
    }
  }
  // gax's own timeout aborts the HTTP request when our deadline passes, so nothing is left
  // running behind a call we have given up on; retrying is the caller's business.
  return { options: { timeout: ms, retry: null }, call, get };
}

/** A field the answer must carry, as text; a malformed answer otherwise. */
export function required(what: string, path: string, value: unknown): string {
  const text = optionalString(value);
  if (text === undefined) throw malformedAnswer(what, path, 'missing', value);
  return text;
}

/** The paging fields of a list request: only those the caller gave. */
export function pagingOf(page: { pageToken?: string; maxResults?: number }): { pageToken?: string; maxResults?: number } {
  return {
    ...(page.maxResults === undefined ? {} : { maxResults: page.maxResults }),
    ...(page.pageToken === undefined ? {} : { pageToken: page.pageToken }),
  };
}

/** A page of mapped items, with the next token only when the API gave one. */
export function pageOf<T>(items: T[], token: unknown): Page<T> {
  const nextPageToken = optionalString(token);
  return nextPageToken === undefined ? { items } : { items, nextPageToken };
}

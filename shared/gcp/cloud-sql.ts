/**
 * CloudSqlPort on the Cloud SQL Admin v1 clients of `@google-cloud/sql`, over REST
 * (`fallback: true`): the same HTTP/JSON surface the API reference documents, which the
 * tests serve from a local server. Every call has a deadline; 404 on a get is an answer.
 *
 * The port's methods live by resource beside this file: cloud-sql-backups.ts (backup runs
 * and final backups), cloud-sql-instances.ts (instances and their backup configuration),
 * cloud-sql-operations.ts (operations), on the shared call helpers of cloud-sql-calls.ts.
 */
import { SqlBackupRunsServiceClient, SqlInstancesServiceClient, SqlOperationsServiceClient, v1 as sqlV1 } from '@google-cloud/sql';
import { DEFAULT_DEADLINE_MS } from '../deadline.js';
import type { CloudSqlPort } from '../ports.js';
import { backupMethods } from './cloud-sql-backups.js';
import { sqlCalls, type CloudSqlClients } from './cloud-sql-calls.js';
import { instanceMethods } from './cloud-sql-instances.js';
import { operationMethods } from './cloud-sql-operations.js';
import { anonymousAuthClient, plainEndpointOptions, type PlainEndpoint } from './google-api.js';

export type { CloudSqlClients } from './cloud-sql-calls.js';

/** Not exported by name from the package root in 0.25, only under `v1`. */
const SqlBackupsServiceClient = sqlV1.SqlBackupsServiceClient;

export interface CloudSqlAdapterOptions {
  /** Per call; a call past it fails with a retryable `deadline-exceeded`. */
  deadlineMs?: number;
  /** Ready-made clients (any left out are built from the other options). */
  clients?: Partial<CloudSqlClients>;
  /** Call this endpoint over plain HTTP without credentials (tests, local fakes) instead of sqladmin.googleapis.com. */
  endpoint?: PlainEndpoint;
}

type SqlClientOptions = NonNullable<ConstructorParameters<typeof SqlBackupRunsServiceClient>[0]>;

function clientOptions(endpoint: PlainEndpoint | undefined): SqlClientOptions {
  // REST everywhere, not only in tests: the transport that runs in the cloud is the one the
  // tests exercise, and Cloud SQL Admin's v1 surface is documented (and served) as JSON.
  if (endpoint === undefined) return { fallback: true };
  return {
    ...plainEndpointOptions(endpoint),
    // gax only calls getRequestHeaders/fetch on it; the rest of AuthClient is never touched.
    authClient: anonymousAuthClient as unknown as SqlClientOptions['authClient'],
  };
}

/** Creates the Cloud SQL Admin adapter (REST transport, a deadline on every call). */
export function createCloudSqlAdapter(options: CloudSqlAdapterOptions = {}): CloudSqlPort & { close(): Promise<void> } {
  const calls = sqlCalls(options.deadlineMs ?? DEFAULT_DEADLINE_MS);
  const settings = clientOptions(options.endpoint);
  const backupRuns = options.clients?.backupRuns ?? new SqlBackupRunsServiceClient(settings);
  const backups = options.clients?.backups ?? new SqlBackupsServiceClient(settings);
  const instances = options.clients?.instances ?? new SqlInstancesServiceClient(settings);
  const operations = options.clients?.operations ?? new SqlOperationsServiceClient(settings);
  return {
    ...backupMethods({ backupRuns, backups }, calls),
    ...operationMethods(operations, calls),
    ...instanceMethods(instances, calls),
    async close() {
      await Promise.all([backupRuns.close(), backups.close(), instances.close(), operations.close()]);
    },
  };
}

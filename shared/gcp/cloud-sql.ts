/**
 * CloudSqlPort on the Cloud SQL Admin v1 clients of `@google-cloud/sql`, over REST
 * (`fallback: true`): the same HTTP/JSON surface the API reference documents, which the
 * tests serve from a local server. Every call has a deadline; 404 on a get is an answer.
 */
import { SqlBackupRunsServiceClient, SqlInstancesServiceClient, SqlOperationsServiceClient, protos, v1 as sqlV1 } from '@google-cloud/sql';
import { DEFAULT_DEADLINE_MS, withDeadline } from '../deadline.js';
import { ControlPlaneError } from '../errors.js';
import type {
  CloudSqlPort,
  Page,
  SqlBackupConfiguration,
  SqlBackupRun,
  SqlBackupRunStatus,
  SqlBackupState,
  SqlBackupType,
  SqlFinalBackup,
  SqlInstance,
  SqlInstanceSpec,
  SqlOperation,
} from '../ports.js';
import {
  anonymousAuthClient,
  enumName,
  int64String,
  malformedAnswer,
  oneOf,
  optionalString,
  plainEndpointOptions,
  toControlPlaneError,
  toIsoTime,
  unwrap,
  type PlainEndpoint,
} from './google-api.js';

const v1 = protos.google.cloud.sql.v1;
type IOperation = protos.google.cloud.sql.v1.IOperation;
type IBackupRun = protos.google.cloud.sql.v1.IBackupRun;
type IBackup = protos.google.cloud.sql.v1.IBackup;
type IListBackupsResponse = protos.google.cloud.sql.v1.IListBackupsResponse;
/** Not exported by name from the package root in 0.25, only under `v1`. */
const SqlBackupsServiceClient = sqlV1.SqlBackupsServiceClient;
type SqlBackupsServiceClient = sqlV1.SqlBackupsServiceClient;
type IDatabaseInstance = protos.google.cloud.sql.v1.IDatabaseInstance;
type IBackupConfiguration = protos.google.cloud.sql.v1.IBackupConfiguration;

/** The generated clients the adapter calls. */
export interface CloudSqlClients {
  backupRuns: SqlBackupRunsServiceClient;
  backups: SqlBackupsServiceClient;
  instances: SqlInstancesServiceClient;
  operations: SqlOperationsServiceClient;
}

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

const BACKUP_RUN_STATUSES: readonly SqlBackupRunStatus[] = [
  'SQL_BACKUP_RUN_STATUS_UNSPECIFIED',
  'ENQUEUED',
  'OVERDUE',
  'RUNNING',
  'FAILED',
  'SUCCESSFUL',
  'SKIPPED',
  'DELETION_PENDING',
  'DELETION_FAILED',
  'DELETED',
];
const BACKUP_STATES: readonly SqlBackupState[] = [
  'SQL_BACKUP_STATE_UNSPECIFIED',
  'ENQUEUED',
  'RUNNING',
  'FAILED',
  'SUCCESSFUL',
  'DELETING',
  'DELETION_FAILED',
];
const BACKUP_TYPES: readonly SqlBackupType[] = ['SQL_BACKUP_TYPE_UNSPECIFIED', 'AUTOMATED', 'ON_DEMAND', 'FINAL'];
/** Pages of backups.list read for one instance's final backups before giving up (a guard against a token loop). */
const MAX_BACKUP_PAGES = 20;
const OPERATION_STATUSES: ReadonlyArray<SqlOperation['status']> = ['SQL_OPERATION_STATUS_UNSPECIFIED', 'PENDING', 'RUNNING', 'DONE'];
const INSTANCE_STATES: ReadonlyArray<SqlInstance['state']> = ['RUNNABLE', 'SUSPENDED', 'PENDING_DELETE', 'PENDING_CREATE', 'MAINTENANCE', 'FAILED'];

function required(what: string, path: string, value: unknown): string {
  const text = optionalString(value);
  if (text === undefined) throw malformedAnswer(what, path, 'missing', value);
  return text;
}

/** Maps an `Operation` of Cloud SQL Admin v1 to the port's type. */
export function toSqlOperation(what: string, op: IOperation, fallback: { project: string; instance?: string }): SqlOperation {
  const errors = (op.error?.errors ?? []).map((e) => ({ code: e.code ?? '', message: e.message ?? '' }));
  const backupId = int64String(op.backupContext?.backupId);
  const startTime = toIsoTime(op.startTime);
  const endTime = toIsoTime(op.endTime);
  const insertTime = toIsoTime(op.insertTime);
  if (insertTime === undefined) throw malformedAnswer(what, 'insertTime', 'missing', op.insertTime);
  return {
    name: required(what, 'name', op.name),
    status: oneOf(what, 'status', enumName(op.status, v1.Operation.SqlOperationStatus), OPERATION_STATUSES),
    operationType: required(what, 'operationType', enumName(op.operationType, v1.Operation.SqlOperationType)),
    targetId: optionalString(op.targetId) ?? fallback.instance ?? '',
    targetProject: optionalString(op.targetProject) ?? fallback.project,
    insertTime,
    ...(startTime === undefined ? {} : { startTime }),
    ...(endTime === undefined ? {} : { endTime }),
    ...(errors.length === 0 ? {} : { error: { errors } }),
    ...(backupId === undefined ? {} : { backupContext: { backupId } }),
  };
}

/** Maps a `BackupRun` of Cloud SQL Admin v1 to the port's type. */
export function toSqlBackupRun(what: string, run: IBackupRun, instance: string): SqlBackupRun {
  const id = int64String(run.id);
  if (id === undefined) throw malformedAnswer(what, 'id', 'missing', run.id);
  const enqueuedTime = toIsoTime(run.enqueuedTime);
  if (enqueuedTime === undefined) throw malformedAnswer(what, 'enqueuedTime', 'missing', run.enqueuedTime);
  const optional = {
    description: optionalString(run.description),
    windowStartTime: toIsoTime(run.windowStartTime),
    startTime: toIsoTime(run.startTime),
    endTime: toIsoTime(run.endTime),
    location: optionalString(run.location),
  };
  const kind = enumName(run.backupKind, v1.SqlBackupKind);
  const error = run.error && (optionalString(run.error.code) ?? optionalString(run.error.message)) !== undefined
    ? { code: run.error.code ?? '', message: run.error.message ?? '' }
    : undefined;
  return {
    kind: 'sql#backupRun',
    id,
    instance: optionalString(run.instance) ?? instance,
    status: oneOf(what, 'status', enumName(run.status, v1.SqlBackupRunStatus), BACKUP_RUN_STATUSES),
    type: runType(run.type),
    enqueuedTime,
    ...Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined)),
    ...(kind === 'SNAPSHOT' || kind === 'PHYSICAL' ? { backupKind: kind } : {}),
    ...(error === undefined ? {} : { error }),
  };
}

/** Maps a `Backup` resource of the Cloud SQL Admin v1 Backups API to the port's type. */
export function toSqlFinalBackup(what: string, backup: IBackup): SqlFinalBackup {
  const interval = {
    startTime: toIsoTime(backup.backupInterval?.startTime),
    endTime: toIsoTime(backup.backupInterval?.endTime),
  };
  const definedInterval = Object.fromEntries(Object.entries(interval).filter(([, value]) => value !== undefined));
  const optional = {
    description: optionalString(backup.description),
    location: optionalString(backup.location),
    expiryTime: toIsoTime(backup.expiryTime),
    instanceDeletionTime: toIsoTime(backup.instanceDeletionTime),
    databaseVersion: enumName(backup.databaseVersion, v1.SqlDatabaseVersion),
  };
  const kind = enumName(backup.backupKind, v1.SqlBackupKind);
  const error = backup.error && (optionalString(backup.error.code) ?? optionalString(backup.error.message)) !== undefined
    ? { code: backup.error.code ?? '', message: backup.error.message ?? '' }
    : undefined;
  const name = required(what, 'name', backup.name);
  if (!/^projects\/[^/]+\/backups\/[^/]+$/.test(name)) throw malformedAnswer(what, 'name', 'not projects/{project}/backups/{backup}', name);
  return {
    name,
    instance: required(what, 'instance', backup.instance),
    state: oneOf(what, 'state', enumName(backup.state, v1.Backup.SqlBackupState) ?? 'SQL_BACKUP_STATE_UNSPECIFIED', BACKUP_STATES),
    type: oneOf(what, 'type', enumName(backup.type, v1.Backup.SqlBackupType) ?? 'SQL_BACKUP_TYPE_UNSPECIFIED', BACKUP_TYPES),
    ...Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined && value !== 'SQL_DATABASE_VERSION_UNSPECIFIED')),
    ...(Object.keys(definedInterval).length === 0 ? {} : { backupInterval: definedInterval }),
    ...(kind === 'SNAPSHOT' || kind === 'PHYSICAL' ? { backupKind: kind } : {}),
    ...(error === undefined ? {} : { error }),
  };
}

/**
 * The filter of backups.list for one instance's final backups, in the syntax the reference
 * documents (`instance:abc AND type:FINAL`). What `:` matches is not documented precisely, so
 * the answer is filtered again on the exact instance and type.
 */
export function finalBackupsFilter(instance: string): string {
  return `instance:${instance} AND type:FINAL`;
}

/**
 * The reference also lists FINAL (taken when an instance is deleted), which this client's
 * SqlBackupRunType does not know: it arrives as its name when the service sends names, else
 * as UNSPECIFIED or a bare number. Only AUTOMATED runs count as the daily automated backups,
 * so anything unrecognised is an on-demand kind of run.
 */
function runType(value: unknown): SqlBackupRun['type'] {
  const name = enumName(value, v1.SqlBackupRunType);
  return name === 'AUTOMATED' || name === 'FINAL' ? name : 'ON_DEMAND';
}

/**
 * The port's backup configuration as the v1 request wants it. Its booleans and counts are
 * protobuf wrappers (`{value}`), which the REST transport writes as plain JSON values.
 */
export function fromBackupConfiguration(config: SqlBackupConfiguration): IBackupConfiguration {
  return {
    enabled: { value: config.enabled },
    ...(config.startTime === undefined ? {} : { startTime: config.startTime }),
    ...(config.location === undefined ? {} : { location: config.location }),
    pointInTimeRecoveryEnabled: { value: config.pointInTimeRecoveryEnabled },
    transactionLogRetentionDays: { value: config.transactionLogRetentionDays },
    backupRetentionSettings: { retentionUnit: 'COUNT', retainedBackups: { value: config.backupRetentionSettings.retainedBackups } },
  };
}

function toBackupConfiguration(what: string, config: protos.google.cloud.sql.v1.IBackupConfiguration | null | undefined): SqlBackupConfiguration {
  const retention = config?.backupRetentionSettings;
  const retainedBackups = unwrap(retention?.retainedBackups);
  const logDays = unwrap(config?.transactionLogRetentionDays);
  const startTime = optionalString(config?.startTime);
  const location = optionalString(config?.location);
  const unit = enumName(retention?.retentionUnit, v1.BackupRetentionSettings.RetentionUnit);
  // A missing unit is what an instance that never had settings answers; the API has only COUNT.
  if (unit !== undefined && unit !== 'COUNT' && unit !== 'RETENTION_UNIT_UNSPECIFIED') {
    throw malformedAnswer(what, 'settings.backupConfiguration.backupRetentionSettings.retentionUnit', 'not COUNT', unit);
  }
  return {
    enabled: unwrap(config?.enabled) === true,
    ...(startTime === undefined ? {} : { startTime }),
    ...(location === undefined ? {} : { location }),
    pointInTimeRecoveryEnabled: unwrap(config?.pointInTimeRecoveryEnabled) === true,
    transactionLogRetentionDays: typeof logDays === 'number' ? logDays : 0,
    backupRetentionSettings: { retentionUnit: 'COUNT', retainedBackups: typeof retainedBackups === 'number' ? retainedBackups : 0 },
  };
}

/** Maps a `DatabaseInstance` of Cloud SQL Admin v1 to the port's type. */
export function toSqlInstance(what: string, instance: IDatabaseInstance, project: string): SqlInstance {
  let state = enumName(instance.state, v1.DatabaseInstance.SqlInstanceState);
  // Newer states the port does not name are maintenance of one kind or another: the
  // instance is there but busy, which is what MAINTENANCE tells the domain.
  if (state === 'ONLINE_MAINTENANCE' || state === 'REPAIRING') state = 'MAINTENANCE';
  const createTime = toIsoTime(instance.createTime);
  return {
    name: required(what, 'name', instance.name),
    project: optionalString(instance.project) ?? project,
    region: optionalString(instance.region) ?? '',
    databaseVersion: required(what, 'databaseVersion', enumName(instance.databaseVersion, v1.SqlDatabaseVersion)),
    state: oneOf(what, 'state', state, INSTANCE_STATES),
    settings: {
      tier: optionalString(instance.settings?.tier) ?? '',
      backupConfiguration: toBackupConfiguration(what, instance.settings?.backupConfiguration),
    },
    ...(createTime === undefined ? {} : { createTime }),
  };
}

/** The `DatabaseInstance` body of instances.insert for the port's spec. */
export function fromInstanceSpec(spec: SqlInstanceSpec): IDatabaseInstance {
  // The client encodes enums from its own table: a version it does not know would be sent as
  // nothing at all, and the service would pick its default. Refuse it here instead.
  const versions: Readonly<Record<string, unknown>> = v1.SqlDatabaseVersion;
  if (typeof versions[spec.databaseVersion] !== 'number') {
    throw new ControlPlaneError('failed-precondition', `databaseVersion ${spec.databaseVersion} is not one this Cloud SQL client knows`, {
      details: { databaseVersion: spec.databaseVersion },
    });
  }
  return {
    name: spec.name,
    region: spec.region,
    databaseVersion: spec.databaseVersion as keyof typeof protos.google.cloud.sql.v1.SqlDatabaseVersion,
    settings: { tier: spec.tier, backupConfiguration: fromBackupConfiguration(spec.backupConfiguration) },
  };
}

/** The paging fields of a list request: only those the caller gave. */
function pagingOf(page: { pageToken?: string; maxResults?: number }): { pageToken?: string; maxResults?: number } {
  return {
    ...(page.maxResults === undefined ? {} : { maxResults: page.maxResults }),
    ...(page.pageToken === undefined ? {} : { pageToken: page.pageToken }),
  };
}

/** A page of mapped items, with the next token only when the API gave one. */
function pageOf<T>(items: T[], token: unknown): Page<T> {
  const nextPageToken = optionalString(token);
  return nextPageToken === undefined ? { items } : { items, nextPageToken };
}

/** Creates the Cloud SQL Admin adapter (REST transport, a deadline on every call). */
export function createCloudSqlAdapter(options: CloudSqlAdapterOptions = {}): CloudSqlPort & { close(): Promise<void> } {
  const ms = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const settings = clientOptions(options.endpoint);
  const backupRuns = options.clients?.backupRuns ?? new SqlBackupRunsServiceClient(settings);
  const backups = options.clients?.backups ?? new SqlBackupsServiceClient(settings);
  const instances = options.clients?.instances ?? new SqlInstancesServiceClient(settings);
  const operations = options.clients?.operations ?? new SqlOperationsServiceClient(settings);
  // gax's own timeout aborts the HTTP request when our deadline passes, so nothing is left
  // running behind a call we have given up on; retrying is the caller's business.
  const callOptions = { timeout: ms, retry: null };

  async function call<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await withDeadline(what, work, ms);
    } catch (error) {
      throw toControlPlaneError(what, error, { alreadyExists: 'conflict' });
    }
  }

  /** undefined for 404: for a get, "no such thing" is an answer. */
  async function get<T>(what: string, work: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call(what, work);
    } catch (error) {
      if (error instanceof ControlPlaneError && error.code === 'not-found') return undefined;
      throw error;
    }
  }

  return {
    async insertBackupRun(project, instance, body) {
      const what = `Cloud SQL backupRuns.insert ${project}/${instance}`;
      const [op] = await call(what, () => backupRuns.insert({ project, instance, body: { description: body.description } }, callOptions));
      return toSqlOperation(what, op, { project, instance });
    },

    async listBackupRuns(project, instance, page = {}) {
      const what = `Cloud SQL backupRuns.list ${project}/${instance}`;
      const [answer] = await call(what, () =>
        backupRuns.list(
          { project, instance, ...pagingOf(page) },
          callOptions,
        ),
      );
      return pageOf((answer.items ?? []).map((run) => toSqlBackupRun(what, run, instance)), answer.nextPageToken);
    },

    async getBackupRun(project, instance, id) {
      const what = `Cloud SQL backupRuns.get ${project}/${instance}/${id}`;
      const answer = await get(what, () => backupRuns.get({ project, instance, id }, callOptions));
      return answer === undefined ? undefined : toSqlBackupRun(what, answer[0], instance);
    },

    async listFinalBackups(project, instance) {
      const what = `Cloud SQL backups.list projects/${project} for the final backups of ${instance}`;
      const found: SqlFinalBackup[] = [];
      const seen = new Set<string>();
      let pageToken: string | undefined;
      for (let page = 0; page < MAX_BACKUP_PAGES; page += 1) {
        const request = { parent: `projects/${project}`, filter: finalBackupsFilter(instance), ...(pageToken === undefined ? {} : { pageToken }) };
        // One page per call (each under its own deadline): gax would otherwise walk every page
        // inside one promise and hand back only the items.
        const [, , raw] = await call(what, () => backups.listBackups(request, { ...callOptions, autoPaginate: false }));
        const answer: IListBackupsResponse = raw ?? {};
        for (const backup of answer.backups ?? []) {
          const mapped = toSqlFinalBackup(what, backup);
          if (mapped.instance === instance && mapped.type === 'FINAL') found.push(mapped);
        }
        pageToken = optionalString(answer.nextPageToken);
        if (pageToken === undefined) return found;
        if (seen.has(pageToken)) throw malformedAnswer(what, 'nextPageToken', 'repeats an earlier page token', pageToken);
        seen.add(pageToken);
      }
      throw new ControlPlaneError('internal', `${what}: more than ${MAX_BACKUP_PAGES} pages`, { retryable: false, details: { what } });
    },

    async getOperation(project, operation) {
      const what = `Cloud SQL operations.get ${project}/${operation}`;
      const answer = await get(what, () => operations.get({ project, operation }, callOptions));
      return answer === undefined ? undefined : toSqlOperation(what, answer[0], { project });
    },

    async listOperations(project, instance, page = {}) {
      const what = `Cloud SQL operations.list ${project}/${instance}`;
      const [answer] = await call(what, () =>
        operations.list(
          { project, instance, ...pagingOf(page) },
          callOptions,
        ),
      );
      return pageOf((answer.items ?? []).map((op) => toSqlOperation(what, op, { project, instance })), answer.nextPageToken);
    },

    async getInstance(project, instance) {
      const what = `Cloud SQL instances.get ${project}/${instance}`;
      const answer = await get(what, () => instances.get({ project, instance }, callOptions));
      return answer === undefined ? undefined : toSqlInstance(what, answer[0], project);
    },

    async deleteInstance(project, instance, options = {}) {
      const what = `Cloud SQL instances.delete ${project}/${instance}`;
      const final = options.finalBackup;
      // The v1 delete takes the final backup itself (enableFinalBackup, kept finalBackupTtlDays
      // after deletion), as a `projects/{p}/backups/{id}` resource rather than a backup run.
      const request = {
        project,
        instance,
        ...(final === undefined
          ? {}
          : { enableFinalBackup: true, finalBackupTtlDays: final.retentionDays, finalBackupDescription: final.description }),
      };
      const [op] = await call(what, () => instances.delete(request, callOptions));
      return toSqlOperation(what, op, { project, instance });
    },

    async patchBackupConfiguration(project, instance, configuration) {
      const what = `Cloud SQL instances.patch ${project}/${instance}`;
      // A patch body names only what changes: the rest of the settings are left as they are.
      const body: IDatabaseInstance = { settings: { backupConfiguration: fromBackupConfiguration(configuration) } };
      const [op] = await call(what, () => instances.patch({ project, instance, body }, callOptions));
      return toSqlOperation(what, op, { project, instance });
    },

    async restoreBackup(project, targetInstance, source) {
      const what = `Cloud SQL instances.restoreBackup ${project}/${targetInstance} from ${source.project}/${source.instance}/${source.backupRunId}`;
      const body = { restoreBackupContext: { backupRunId: source.backupRunId, instanceId: source.instance, project: source.project } };
      const [op] = await call(what, () => instances.restoreBackup({ project, instance: targetInstance, body }, callOptions));
      return toSqlOperation(what, op, { project, instance: targetInstance });
    },

    async cloneInstance(project, instance, body) {
      const what = `Cloud SQL instances.clone ${project}/${instance} to ${body.destinationInstanceName} at ${body.pointInTime}`;
      const at = Date.parse(body.pointInTime);
      if (Number.isNaN(at)) {
        throw new ControlPlaneError('failed-precondition', `${what}: pointInTime is not an RFC 3339 time`, { details: { what } });
      }
      const pointInTime = { seconds: Math.floor(at / 1000), nanos: (at % 1000) * 1_000_000 };
      const request = { project, instance, body: { cloneContext: { destinationInstanceName: body.destinationInstanceName, pointInTime } } };
      const [op] = await call(what, () => instances.clone(request, callOptions));
      return toSqlOperation(what, op, { project, instance });
    },

    async insertInstance(project, spec) {
      const what = `Cloud SQL instances.insert ${project}/${spec.name}`;
      const [op] = await call(what, () => instances.insert({ project, body: fromInstanceSpec(spec) }, callOptions));
      return toSqlOperation(what, op, { project, instance: spec.name });
    },

    async getLatestRecoveryTime(project, instance) {
      const what = `Cloud SQL instances.getLatestRecoveryTime ${project}/${instance}`;
      const [answer] = await call(what, () => instances.getLatestRecoveryTime({ project, instance }, callOptions));
      // An instance without point-in-time recovery has no latest recovery time to give.
      return toIsoTime(answer.latestRecoveryTime);
    },

    async close() {
      await Promise.all([backupRuns.close(), backups.close(), instances.close(), operations.close()]);
    },
  };
}

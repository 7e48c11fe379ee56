/**
 * Cloud SQL Admin v1 backup runs (what an on-demand or automated backup is) and Backups API
 * backups (the final backups an instance delete leaves), mapped to the port's types, and the
 * port's methods on them.
 */
import { protos } from '@google-cloud/sql';
import { ControlPlaneError } from '../errors.js';
import type { CloudSqlPort, SqlBackupRun, SqlBackupRunStatus, SqlBackupState, SqlBackupType, SqlFinalBackup } from '../ports.js';
import { pageOf, pagingOf, required, type CloudSqlClients, type SqlCalls } from './cloud-sql-calls.js';
import { toSqlOperation } from './cloud-sql-operations.js';
import { enumName, int64String, malformedAnswer, oneOf, optionalString, toIsoTime } from './google-api.js';

const v1 = protos.google.cloud.sql.v1;
type IBackupRun = protos.google.cloud.sql.v1.IBackupRun;
type IBackup = protos.google.cloud.sql.v1.IBackup;
type IListBackupsResponse = protos.google.cloud.sql.v1.IListBackupsResponse;

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

/** The port's backup-run and final-backup methods on those two clients. */
export function backupMethods(
  clients: Pick<CloudSqlClients, 'backupRuns' | 'backups'>,
  calls: SqlCalls,
): Pick<CloudSqlPort, 'insertBackupRun' | 'listBackupRuns' | 'getBackupRun' | 'listFinalBackups'> {
  const { backupRuns, backups } = clients;
  return {
    async insertBackupRun(project, instance, body) {
      const what = `Cloud SQL backupRuns.insert ${project}/${instance}`;
      const [op] = await calls.call(what, () => backupRuns.insert({ project, instance, body: { description: body.description } }, calls.options));
      return toSqlOperation(what, op, { project, instance });
    },

    async listBackupRuns(project, instance, page = {}) {
      const what = `Cloud SQL backupRuns.list ${project}/${instance}`;
      const [answer] = await calls.call(what, () => backupRuns.list({ project, instance, ...pagingOf(page) }, calls.options));
      return pageOf((answer.items ?? []).map((run) => toSqlBackupRun(what, run, instance)), answer.nextPageToken);
    },

    async getBackupRun(project, instance, id) {
      const what = `Cloud SQL backupRuns.get ${project}/${instance}/${id}`;
      const answer = await calls.get(what, () => backupRuns.get({ project, instance, id }, calls.options));
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
        const [, , raw] = await calls.call(what, () => backups.listBackups(request, { ...calls.options, autoPaginate: false }));
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
  };
}

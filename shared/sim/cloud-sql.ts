/**
 * Cloud SQL Admin v1, in process. Work takes simulated time: a backup run is ENQUEUED, then
 * RUNNING, then SUCCESSFUL or FAILED, computed from the clock whenever it is read; every
 * mutation returns an Operation that goes PENDING, RUNNING, DONE. Like the real service,
 * every insert makes a new run, a running operation makes other mutations answer 409, and
 * deleting an instance takes its ordinary backups with it.
 *
 * FINAL backups: as on the real API, the final backup a delete takes is a Backup resource
 * `projects/{p}/backups/{id}` of the project, answered by `listFinalBackups` (the Backups API's
 * list on the project, filtered to one instance and type FINAL): while the delete runs, then
 * after the instance is gone until its retention (counted from the deletion) has passed by
 * the clock. Inside, it is kept as the run the delete started; while the instance still
 * exists (during its delete) that run is also among its backup runs, but once the instance
 * is gone `listBackupRuns` answers 404 and `getBackupRun` nothing, as backupRuns.* on a
 * deleted instance do, and `restoreBackup` cannot name it by run id (the real API restores a
 * final backup by its Backup name, which this port does not offer yet).
 */
import { randomUUID } from 'node:crypto';
import { ControlPlaneError } from '../errors.js';
import type {
  Clock,
  CloudSqlPort,
  Page,
  SqlBackupConfiguration,
  SqlBackupRun,
  SqlBackupRunStatus,
  SqlBackupState,
  SqlFinalBackup,
  SqlInstance,
  SqlInstanceSpec,
  SqlOperation,
} from '../ports.js';
import { SQL_BACKUP_POLICY } from '../domain/lifecycle/backup-policy.js';
import { exportWithFaults, importWithFaults, type SimState } from './state.js';
import { FaultInjector, type ServiceErrorStyle } from './faults.js';
import { pageOf } from './paging.js';

export type CloudSqlMethod = keyof CloudSqlPort;

export interface SqlDurations {
  /** From insert until the run starts (ENQUEUED, operation PENDING). */
  backupEnqueuedMs: number;
  /** From start until the run ends (RUNNING, operation RUNNING). */
  backupRunMs: number;
  /** From delete (or the end of its final backup) until the instance and its backups are gone. */
  deleteMs: number;
  /** How long other operations stay PENDING before they run. */
  operationQueuedMs: number;
  /** instances.insert and instances.clone: until the new instance is RUNNABLE. */
  createMs: number;
  /** instances.patch of the backup configuration. */
  patchMs: number;
  /** instances.restoreBackup. */
  restoreMs: number;
}

export const DEFAULT_SQL_DURATIONS: SqlDurations = {
  backupEnqueuedMs: 10_000,
  backupRunMs: 120_000,
  deleteMs: 60_000,
  operationQueuedMs: 2_000,
  createMs: 300_000,
  patchMs: 30_000,
  restoreMs: 300_000,
};

export const SQL_DEFAULT_PAGE_SIZE = 100;
const SQL_MAX_PAGE_SIZE = 1000;
const DAY_MS = 86_400_000;
/** How far the latest recovery time lags the clock: the last transaction log not yet archived. */
export const SQL_RECOVERY_LAG_MS = 60_000;
/** A seeded instance existed this long before it was seeded, unless told otherwise. */
const SEEDED_AGE_MS = 30 * DAY_MS;
/** Retention of a FINAL run seeded without one. */
const DEFAULT_FINAL_RETENTION_DAYS = 30;
/** Cloud SQL instance ids: lowercase letters, digits and hyphens, a letter first. */
const INSTANCE_NAME_PATTERN = /^[a-z]([a-z0-9-]{0,96}[a-z0-9])?$/;

export interface SqlInstanceSeed {
  project: string;
  name: string;
  region: string;
  databaseVersion?: string;
  tier?: string;
  state?: SqlInstance['state'];
  backupConfiguration?: Partial<SqlBackupConfiguration>;
  /** Default: 30 days before the clock's now (a seeded instance already existed). */
  createTime?: Date | string;
  /** `settings.deletionProtectionEnabled` (absent: the API's default, off). */
  deletionProtection?: boolean;
}

/** An AUTOMATED run that already happened (for compliance checks); its status does not change. */
export interface SeededBackupRun {
  endTime: Date | string;
  status?: SqlBackupRunStatus;
  startTime?: Date | string;
  type?: SqlBackupRun['type'];
  description?: string;
}

/** The policy of the design (the domain's): daily, point-in-time recovery kept 7 days. */
export const COMPLIANT_SQL_BACKUP_CONFIGURATION: SqlBackupConfiguration = SQL_BACKUP_POLICY;

/** Where an instance's data came from, once the restore or clone that wrote it has finished. */
export interface SqlRestoredFrom {
  project: string;
  instance: string;
  backupRunId: string;
  /** When the restore finished. */
  at: string;
}

export interface SqlClonedFrom {
  project: string;
  instance: string;
  pointInTime: string;
  /** When the clone finished. */
  at: string;
}

interface RunRecord {
  id: string;
  seq: number;
  type: SqlBackupRun['type'];
  description?: string | undefined;
  enqueuedAt: number;
  startAt: number;
  endAt: number;
  outcome: 'SUCCESSFUL' | 'FAILED';
  failure?: string | undefined;
  /** Seeded history keeps the status it was given. */
  fixedStatus?: SqlBackupRunStatus | undefined;
  location?: string | undefined;
  databaseVersion: string;
  /** FINAL runs: how many days they outlive their instance. */
  retainDays?: number | undefined;
}

/** A FINAL run of an instance that is gone, kept as a final Backup until its retention ends. */
interface RetainedRun {
  run: RunRecord;
  instance: string;
  deletedAt: number;
  expiresAt: number;
}

interface OperationRecord {
  name: string;
  seq: number;
  project: string;
  instance: string;
  operationType: string;
  insertAt: number;
  startAt: number;
  endAt: number;
  failure?: { code: string; message: string } | undefined;
  backupId?: string | undefined;
}

interface InstanceRecord {
  instance: SqlInstance;
  createdAt: number;
  /** PENDING_CREATE until then (insert, clone). */
  readyAt: number;
  runs: Map<string, RunRecord>;
  /** When the instance and its runs are gone (set by a delete). */
  goneAt?: number;
  scripted: Array<{ status: 'SUCCESSFUL' | 'FAILED'; reason: string }>;
  restoredFrom?: { source: { project: string; instance: string; backupRunId: string }; at: number };
  clonedFrom?: { project: string; instance: string; pointInTime: string; at: number };
}

const STYLE: ServiceErrorStyle = { service: 'sqladmin', conflictCode: 'conflict' };

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** How long a FINAL run outlives its instance. */
function retentionMs(run: RunRecord): number {
  return (run.retainDays ?? DEFAULT_FINAL_RETENTION_DAYS) * DAY_MS;
}

/** The Backup resource state of a run's status. */
function backupStateOf(status: SqlBackupRunStatus): SqlBackupState {
  switch (status) {
    case 'ENQUEUED':
    case 'OVERDUE':
      return 'ENQUEUED';
    case 'RUNNING':
    case 'SUCCESSFUL':
    case 'FAILED':
    case 'DELETION_FAILED':
      return status;
    case 'DELETION_PENDING':
      return 'DELETING';
    default:
      return 'SQL_BACKUP_STATE_UNSPECIFIED';
  }
}

function keyOf(project: string, instance: string): string {
  return `${project}/${instance}`;
}

function badRequest(message: string, reason: string): ControlPlaneError {
  return new ControlPlaneError('failed-precondition', message, { retryable: false, details: { httpStatus: 400, reason } });
}

/** The checks instances.insert and instances.patch make on a backup configuration. */
function validateBackupConfiguration(config: SqlBackupConfiguration): void {
  if (config.pointInTimeRecoveryEnabled && !config.enabled) {
    throw badRequest('point-in-time recovery needs automated backups enabled', 'invalidFlagValue');
  }
  if (config.pointInTimeRecoveryEnabled && !(Number.isInteger(config.transactionLogRetentionDays) && config.transactionLogRetentionDays >= 1 && config.transactionLogRetentionDays <= 35)) {
    throw badRequest(`transactionLogRetentionDays must be 1-35, got ${config.transactionLogRetentionDays}`, 'invalidFlagValue');
  }
  const kept = config.backupRetentionSettings.retainedBackups;
  if (config.enabled && !(Number.isInteger(kept) && kept >= 1 && kept <= 365)) {
    throw badRequest(`backupRetentionSettings.retainedBackups must be 1-365, got ${kept}`, 'invalidFlagValue');
  }
}

/** The fields exportState keeps. */
const SQL_STATE_FIELDS = ['instances', 'retained', 'operations', 'lastRunId', 'seq'] as const;

/** The simulated Cloud SQL Admin API; seed it with addInstance. */
export class SimulatedCloudSql implements CloudSqlPort {
  readonly faults = new FaultInjector<CloudSqlMethod>(STYLE);
  private readonly durations: SqlDurations;
  private readonly instances = new Map<string, InstanceRecord>();
  private readonly retained = new Map<string, RetainedRun[]>();
  private readonly operations = new Map<string, OperationRecord>();
  private lastRunId = 0;
  private seq = 0;

  /**
   * `whileBusy`: what a backup run, a restore or a patch on an instance that runs another
   * operation gets. 'refuse' (the default) answers 409 operationInProgress; 'queue' accepts
   * it as a PENDING operation that starts once the instance is free, as Cloud SQL queues some
   * work behind a busy instance.
   */
  constructor(private readonly options: { clock: Clock; durations?: Partial<SqlDurations>; whileBusy?: 'refuse' | 'queue' }) {
    this.durations = { ...DEFAULT_SQL_DURATIONS, ...options.durations };
  }

  /** Its world as plain data (state.ts): what a restart of the local stack must find. */
  exportState(): SimState {
    return exportWithFaults(this, SQL_STATE_FIELDS, this.faults);
  }

  /** Puts a world taken by exportState back. */
  importState(state: SimState): void {
    importWithFaults(this, SQL_STATE_FIELDS, this.faults, state);
  }

  // ------------------------------------------------------------------ test control

  /** Seeds an instance (RUNNABLE, with the compliant backup configuration unless told otherwise). */
  addInstance(seed: SqlInstanceSeed): SqlInstance {
    const key = keyOf(seed.project, seed.name);
    if (this.live(seed.project, seed.name) !== undefined) throw new Error(`Cloud SQL sim: instance ${key} already exists`);
    const now = this.now();
    const createdAt = seed.createTime === undefined ? now - SEEDED_AGE_MS : new Date(seed.createTime).getTime();
    const instance: SqlInstance = {
      name: seed.name,
      project: seed.project,
      region: seed.region,
      databaseVersion: seed.databaseVersion ?? 'POSTGRES_16',
      state: seed.state ?? 'RUNNABLE',
      settings: {
        tier: seed.tier ?? 'db-custom-2-7680',
        backupConfiguration: { ...COMPLIANT_SQL_BACKUP_CONFIGURATION, ...seed.backupConfiguration },
        ...(seed.deletionProtection === undefined ? {} : { deletionProtectionEnabled: seed.deletionProtection }),
      },
      createTime: iso(createdAt),
    };
    this.instances.set(key, { instance, createdAt, readyAt: createdAt, runs: new Map(), scripted: [] });
    return structuredClone(instance);
  }

  /** True when an instance of this name exists (even while it is being created or deleted). */
  hasInstance(project: string, instance: string): boolean {
    return this.live(project, instance) !== undefined;
  }

  /** Changes an instance's backup configuration, as drift made outside the control plane would. */
  setBackupConfiguration(project: string, instance: string, change: Partial<SqlBackupConfiguration>): void {
    const record = this.seeded(project, instance);
    record.instance.settings.backupConfiguration = { ...record.instance.settings.backupConfiguration, ...change };
  }

  /** Adds past runs (AUTOMATED unless told otherwise); returns their ids. */
  seedAutomatedBackups(project: string, instance: string, runs: readonly SeededBackupRun[]): string[] {
    const record = this.seeded(project, instance);
    return runs.map((run) => {
      const endAt = new Date(run.endTime).getTime();
      const startAt = run.startTime === undefined ? endAt - 10 * 60_000 : new Date(run.startTime).getTime();
      const status = run.status ?? 'SUCCESSFUL';
      const id = this.nextRunId(startAt);
      record.runs.set(id, {
        id,
        seq: this.nextSeq(),
        type: run.type ?? 'AUTOMATED',
        description: run.description,
        enqueuedAt: startAt,
        startAt,
        endAt,
        outcome: status === 'FAILED' ? 'FAILED' : 'SUCCESSFUL',
        failure: status === 'FAILED' ? 'seeded failure' : undefined,
        fixedStatus: status,
        location: this.backupLocation(record.instance),
        databaseVersion: record.instance.databaseVersion,
      });
      return id;
    });
  }

  /** The next backup run of this instance (a FINAL one included) ends with `status` (one script per run). */
  scriptBackupOutcome(project: string, instance: string, status: 'SUCCESSFUL' | 'FAILED', reason = 'simulated backup failure'): void {
    this.seeded(project, instance).scripted.push({ status, reason });
  }

  /** The outcomes scripted for the instance's next backup runs, in order (what `mi dev fault list` shows). */
  scriptedBackupOutcomes(project: string, instance: string): Array<{ status: 'SUCCESSFUL' | 'FAILED'; reason: string }> {
    return structuredClone(this.live(project, instance)?.scripted ?? []);
  }

  /** Forgets the outcomes scripted for the instance's next backup runs; returns how many there were. */
  clearScriptedBackupOutcomes(project: string, instance: string): number {
    const record = this.live(project, instance);
    const count = record?.scripted.length ?? 0;
    if (record !== undefined) record.scripted.length = 0;
    return count;
  }

  /** Starts another operation on the instance (maintenance, an update): mutations answer 409 until it ends. */
  startOperation(project: string, instance: string, options: { operationType?: string; durationMs: number }): SqlOperation {
    const record = this.seeded(project, instance);
    const now = this.now();
    const operation = this.recordOperation(record, options.operationType ?? 'UPDATE', now, now, now + options.durationMs);
    return this.toOperation(operation);
  }

  /** The backup run whose data the instance holds, once a restore into it has finished. */
  restoredFrom(project: string, instance: string): SqlRestoredFrom | undefined {
    const restored = this.live(project, instance)?.restoredFrom;
    if (restored === undefined || this.now() < restored.at) return undefined;
    return { ...restored.source, at: iso(restored.at) };
  }

  /** The instance and moment an instance was cloned from, once the clone has finished. */
  clonedFrom(project: string, instance: string): SqlClonedFrom | undefined {
    const cloned = this.live(project, instance)?.clonedFrom;
    if (cloned === undefined || this.now() < cloned.at) return undefined;
    return { project: cloned.project, instance: cloned.instance, pointInTime: cloned.pointInTime, at: iso(cloned.at) };
  }

  /**
   * Removes every instance of the project at once, as deleting the GCP project does: their
   * ordinary runs go, their FINAL runs stay for their retention. Returns the names removed.
   */
  removeProject(project: string): string[] {
    const now = this.now();
    const removed: string[] = [];
    for (const record of [...this.instances.values()]) {
      if (record.instance.project !== project) continue;
      record.goneAt = Math.min(record.goneAt ?? now, now);
      this.purge(record);
      removed.push(record.instance.name);
    }
    return removed;
  }

  /** Calls received by a method, including failed ones. */
  calls(method: CloudSqlMethod): number {
    return this.faults.calls(method);
  }

  // ------------------------------------------------------------------ the port

  insertBackupRun(project: string, instance: string, body: { description: string }): Promise<SqlOperation> {
    return this.faults.call('insertBackupRun', keyOf(project, instance), () => {
      const record = this.require(project, instance);
      const freeAt = this.queueOrRefuse(record);
      this.requireRunnable(record);
      const now = this.now();
      const run = this.startRun(record, 'ON_DEMAND', body.description, now, undefined, freeAt);
      const operation = this.recordOperation(record, 'BACKUP_VOLUME', now, run.startAt, run.endAt, {
        backupId: run.id,
        failure: run.outcome === 'FAILED' ? { code: 'BACKUP_FAILED', message: run.failure ?? 'backup failed' } : undefined,
      });
      return this.toOperation(operation);
    });
  }

  listBackupRuns(project: string, instance: string, page: { pageToken?: string; maxResults?: number } = {}): Promise<Page<SqlBackupRun>> {
    return this.faults.call('listBackupRuns', keyOf(project, instance), () => {
      // A deleted instance has no backup runs to list: the real API answers 404 (its final
      // backup is a Backup resource of the project: listFinalBackups).
      const record = this.require(project, instance);
      const result = pageOf(
        [...record.runs.values()],
        (run) => [-run.enqueuedAt, -run.seq],
        { service: STYLE.service, scope: `backupRuns:${keyOf(project, instance)}`, defaultSize: SQL_DEFAULT_PAGE_SIZE, maxSize: SQL_MAX_PAGE_SIZE },
        { pageToken: page.pageToken, size: page.maxResults },
      );
      return { ...result, items: result.items.map((run) => this.toBackupRun(instance, run)) };
    });
  }

  getBackupRun(project: string, instance: string, id: string): Promise<SqlBackupRun | undefined> {
    return this.faults.call('getBackupRun', keyOf(project, instance), () => {
      const found = this.findRun(project, instance, id);
      return found === undefined ? undefined : this.toBackupRun(instance, found);
    });
  }

  listFinalBackups(project: string, instance: string): Promise<SqlFinalBackup[]> {
    return this.faults.call('listFinalBackups', keyOf(project, instance), () => {
      const record = this.live(project, instance);
      const entries: Array<{ run: RunRecord; deletedAt?: number | undefined; expiresAt?: number | undefined }> = [
        ...this.retainedRuns(project, instance).map((kept) => ({ run: kept.run, deletedAt: kept.deletedAt, expiresAt: kept.expiresAt })),
        // The final run of a delete still under way (and a failed one, which kept the instance).
        ...[...(record?.runs.values() ?? [])]
          .filter((run) => run.type === 'FINAL')
          .map((run) => ({ run, expiresAt: record?.goneAt === undefined ? undefined : record.goneAt + retentionMs(run) })),
      ];
      return entries
        .sort((a, b) => b.run.enqueuedAt - a.run.enqueuedAt || b.run.seq - a.run.seq)
        .map((entry) => this.toFinalBackup(project, instance, entry.run, entry));
    });
  }

  getOperation(project: string, operation: string): Promise<SqlOperation | undefined> {
    return this.faults.call('getOperation', `${project}/operations/${operation}`, () => {
      const record = this.operations.get(operation);
      return record === undefined || record.project !== project ? undefined : this.toOperation(record);
    });
  }

  listOperations(project: string, instance: string, page: { pageToken?: string; maxResults?: number } = {}): Promise<Page<SqlOperation>> {
    return this.faults.call('listOperations', keyOf(project, instance), () => {
      this.require(project, instance);
      const mine = [...this.operations.values()].filter((op) => op.project === project && op.instance === instance);
      const result = pageOf(
        mine,
        (op) => [-op.insertAt, -op.seq],
        { service: STYLE.service, scope: `operations:${keyOf(project, instance)}`, defaultSize: SQL_DEFAULT_PAGE_SIZE, maxSize: SQL_MAX_PAGE_SIZE },
        { pageToken: page.pageToken, size: page.maxResults },
      );
      return { ...result, items: result.items.map((op) => this.toOperation(op)) };
    });
  }

  getInstance(project: string, instance: string): Promise<SqlInstance | undefined> {
    return this.faults.call('getInstance', keyOf(project, instance), () => {
      const record = this.live(project, instance);
      if (record === undefined) return undefined;
      const view = structuredClone(record.instance);
      view.state = this.stateOf(record);
      return view;
    });
  }

  deleteInstance(
    project: string,
    instance: string,
    options: { finalBackup?: { retentionDays: number; description: string } } = {},
  ): Promise<SqlOperation> {
    return this.faults.call('deleteInstance', keyOf(project, instance), () => {
      const record = this.require(project, instance);
      // As the Admin API: a protected instance is refused outright, whatever else is asked.
      if (record.instance.settings.deletionProtectionEnabled === true) {
        throw badRequest(`The instance ${instance} is protected from deletion: turn deletion protection off first.`, 'invalidFlagValue');
      }
      this.refuseWhileBusy(record);
      const now = this.now();
      const final = options.finalBackup;
      if (final === undefined) {
        const endAt = now + this.durations.deleteMs;
        record.goneAt = endAt;
        return this.toOperation(this.recordOperation(record, 'DELETE', now, now, endAt));
      }
      if (!(Number.isInteger(final.retentionDays) && final.retentionDays >= 1 && final.retentionDays <= 365)) {
        throw badRequest(`finalBackupTtlDays must be 1-365, got ${final.retentionDays}`, 'invalidFlagValue');
      }
      this.requireRunnable(record);
      // The final backup is taken first; the instance goes only once it has succeeded. A
      // failed final backup fails the delete and leaves the instance in place.
      const run = this.startRun(record, 'FINAL', final.description, now, final.retentionDays);
      if (run.outcome === 'FAILED') {
        return this.toOperation(
          this.recordOperation(record, 'DELETE', now, now, run.endAt, { failure: { code: 'BACKUP_FAILED', message: run.failure ?? 'final backup failed' } }),
        );
      }
      const endAt = run.endAt + this.durations.deleteMs;
      record.goneAt = endAt;
      return this.toOperation(this.recordOperation(record, 'DELETE', now, now, endAt));
    });
  }

  setDeletionProtection(project: string, instance: string, enabled: boolean): Promise<SqlOperation> {
    return this.faults.call('setDeletionProtection', keyOf(project, instance), () => {
      const record = this.require(project, instance);
      const freeAt = this.queueOrRefuse(record);
      const now = this.now();
      record.instance.settings.deletionProtectionEnabled = enabled;
      const startAt = Math.max(now + this.durations.operationQueuedMs, freeAt);
      return this.toOperation(this.recordOperation(record, 'UPDATE', now, startAt, startAt + this.durations.patchMs));
    });
  }

  patchBackupConfiguration(project: string, instance: string, configuration: SqlBackupConfiguration): Promise<SqlOperation> {
    return this.faults.call('patchBackupConfiguration', keyOf(project, instance), () => {
      const record = this.require(project, instance);
      const freeAt = this.queueOrRefuse(record);
      validateBackupConfiguration(configuration);
      const now = this.now();
      // Applied at once: the UPDATE operation that follows keeps other mutations out meanwhile.
      record.instance.settings.backupConfiguration = structuredClone(configuration);
      const startAt = Math.max(now + this.durations.operationQueuedMs, freeAt);
      return this.toOperation(this.recordOperation(record, 'UPDATE', now, startAt, startAt + this.durations.patchMs));
    });
  }

  restoreBackup(project: string, targetInstance: string, source: { project: string; instance: string; backupRunId: string }): Promise<SqlOperation> {
    return this.faults.call('restoreBackup', keyOf(project, targetInstance), () => {
      const record = this.require(project, targetInstance);
      const run = this.findRun(source.project, source.instance, source.backupRunId);
      if (run === undefined) {
        throw new ControlPlaneError('not-found', `backup run ${source.backupRunId} of ${keyOf(source.project, source.instance)} does not exist`, {
          details: { httpStatus: 404, reason: 'backupRunNotFound', ...source },
        });
      }
      const status = this.runStatus(run);
      if (status !== 'SUCCESSFUL') {
        throw badRequest(`backup run ${source.backupRunId} is ${status}: only a SUCCESSFUL run can be restored`, 'backupRunNotSuccessful');
      }
      const freeAt = this.queueOrRefuse(record);
      this.requireRunnable(record);
      if (run.databaseVersion !== record.instance.databaseVersion) {
        throw badRequest(
          `backup run ${source.backupRunId} is of ${run.databaseVersion}; the target ${targetInstance} runs ${record.instance.databaseVersion}`,
          'incompatibleDatabaseVersion',
        );
      }
      const now = this.now();
      const startAt = Math.max(now + this.durations.operationQueuedMs, freeAt);
      const endAt = startAt + this.durations.restoreMs;
      record.restoredFrom = { source: { ...source }, at: endAt };
      return this.toOperation(this.recordOperation(record, 'RESTORE_VOLUME', now, startAt, endAt));
    });
  }

  cloneInstance(project: string, instance: string, body: { destinationInstanceName: string; pointInTime: string }): Promise<SqlOperation> {
    return this.faults.call('cloneInstance', keyOf(project, instance), () => {
      const record = this.require(project, instance);
      this.refuseWhileBusy(record);
      this.requireRunnable(record);
      this.refuseTakenName(project, body.destinationInstanceName);
      const config = record.instance.settings.backupConfiguration;
      if (!config.pointInTimeRecoveryEnabled) {
        throw badRequest(`point-in-time recovery is not enabled on ${instance}`, 'pointInTimeRecoveryDisabled');
      }
      const at = Date.parse(body.pointInTime);
      if (Number.isNaN(at)) throw badRequest(`pointInTime ${JSON.stringify(body.pointInTime)} is not an RFC 3339 time`, 'invalidPointInTime');
      const now = this.now();
      const earliest = Math.max(record.createdAt, now - config.transactionLogRetentionDays * DAY_MS);
      const latest = this.latestRecoveryMs(record);
      if (at < earliest || at > latest) {
        throw badRequest(
          `pointInTime ${iso(at)} is outside the recovery window ${iso(earliest)} - ${iso(latest)} of ${instance}`,
          'pointInTimeOutOfRange',
        );
      }
      const startAt = now + this.durations.operationQueuedMs;
      const endAt = startAt + this.durations.createMs;
      const clone = this.createRecord(project, {
        name: body.destinationInstanceName,
        region: record.instance.region,
        databaseVersion: record.instance.databaseVersion,
        tier: record.instance.settings.tier,
        backupConfiguration: structuredClone(config),
      }, now, endAt);
      clone.clonedFrom = { project, instance, pointInTime: iso(at), at: endAt };
      // The operation belongs to the new instance, which is busy until it exists.
      return this.toOperation(this.recordOperation(clone, 'CLONE', now, startAt, endAt));
    });
  }

  insertInstance(project: string, spec: SqlInstanceSpec): Promise<SqlOperation> {
    return this.faults.call('insertInstance', keyOf(project, spec.name), () => {
      if (!INSTANCE_NAME_PATTERN.test(spec.name)) {
        throw badRequest(`instance name ${JSON.stringify(spec.name)} is invalid: use lowercase letters, digits and hyphens, starting with a letter`, 'invalidParameter');
      }
      this.refuseTakenName(project, spec.name);
      validateBackupConfiguration(spec.backupConfiguration);
      const now = this.now();
      const startAt = now + this.durations.operationQueuedMs;
      const endAt = startAt + this.durations.createMs;
      const record = this.createRecord(project, spec, now, endAt);
      return this.toOperation(this.recordOperation(record, 'CREATE', now, startAt, endAt));
    });
  }

  getLatestRecoveryTime(project: string, instance: string): Promise<string | undefined> {
    return this.faults.call('getLatestRecoveryTime', keyOf(project, instance), () => {
      const record = this.require(project, instance);
      if (!record.instance.settings.backupConfiguration.pointInTimeRecoveryEnabled) return undefined;
      return iso(this.latestRecoveryMs(record));
    });
  }

  // ------------------------------------------------------------------ internals

  private now(): number {
    return this.options.clock.now().getTime();
  }

  private nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  /** Real run ids are int64 millisecond-like numbers; they only ever grow. */
  private nextRunId(atMs: number): string {
    this.lastRunId = Math.max(this.lastRunId + 1, atMs);
    return String(this.lastRunId);
  }

  /** Deterministic: the clock minus a fixed lag, never before the instance existed. */
  private latestRecoveryMs(record: InstanceRecord): number {
    return Math.max(record.createdAt, this.now() - SQL_RECOVERY_LAG_MS);
  }

  private stateOf(record: InstanceRecord): SqlInstance['state'] {
    if (record.goneAt !== undefined) return 'PENDING_DELETE';
    if (this.now() < record.readyAt) return 'PENDING_CREATE';
    return record.instance.state;
  }

  private isGone(record: InstanceRecord): boolean {
    return record.goneAt !== undefined && this.now() >= record.goneAt;
  }

  /** Forgets a gone instance: its ordinary runs go with it, its FINAL runs are kept for their retention. */
  private purge(record: InstanceRecord): void {
    const key = keyOf(record.instance.project, record.instance.name);
    const goneAt = record.goneAt ?? this.now();
    const kept = this.retained.get(key) ?? [];
    for (const run of record.runs.values()) {
      if (run.type !== 'FINAL' || this.runStatus(run) !== 'SUCCESSFUL') continue;
      kept.push({ run, instance: record.instance.name, deletedAt: goneAt, expiresAt: goneAt + retentionMs(run) });
    }
    if (kept.length > 0) this.retained.set(key, kept);
    this.instances.delete(key);
  }

  /** The instance unless it does not exist (or its delete has finished). */
  private live(project: string, instance: string): InstanceRecord | undefined {
    const record = this.instances.get(keyOf(project, instance));
    if (record === undefined) return undefined;
    if (this.isGone(record)) {
      // The ordinary backup runs go with the instance: nothing about them can be read again.
      this.purge(record);
      return undefined;
    }
    return record;
  }

  /** FINAL runs of deleted instances of this name whose retention has not ended. */
  private retainedRuns(project: string, instance: string): RetainedRun[] {
    this.live(project, instance); // settles a delete that has just finished
    const key = keyOf(project, instance);
    const now = this.now();
    const kept = (this.retained.get(key) ?? []).filter((entry) => entry.expiresAt > now);
    if (kept.length === 0) this.retained.delete(key);
    else this.retained.set(key, kept);
    return kept;
  }

  /** A run of an existing instance: the runs of a deleted one cannot be read by id any more. */
  private findRun(project: string, instance: string, id: string): RunRecord | undefined {
    return this.live(project, instance)?.runs.get(id);
  }

  private notFound(project: string, instance: string): ControlPlaneError {
    return new ControlPlaneError('not-found', `Cloud SQL instance ${instance} does not exist in project ${project}`, {
      details: { httpStatus: 404, reason: 'instanceDoesNotExist', project, instance },
    });
  }

  private require(project: string, instance: string): InstanceRecord {
    const record = this.live(project, instance);
    if (record === undefined) throw this.notFound(project, instance);
    return record;
  }

  /** For test control: a misuse is a bug in the test, so it is a plain Error. */
  private seeded(project: string, instance: string): InstanceRecord {
    const record = this.live(project, instance);
    if (record === undefined) throw new Error(`Cloud SQL sim: no instance ${keyOf(project, instance)}; seed it with addInstance first`);
    return record;
  }

  private requireRunnable(record: InstanceRecord): void {
    const state = this.stateOf(record);
    if (state !== 'RUNNABLE') {
      throw new ControlPlaneError('failed-precondition', `instance ${record.instance.name} is ${state}, not RUNNABLE`, {
        details: { httpStatus: 400, reason: 'invalidState' },
      });
    }
  }

  /** The real API answers 409 for a name in use; our adapters map Cloud SQL's 409 to `conflict`. */
  private refuseTakenName(project: string, name: string): void {
    if (this.live(project, name) === undefined) return;
    throw new ControlPlaneError('conflict', `The Cloud SQL instance ${name} already exists in project ${project}.`, {
      details: { httpStatus: 409, reason: 'instanceAlreadyExists', project, instance: name },
    });
  }

  /** In queue mode, when the instance is free (now when it is); otherwise a 409 while it is busy. */
  private queueOrRefuse(record: InstanceRecord): number {
    const now = this.now();
    if (this.options.whileBusy !== 'queue') {
      this.refuseWhileBusy(record);
      return now;
    }
    return [...this.operations.values()]
      .filter((op) => op.project === record.instance.project && op.instance === record.instance.name)
      .reduce((free, op) => Math.max(free, op.endAt), now);
  }

  private refuseWhileBusy(record: InstanceRecord): void {
    const now = this.now();
    const running = [...this.operations.values()].find(
      (op) => op.project === record.instance.project && op.instance === record.instance.name && now < op.endAt,
    );
    if (running !== undefined) {
      throw new ControlPlaneError(
        'conflict',
        'Operation failed because another operation was already in progress. Try your request after the current operation is complete.',
        { details: { httpStatus: 409, reason: 'operationInProgress', operation: running.name, operationType: running.operationType } },
      );
    }
  }

  private createRecord(project: string, spec: SqlInstanceSpec, createdAt: number, readyAt: number): InstanceRecord {
    const record: InstanceRecord = {
      instance: {
        name: spec.name,
        project,
        region: spec.region,
        databaseVersion: spec.databaseVersion,
        state: 'RUNNABLE',
        settings: { tier: spec.tier, backupConfiguration: structuredClone(spec.backupConfiguration) },
        createTime: iso(createdAt),
      },
      createdAt,
      readyAt,
      runs: new Map(),
      scripted: [],
    };
    this.instances.set(keyOf(project, spec.name), record);
    return record;
  }

  /** A new run that takes the next scripted outcome of the instance. */
  private startRun(record: InstanceRecord, type: SqlBackupRun['type'], description: string, now: number, retainDays?: number, freeAt = now): RunRecord {
    const startAt = Math.max(now + this.durations.backupEnqueuedMs, freeAt);
    const script = record.scripted.shift();
    const run: RunRecord = {
      id: this.nextRunId(now),
      seq: this.nextSeq(),
      type,
      description,
      enqueuedAt: now,
      startAt,
      endAt: startAt + this.durations.backupRunMs,
      outcome: script?.status ?? 'SUCCESSFUL',
      failure: script?.status === 'FAILED' ? script.reason : undefined,
      location: this.backupLocation(record.instance),
      databaseVersion: record.instance.databaseVersion,
      retainDays,
    };
    record.runs.set(run.id, run);
    return run;
  }

  private recordOperation(
    record: InstanceRecord,
    operationType: string,
    insertAt: number,
    startAt: number,
    endAt: number,
    extra: { backupId?: string; failure?: { code: string; message: string } | undefined } = {},
  ): OperationRecord {
    const operation: OperationRecord = {
      name: randomUUID(),
      seq: this.nextSeq(),
      project: record.instance.project,
      instance: record.instance.name,
      operationType,
      insertAt,
      startAt,
      endAt,
      failure: extra.failure,
      backupId: extra.backupId,
    };
    this.operations.set(operation.name, operation);
    return operation;
  }

  private backupLocation(instance: SqlInstance): string {
    return instance.settings.backupConfiguration.location ?? instance.region.split('-')[0] ?? instance.region;
  }

  private toOperation(op: OperationRecord): SqlOperation {
    const now = this.now();
    const status: SqlOperation['status'] = now < op.startAt ? 'PENDING' : now < op.endAt ? 'RUNNING' : 'DONE';
    return {
      name: op.name,
      status,
      operationType: op.operationType,
      targetId: op.instance,
      targetProject: op.project,
      insertTime: iso(op.insertAt),
      ...(status === 'PENDING' ? {} : { startTime: iso(op.startAt) }),
      ...(status === 'DONE' ? { endTime: iso(op.endAt) } : {}),
      ...(status === 'DONE' && op.failure !== undefined ? { error: { errors: [{ ...op.failure }] } } : {}),
      ...(op.backupId === undefined ? {} : { backupContext: { backupId: op.backupId } }),
    };
  }

  private runStatus(run: RunRecord): SqlBackupRunStatus {
    const now = this.now();
    return run.fixedStatus ?? (now < run.startAt ? 'ENQUEUED' : now < run.endAt ? 'RUNNING' : run.outcome);
  }

  private toFinalBackup(project: string, instance: string, run: RunRecord, when: { deletedAt?: number | undefined; expiresAt?: number | undefined }): SqlFinalBackup {
    const status = this.runStatus(run);
    const started = status !== 'ENQUEUED' && status !== 'SQL_BACKUP_RUN_STATUS_UNSPECIFIED';
    const succeeded = status === 'SUCCESSFUL';
    return {
      name: `projects/${project}/backups/${run.id}`,
      instance,
      ...(run.description === undefined ? {} : { description: run.description }),
      state: backupStateOf(status),
      type: 'FINAL',
      backupKind: 'SNAPSHOT',
      ...(run.location === undefined ? {} : { location: run.location }),
      ...(started ? { backupInterval: { startTime: iso(run.startAt), ...(succeeded ? { endTime: iso(run.endAt) } : {}) } } : {}),
      ...(when.expiresAt === undefined ? {} : { expiryTime: iso(when.expiresAt) }),
      ...(when.deletedAt === undefined ? {} : { instanceDeletionTime: iso(when.deletedAt) }),
      databaseVersion: run.databaseVersion,
      ...(status === 'FAILED' ? { error: { code: 'BACKUP_FAILED', message: run.failure ?? 'backup failed' } } : {}),
    };
  }

  private toBackupRun(instance: string, run: RunRecord): SqlBackupRun {
    const status = this.runStatus(run);
    const started = status !== 'ENQUEUED' && status !== 'SQL_BACKUP_RUN_STATUS_UNSPECIFIED';
    const ended = status === 'SUCCESSFUL' || status === 'FAILED' || status.startsWith('DELET') || status === 'SKIPPED';
    return {
      kind: 'sql#backupRun',
      id: run.id,
      instance,
      status,
      type: run.type,
      ...(run.description === undefined ? {} : { description: run.description }),
      enqueuedTime: iso(run.enqueuedAt),
      windowStartTime: iso(run.enqueuedAt),
      ...(started ? { startTime: iso(run.startAt) } : {}),
      ...(ended ? { endTime: iso(run.endAt) } : {}),
      ...(run.location === undefined ? {} : { location: run.location }),
      backupKind: 'SNAPSHOT',
      ...(status === 'FAILED' ? { error: { code: 'BACKUP_FAILED', message: run.failure ?? 'backup failed' } } : {}),
    };
  }
}

/**
 * Cloud SQL Admin v1, in process. Work takes simulated time: a backup run is ENQUEUED, then
 * RUNNING, then SUCCESSFUL or FAILED, computed from the clock whenever it is read. Like the
 * real service, every insert makes a new run, a running operation makes other mutations
 * answer 409, and deleting an instance takes its ordinary backups with it.
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
  SqlInstance,
  SqlOperation,
} from '../ports.js';
import { FaultInjector, type ServiceErrorStyle } from './faults.js';
import { pageOf } from './paging.js';

export type CloudSqlMethod = keyof CloudSqlPort;

export interface SqlDurations {
  /** From insert until the run starts (ENQUEUED, operation PENDING). */
  backupEnqueuedMs: number;
  /** From start until the run ends (RUNNING, operation RUNNING). */
  backupRunMs: number;
  /** From delete until the instance and its backups are gone. */
  deleteMs: number;
}

export const DEFAULT_SQL_DURATIONS: SqlDurations = { backupEnqueuedMs: 10_000, backupRunMs: 120_000, deleteMs: 60_000 };

export const SQL_DEFAULT_PAGE_SIZE = 100;
const SQL_MAX_PAGE_SIZE = 1000;

export interface SqlInstanceSeed {
  project: string;
  name: string;
  region: string;
  databaseVersion?: string;
  tier?: string;
  state?: SqlInstance['state'];
  backupConfiguration?: Partial<SqlBackupConfiguration>;
}

/** An AUTOMATED run that already happened (for compliance checks); its status does not change. */
export interface SeededBackupRun {
  endTime: Date | string;
  status?: SqlBackupRunStatus;
  startTime?: Date | string;
  type?: SqlBackupRun['type'];
  description?: string;
}

/** The policy of the design: daily, point-in-time recovery kept 7 days. */
export const COMPLIANT_SQL_BACKUP_CONFIGURATION: SqlBackupConfiguration = {
  enabled: true,
  startTime: '03:00',
  pointInTimeRecoveryEnabled: true,
  transactionLogRetentionDays: 7,
  backupRetentionSettings: { retentionUnit: 'COUNT', retainedBackups: 7 },
};

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
  failure?: string | undefined;
  backupId?: string | undefined;
}

interface InstanceRecord {
  instance: SqlInstance;
  runs: Map<string, RunRecord>;
  /** When the instance and its runs are gone (set by a delete). */
  goneAt?: number;
  scripted: Array<{ status: 'SUCCESSFUL' | 'FAILED'; reason: string }>;
}

const STYLE: ServiceErrorStyle = { service: 'sqladmin', conflictCode: 'conflict' };

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function keyOf(project: string, instance: string): string {
  return `${project}/${instance}`;
}

/** The simulated Cloud SQL Admin API; seed it with addInstance. */
export class SimulatedCloudSql implements CloudSqlPort {
  readonly faults = new FaultInjector<CloudSqlMethod>(STYLE);
  private readonly durations: SqlDurations;
  private readonly instances = new Map<string, InstanceRecord>();
  private readonly operations = new Map<string, OperationRecord>();
  private lastRunId = 0;
  private seq = 0;

  constructor(private readonly options: { clock: Clock; durations?: Partial<SqlDurations> }) {
    this.durations = { ...DEFAULT_SQL_DURATIONS, ...options.durations };
  }

  // ------------------------------------------------------------------ test control

  /** Seeds an instance (RUNNABLE, with the compliant backup configuration unless told otherwise). */
  addInstance(seed: SqlInstanceSeed): SqlInstance {
    const key = keyOf(seed.project, seed.name);
    const existing = this.instances.get(key);
    if (existing !== undefined && !this.isGone(existing)) throw new Error(`Cloud SQL sim: instance ${key} already exists`);
    const instance: SqlInstance = {
      name: seed.name,
      project: seed.project,
      region: seed.region,
      databaseVersion: seed.databaseVersion ?? 'POSTGRES_16',
      state: seed.state ?? 'RUNNABLE',
      settings: {
        tier: seed.tier ?? 'db-custom-2-7680',
        backupConfiguration: { ...COMPLIANT_SQL_BACKUP_CONFIGURATION, ...seed.backupConfiguration },
      },
    };
    this.instances.set(key, { instance, runs: new Map(), scripted: [] });
    return structuredClone(instance);
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
      });
      return id;
    });
  }

  /** The next backup run of this instance ends with `status` (queued: one script per run). */
  scriptBackupOutcome(project: string, instance: string, status: 'SUCCESSFUL' | 'FAILED', reason = 'simulated backup failure'): void {
    this.seeded(project, instance).scripted.push({ status, reason });
  }

  /** Starts another operation on the instance (maintenance, an update): mutations answer 409 until it ends. */
  startOperation(project: string, instance: string, options: { operationType?: string; durationMs: number }): SqlOperation {
    const record = this.seeded(project, instance);
    const now = this.now();
    const operation = this.recordOperation(record, options.operationType ?? 'UPDATE', now, now, now + options.durationMs);
    return this.toOperation(operation);
  }

  /** Calls received by a method, including failed ones. */
  calls(method: CloudSqlMethod): number {
    return this.faults.calls(method);
  }

  // ------------------------------------------------------------------ the port

  insertBackupRun(project: string, instance: string, body: { description: string }): Promise<SqlOperation> {
    return this.faults.call('insertBackupRun', keyOf(project, instance), () => {
      const record = this.require(project, instance);
      this.refuseWhileBusy(record);
      if (record.instance.state !== 'RUNNABLE') {
        throw new ControlPlaneError('failed-precondition', `instance ${instance} is ${record.instance.state}, not RUNNABLE`, {
          details: { httpStatus: 400, reason: 'invalidState' },
        });
      }
      const now = this.now();
      const startAt = now + this.durations.backupEnqueuedMs;
      const endAt = startAt + this.durations.backupRunMs;
      const script = record.scripted.shift();
      const id = this.nextRunId(now);
      record.runs.set(id, {
        id,
        seq: this.nextSeq(),
        type: 'ON_DEMAND',
        description: body.description,
        enqueuedAt: now,
        startAt,
        endAt,
        outcome: script?.status ?? 'SUCCESSFUL',
        failure: script?.status === 'FAILED' ? script.reason : undefined,
        location: this.backupLocation(record.instance),
      });
      const operation = this.recordOperation(record, 'BACKUP_VOLUME', now, startAt, endAt, {
        backupId: id,
        failure: script?.status === 'FAILED' ? script.reason : undefined,
      });
      return this.toOperation(operation);
    });
  }

  listBackupRuns(project: string, instance: string, page: { pageToken?: string; maxResults?: number } = {}): Promise<Page<SqlBackupRun>> {
    return this.faults.call('listBackupRuns', keyOf(project, instance), () => {
      const record = this.require(project, instance);
      const result = pageOf(
        [...record.runs.values()],
        (run) => [-run.enqueuedAt, -run.seq],
        { service: STYLE.service, scope: `backupRuns:${keyOf(project, instance)}`, defaultSize: SQL_DEFAULT_PAGE_SIZE, maxSize: SQL_MAX_PAGE_SIZE },
        { pageToken: page.pageToken, size: page.maxResults },
      );
      return { ...result, items: result.items.map((run) => this.toBackupRun(record, run)) };
    });
  }

  getBackupRun(project: string, instance: string, id: string): Promise<SqlBackupRun | undefined> {
    return this.faults.call('getBackupRun', keyOf(project, instance), () => {
      const record = this.live(project, instance);
      const run = record?.runs.get(id);
      return record === undefined || run === undefined ? undefined : this.toBackupRun(record, run);
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
      if (record.goneAt !== undefined) view.state = 'PENDING_DELETE';
      return view;
    });
  }

  deleteInstance(project: string, instance: string): Promise<SqlOperation> {
    return this.faults.call('deleteInstance', keyOf(project, instance), () => {
      const record = this.require(project, instance);
      this.refuseWhileBusy(record);
      const now = this.now();
      const endAt = now + this.durations.deleteMs;
      record.goneAt = endAt;
      return this.toOperation(this.recordOperation(record, 'DELETE', now, now, endAt));
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

  private isGone(record: InstanceRecord): boolean {
    return record.goneAt !== undefined && this.now() >= record.goneAt;
  }

  /** The instance unless it does not exist (or its delete has finished). */
  private live(project: string, instance: string): InstanceRecord | undefined {
    const record = this.instances.get(keyOf(project, instance));
    if (record === undefined) return undefined;
    if (this.isGone(record)) {
      // The backup runs go with the instance: nothing about them can be read again.
      this.instances.delete(keyOf(project, instance));
      return undefined;
    }
    return record;
  }

  private require(project: string, instance: string): InstanceRecord {
    const record = this.live(project, instance);
    if (record === undefined) {
      throw new ControlPlaneError('not-found', `Cloud SQL instance ${instance} does not exist in project ${project}`, {
        details: { httpStatus: 404, reason: 'instanceDoesNotExist', project, instance },
      });
    }
    return record;
  }

  /** For test control: a misuse is a bug in the test, so it is a plain Error. */
  private seeded(project: string, instance: string): InstanceRecord {
    const record = this.live(project, instance);
    if (record === undefined) throw new Error(`Cloud SQL sim: no instance ${keyOf(project, instance)}; seed it with addInstance first`);
    return record;
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

  private recordOperation(
    record: InstanceRecord,
    operationType: string,
    insertAt: number,
    startAt: number,
    endAt: number,
    extra: { backupId?: string; failure?: string | undefined } = {},
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
      ...(status === 'DONE' && op.failure !== undefined ? { error: { errors: [{ code: 'BACKUP_FAILED', message: op.failure }] } } : {}),
      ...(op.backupId === undefined ? {} : { backupContext: { backupId: op.backupId } }),
    };
  }

  private toBackupRun(record: InstanceRecord, run: RunRecord): SqlBackupRun {
    const now = this.now();
    const status: SqlBackupRunStatus = run.fixedStatus ?? (now < run.startAt ? 'ENQUEUED' : now < run.endAt ? 'RUNNING' : run.outcome);
    const started = status !== 'ENQUEUED' && status !== 'SQL_BACKUP_RUN_STATUS_UNSPECIFIED';
    const ended = status === 'SUCCESSFUL' || status === 'FAILED' || status.startsWith('DELET') || status === 'SKIPPED';
    return {
      kind: 'sql#backupRun',
      id: run.id,
      instance: record.instance.name,
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

/**
 * Backup for GKE v1, in process. A backup goes CREATING → IN_PROGRESS → SUCCEEDED or FAILED,
 * computed from the clock when read; its create operation is done when the backup is. Like
 * the real service, a backup id is checked against the naming rule (400) and an id already
 * used in the plan answers 409 ALREADY_EXISTS.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ControlPlaneError } from '../errors.js';
import type { Clock, GkeBackup, GkeBackupPlan, GkeBackupPort, GkeBackupState, GkeOperation, Page } from '../ports.js';
import { FaultInjector, type ServiceErrorStyle } from './faults.js';
import { pageOf } from './paging.js';

export type GkeBackupMethod = keyof GkeBackupPort;

export const GKE_BACKUP_ID_PATTERN = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
const PLAN_NAME_PATTERN = /^projects\/([^/]+)\/locations\/([^/]+)\/backupPlans\/([^/]+)$/;

export interface GkeDurations {
  /** From create until the backup starts copying (CREATING). */
  creatingMs: number;
  /** From start until it ends (IN_PROGRESS). */
  inProgressMs: number;
}

export const DEFAULT_GKE_DURATIONS: GkeDurations = { creatingMs: 15_000, inProgressMs: 300_000 };

export const GKE_DEFAULT_PAGE_SIZE = 50;
const GKE_MAX_PAGE_SIZE = 1000;

export interface BackupPlanSeed {
  /** projects/P/locations/L/backupPlans/NAME */
  name: string;
  /** projects/P/locations/L/clusters/NAME */
  cluster: string;
  cronSchedule?: string;
  paused?: boolean;
  backupRetainDays?: number;
  deactivated?: boolean;
  backupConfig?: GkeBackupPlan['backupConfig'];
}

/** A backup that already happened (for compliance checks); its state does not change. */
export interface SeededGkeBackup {
  backupId?: string;
  createTime: Date | string;
  completeTime?: Date | string;
  state?: GkeBackupState;
  manual?: boolean;
  retainDays?: number;
}

interface BackupRecord {
  backup: Omit<GkeBackup, 'state' | 'completeTime' | 'stateReason'>;
  createdAt: number;
  startAt: number;
  endAt: number;
  outcome: 'SUCCEEDED' | 'FAILED';
  reason?: string | undefined;
  fixedState?: GkeBackupState | undefined;
}

interface PlanRecord {
  plan: GkeBackupPlan;
  backups: Map<string, BackupRecord>;
  scripted: Array<{ state: 'SUCCEEDED' | 'FAILED'; reason: string }>;
}

interface OperationRecord {
  name: string;
  plan: string;
  backupId: string;
  createdAt: number;
}

const STYLE: ServiceErrorStyle = { service: 'gkebackup', conflictCode: 'already-exists' };
const DAY_MS = 86_400_000;

/** The policy of the design: daily, kept 90 days, all volumes and application state. */
export const COMPLIANT_BACKUP_PLAN: Required<Pick<BackupPlanSeed, 'cronSchedule' | 'backupRetainDays' | 'backupConfig'>> = {
  cronSchedule: '0 3 * * *',
  backupRetainDays: 90,
  backupConfig: { allNamespaces: true, includeVolumeData: true, includeSecrets: true },
};

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function invalidArgument(message: string): ControlPlaneError {
  return new ControlPlaneError('failed-precondition', message, { retryable: false, details: { httpStatus: 400, status: 'INVALID_ARGUMENT' } });
}

/** The simulated Backup for GKE API; seed it with addBackupPlan. */
export class SimulatedGkeBackup implements GkeBackupPort {
  readonly faults = new FaultInjector<GkeBackupMethod>(STYLE);
  private readonly durations: GkeDurations;
  private readonly plans = new Map<string, PlanRecord>();
  private readonly operations = new Map<string, OperationRecord>();

  constructor(private readonly options: { clock: Clock; durations?: Partial<GkeDurations> }) {
    this.durations = { ...DEFAULT_GKE_DURATIONS, ...options.durations };
  }

  // ------------------------------------------------------------------ test control

  /** Seeds a READY plan (compliant settings unless told otherwise). */
  addBackupPlan(seed: BackupPlanSeed): GkeBackupPlan {
    if (!PLAN_NAME_PATTERN.test(seed.name)) throw new Error(`GKE sim: ${seed.name} is not projects/P/locations/L/backupPlans/NAME`);
    if (this.plans.has(seed.name)) throw new Error(`GKE sim: backup plan ${seed.name} already exists`);
    const plan: GkeBackupPlan = {
      name: seed.name,
      uid: randomUUID(),
      cluster: seed.cluster,
      state: seed.deactivated === true ? 'DEACTIVATED' : 'READY',
      ...(seed.deactivated === undefined ? {} : { deactivated: seed.deactivated }),
      backupSchedule: { cronSchedule: seed.cronSchedule ?? COMPLIANT_BACKUP_PLAN.cronSchedule, paused: seed.paused ?? false },
      retentionPolicy: { backupRetainDays: seed.backupRetainDays ?? COMPLIANT_BACKUP_PLAN.backupRetainDays, backupDeleteLockDays: 0, locked: false },
      backupConfig: { ...(seed.backupConfig ?? COMPLIANT_BACKUP_PLAN.backupConfig) },
    };
    this.plans.set(seed.name, { plan, backups: new Map(), scripted: [] });
    return structuredClone(plan);
  }

  /** Changes a plan, as drift made outside the control plane would. */
  updateBackupPlan(name: string, change: Partial<Omit<GkeBackupPlan, 'name' | 'uid'>>): void {
    const record = this.seeded(name);
    record.plan = { ...record.plan, ...structuredClone(change) };
  }

  /** Adds past backups (scheduled unless told otherwise); returns their names. */
  seedBackups(plan: string, backups: readonly SeededGkeBackup[]): string[] {
    const record = this.seeded(plan);
    return backups.map((seed) => {
      const createdAt = new Date(seed.createTime).getTime();
      const endAt = seed.completeTime === undefined ? createdAt + 20 * 60_000 : new Date(seed.completeTime).getTime();
      const backupId = seed.backupId ?? `auto-${new Date(createdAt).toISOString().replace(/[^0-9]/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}`;
      const state = seed.state ?? 'SUCCEEDED';
      const stored = this.makeRecord(record, backupId, createdAt, createdAt, endAt, {
        manual: seed.manual ?? false,
        retainDays: seed.retainDays,
        outcome: state === 'FAILED' ? 'FAILED' : 'SUCCEEDED',
        reason: state === 'FAILED' ? 'seeded failure' : undefined,
      });
      stored.fixedState = state;
      record.backups.set(backupId, stored);
      return stored.backup.name;
    });
  }

  /** The next backup created in this plan ends in `state` (queued: one script per backup). */
  scriptBackupOutcome(plan: string, state: 'SUCCEEDED' | 'FAILED', reason = 'simulated backup failure'): void {
    this.seeded(plan).scripted.push({ state, reason });
  }

  /** Calls received by a method, including failed ones. */
  calls(method: GkeBackupMethod): number {
    return this.faults.calls(method);
  }

  // ------------------------------------------------------------------ the port

  createBackup(parent: string, backupId: string, body: { description?: string; labels?: Record<string, string> }): Promise<GkeOperation> {
    return this.faults.call('createBackup', parent, () => {
      const record = this.require(parent);
      if (!GKE_BACKUP_ID_PATTERN.test(backupId)) {
        throw invalidArgument(
          `backup id ${JSON.stringify(backupId)} is invalid: use 1-63 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen`,
        );
      }
      if (record.backups.has(backupId)) {
        throw new ControlPlaneError('already-exists', `backup ${parent}/backups/${backupId} already exists`, {
          details: { httpStatus: 409, status: 'ALREADY_EXISTS', name: `${parent}/backups/${backupId}` },
        });
      }
      if (record.plan.state !== 'READY') {
        throw new ControlPlaneError('failed-precondition', `backup plan ${parent} is ${record.plan.state}, not READY`, {
          details: { httpStatus: 400, status: 'FAILED_PRECONDITION' },
        });
      }
      const now = this.now();
      const script = record.scripted.shift();
      const startAt = now + this.durations.creatingMs;
      const stored = this.makeRecord(record, backupId, now, startAt, startAt + this.durations.inProgressMs, {
        manual: true,
        description: body.description,
        labels: body.labels,
        outcome: script?.state ?? 'SUCCEEDED',
        reason: script?.state === 'FAILED' ? script.reason : undefined,
      });
      record.backups.set(backupId, stored);
      const [, project, location] = PLAN_NAME_PATTERN.exec(parent) ?? [];
      const operation: OperationRecord = {
        name: `projects/${project}/locations/${location}/operations/operation-${now}-${randomBytes(8).toString('hex')}`,
        plan: parent,
        backupId,
        createdAt: now,
      };
      this.operations.set(operation.name, operation);
      return this.toOperation(operation);
    });
  }

  getBackup(name: string): Promise<GkeBackup | undefined> {
    return this.faults.call('getBackup', name, () => {
      const slash = name.lastIndexOf('/backups/');
      if (slash < 0) return undefined;
      const record = this.plans.get(name.slice(0, slash));
      const stored = record?.backups.get(name.slice(slash + '/backups/'.length));
      return stored === undefined ? undefined : this.toBackup(stored);
    });
  }

  /** Ordered by name, as the API does without orderBy: not by time, so callers must not assume it. */
  listBackups(parent: string, page: { pageToken?: string; pageSize?: number } = {}): Promise<Page<GkeBackup>> {
    return this.faults.call('listBackups', parent, () => {
      const record = this.require(parent);
      const result = pageOf(
        [...record.backups.values()],
        (stored) => [stored.backup.name],
        { service: STYLE.service, scope: `backups:${parent}`, defaultSize: GKE_DEFAULT_PAGE_SIZE, maxSize: GKE_MAX_PAGE_SIZE },
        { pageToken: page.pageToken, size: page.pageSize },
      );
      return { ...result, items: result.items.map((stored) => this.toBackup(stored)) };
    });
  }

  getBackupPlan(name: string): Promise<GkeBackupPlan | undefined> {
    return this.faults.call('getBackupPlan', name, () => {
      const record = this.plans.get(name);
      return record === undefined ? undefined : structuredClone(record.plan);
    });
  }

  getOperation(name: string): Promise<GkeOperation | undefined> {
    return this.faults.call('getOperation', name, () => {
      const operation = this.operations.get(name);
      return operation === undefined ? undefined : this.toOperation(operation);
    });
  }

  // ------------------------------------------------------------------ internals

  private now(): number {
    return this.options.clock.now().getTime();
  }

  private require(parent: string): PlanRecord {
    if (!PLAN_NAME_PATTERN.test(parent)) throw invalidArgument(`${parent} is not a backup plan name (projects/P/locations/L/backupPlans/NAME)`);
    const record = this.plans.get(parent);
    if (record === undefined) {
      throw new ControlPlaneError('not-found', `backup plan ${parent} does not exist`, { details: { httpStatus: 404, status: 'NOT_FOUND' } });
    }
    return record;
  }

  private seeded(name: string): PlanRecord {
    const record = this.plans.get(name);
    if (record === undefined) throw new Error(`GKE sim: no backup plan ${name}; seed it with addBackupPlan first`);
    return record;
  }

  private makeRecord(
    record: PlanRecord,
    backupId: string,
    createdAt: number,
    startAt: number,
    endAt: number,
    extra: {
      manual: boolean;
      outcome: 'SUCCEEDED' | 'FAILED';
      reason?: string | undefined;
      retainDays?: number | undefined;
      description?: string | undefined;
      labels?: Record<string, string> | undefined;
    },
  ): BackupRecord {
    const retainDays = extra.retainDays ?? record.plan.retentionPolicy?.backupRetainDays;
    return {
      backup: {
        name: `${record.plan.name}/backups/${backupId}`,
        uid: randomUUID(),
        manual: extra.manual,
        ...(extra.description === undefined ? {} : { description: extra.description }),
        ...(extra.labels === undefined ? {} : { labels: { ...extra.labels } }),
        createTime: iso(createdAt),
        ...(retainDays === undefined ? {} : { retainDays, retainExpireTime: iso(createdAt + retainDays * DAY_MS) }),
      },
      createdAt,
      startAt,
      endAt,
      outcome: extra.outcome,
      reason: extra.reason,
    };
  }

  private stateOf(stored: BackupRecord): GkeBackupState {
    if (stored.fixedState !== undefined) return stored.fixedState;
    const now = this.now();
    return now < stored.startAt ? 'CREATING' : now < stored.endAt ? 'IN_PROGRESS' : stored.outcome;
  }

  private toBackup(stored: BackupRecord): GkeBackup {
    const state = this.stateOf(stored);
    const ended = state === 'SUCCEEDED' || state === 'FAILED';
    return {
      ...structuredClone(stored.backup),
      state,
      ...(state === 'FAILED' ? { stateReason: stored.reason ?? 'backup failed' } : {}),
      ...(ended ? { completeTime: iso(stored.endAt) } : {}),
    };
  }

  private toOperation(operation: OperationRecord): GkeOperation {
    const stored = this.plans.get(operation.plan)?.backups.get(operation.backupId);
    const backup = stored === undefined ? undefined : this.toBackup(stored);
    const done = backup !== undefined && (backup.state === 'SUCCEEDED' || backup.state === 'FAILED');
    const target = `${operation.plan}/backups/${operation.backupId}`;
    return {
      name: operation.name,
      done,
      metadata: {
        '@type': 'type.googleapis.com/google.cloud.gkebackup.v1.OperationMetadata',
        createTime: iso(operation.createdAt),
        target,
        verb: 'create',
        ...(done && stored !== undefined ? { endTime: iso(stored.endAt) } : {}),
      },
      ...(done && backup?.state === 'FAILED' ? { error: { code: 13, message: backup.stateReason ?? 'backup failed' } } : {}),
      ...(done && backup?.state === 'SUCCEEDED' ? { response: { '@type': 'type.googleapis.com/google.cloud.gkebackup.v1.Backup', ...backup } } : {}),
    };
  }
}

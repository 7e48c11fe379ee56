/**
 * Backup for GKE v1, in process. A backup (and a restore) goes CREATING → IN_PROGRESS →
 * SUCCEEDED or FAILED, computed from the clock when read; its create operation is done when
 * it is. Like the real service, ids are checked against the naming rule (400) and an id
 * already used answers 409 ALREADY_EXISTS. Backup plans and restore plans are ready as soon
 * as they are created (their operations are done at once). The simulator also knows which
 * clusters exist, so a restore into a cluster that is gone is refused.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ControlPlaneError } from '../errors.js';
import type {
  Clock,
  GkeBackup,
  GkeBackupChannel,
  GkeBackupPlan,
  GkeBackupPlanSpec,
  GkeBackupPort,
  GkeBackupState,
  GkeOperation,
  GkeRestore,
  GkeRestoreState,
  Page,
} from '../ports.js';
import { exportWithFaults, importWithFaults, type SimState } from './state.js';
import { FaultInjector, type ServiceErrorStyle } from './faults.js';
import { pageOf } from './paging.js';

export type GkeBackupMethod = keyof GkeBackupPort;

export const GKE_BACKUP_ID_PATTERN = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
const PLAN_NAME_PATTERN = /^projects\/([^/]+)\/locations\/([^/]+)\/backupPlans\/([^/]+)$/;
const LOCATION_PATTERN = /^projects\/([^/]+)\/locations\/([^/]+)$/;
const RESTORE_PLAN_NAME_PATTERN = /^projects\/([^/]+)\/locations\/([^/]+)\/restorePlans\/([^/]+)$/;

export interface GkeDurations {
  /** From create until the backup starts copying (CREATING). */
  creatingMs: number;
  /** From start until it ends (IN_PROGRESS). */
  inProgressMs: number;
  /** From create until a restore starts (CREATING). */
  restoreCreatingMs: number;
  /** From start until a restore ends (IN_PROGRESS). */
  restoreInProgressMs: number;
}

export const DEFAULT_GKE_DURATIONS: GkeDurations = { creatingMs: 15_000, inProgressMs: 300_000, restoreCreatingMs: 15_000, restoreInProgressMs: 600_000 };

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
  labels?: Record<string, string> | undefined;
  backups: Map<string, BackupRecord>;
  scripted: Array<{ state: 'SUCCEEDED' | 'FAILED'; reason: string }>;
}

interface RestoreRecord {
  restore: Omit<GkeRestore, 'state' | 'completeTime' | 'stateReason'>;
  createdAt: number;
  startAt: number;
  endAt: number;
  outcome: 'SUCCEEDED' | 'FAILED';
  reason?: string | undefined;
}

interface RestorePlanRecord {
  name: string;
  uid: string;
  backupPlan: string;
  cluster: string;
  createdAt: number;
  restores: Map<string, RestoreRecord>;
  scripted: Array<{ state: 'SUCCEEDED' | 'FAILED'; reason: string }>;
}

/** What an operation created or changed: its state is read from that resource. */
type OperationTarget =
  | { kind: 'backup'; plan: string; backupId: string }
  | { kind: 'restore'; restorePlan: string; restoreId: string }
  /** Done at once; its response is the resource's view when read (data, not a closure: the state is kept as plain data). */
  | { kind: 'immediate'; verb: 'create' | 'update'; target: string; view: 'plan' | 'restorePlan' | 'channel' };

interface OperationRecord {
  name: string;
  createdAt: number;
  target: OperationTarget;
}

/** A restore that finished in a cluster, as a control getter reports it. */
export interface ClusterRestore {
  restore: string;
  backup: string;
  completeTime: string;
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

function failedPrecondition(message: string): ControlPlaneError {
  return new ControlPlaneError('failed-precondition', message, { retryable: false, details: { httpStatus: 400, status: 'FAILED_PRECONDITION' } });
}

function notFound(what: string): ControlPlaneError {
  return new ControlPlaneError('not-found', `${what} does not exist`, { details: { httpStatus: 404, status: 'NOT_FOUND' } });
}

function alreadyExists(name: string): ControlPlaneError {
  return new ControlPlaneError('already-exists', `${name} already exists`, { details: { httpStatus: 409, status: 'ALREADY_EXISTS', name } });
}

/** The 400 the API answers for an id that breaks its naming rule (backups, plans, restores alike). */
function checkId(kind: string, id: string): void {
  if (!GKE_BACKUP_ID_PATTERN.test(id)) {
    throw invalidArgument(
      `${kind} id ${JSON.stringify(id)} is invalid: use 1-63 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen`,
    );
  }
}

/** The project and location of a `projects/P/locations/L` parent, or a 400. */
function parseLocation(parent: string): { project: string; location: string } {
  const match = LOCATION_PATTERN.exec(parent);
  if (match?.[1] === undefined || match[2] === undefined) throw invalidArgument(`${parent} is not a location (projects/P/locations/L)`);
  return { project: match[1], location: match[2] };
}

/** `projects/P/locations/L` of a resource name under it. */
function locationOf(name: string): string {
  return name.split('/').slice(0, 4).join('/');
}

/** The fields exportState keeps. */
const GKE_STATE_FIELDS = ['plans', 'restorePlans', 'operations', 'clusters', 'channels'] as const;

/** The simulated Backup for GKE API; seed it with addBackupPlan. */
export class SimulatedGkeBackup implements GkeBackupPort {
  readonly faults = new FaultInjector<GkeBackupMethod>(STYLE);
  private readonly durations: GkeDurations;
  private readonly plans = new Map<string, PlanRecord>();
  private readonly restorePlans = new Map<string, RestorePlanRecord>();
  private readonly operations = new Map<string, OperationRecord>();
  private readonly clusters = new Set<string>();
  private readonly channels = new Map<string, GkeBackupChannel>();

  constructor(private readonly options: { clock: Clock; durations?: Partial<GkeDurations> }) {
    this.durations = { ...DEFAULT_GKE_DURATIONS, ...options.durations };
  }

  /** Its world as plain data (state.ts): what a restart of the local stack must find. */
  exportState(): SimState {
    return exportWithFaults(this, GKE_STATE_FIELDS, this.faults);
  }

  /** Puts a world taken by exportState back. */
  importState(state: SimState): void {
    importWithFaults(this, GKE_STATE_FIELDS, this.faults, state);
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
    // A plan that already exists protects a cluster that exists.
    this.clusters.add(seed.cluster);
    return structuredClone(plan);
  }

  /** Seeds a backup channel (one an earlier create made). */
  addBackupChannel(name: string, destinationProject: string): void {
    this.channels.set(name, { name, destinationProject, uid: randomUUID(), createTime: iso(this.options.clock.now().getTime()) });
  }

  /** Removes a backup channel, as a person deleting it would. */
  removeBackupChannel(name: string): void {
    if (!this.channels.delete(name)) throw new Error(`GKE sim: no backup channel ${name}`);
  }

  /** Records that a GKE cluster exists (provisioned by the executor, or seeded). */
  addCluster(name: string): void {
    this.clusters.add(name);
  }

  hasCluster(name: string): boolean {
    return this.clusters.has(name);
  }

  /** Changes a plan, as drift made outside the control plane would. */
  changeBackupPlan(name: string, change: Partial<Omit<GkeBackupPlan, 'name' | 'uid'>>): void {
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

  /** The outcomes scripted for the plan's next backups, in order. */
  scriptedBackupOutcomes(plan: string): Array<{ state: 'SUCCEEDED' | 'FAILED'; reason: string }> {
    return structuredClone(this.plans.get(plan)?.scripted ?? []);
  }

  /** Forgets the outcomes scripted for the plan's next backups; returns how many there were. */
  clearScriptedBackupOutcomes(plan: string): number {
    const record = this.plans.get(plan);
    const count = record?.scripted.length ?? 0;
    if (record !== undefined) record.scripted.length = 0;
    return count;
  }

  /** The next restore created through this restore plan ends in `state` (one script per restore). */
  scriptRestoreOutcome(restorePlan: string, state: 'SUCCEEDED' | 'FAILED', reason = 'simulated restore failure'): void {
    const record = this.restorePlans.get(restorePlan);
    if (record === undefined) throw new Error(`GKE sim: no restore plan ${restorePlan}; create it first`);
    record.scripted.push({ state, reason });
  }

  /** The restores that have SUCCEEDED into a cluster, oldest first: what its workloads now hold. */
  restoresInto(cluster: string): ClusterRestore[] {
    const done: ClusterRestore[] = [];
    for (const plan of this.restorePlans.values()) {
      for (const stored of plan.restores.values()) {
        if (stored.restore.cluster === cluster && this.restoreState(stored) === 'SUCCEEDED') {
          done.push({ restore: stored.restore.name, backup: stored.restore.backup, completeTime: iso(stored.endAt) });
        }
      }
    }
    return done.sort((a, b) => a.completeTime.localeCompare(b.completeTime));
  }

  /**
   * Removes what lives in the project, as deleting the GCP project does: backup plans named
   * under projects/<project>/ with all their backups, restore plans and their restores, and
   * clusters. Plans of other projects (a central backup project) keep their backups.
   */
  removeProject(project: string): { backupPlans: string[]; restorePlans: string[]; clusters: string[] } {
    const prefix = `projects/${project}/`;
    const removed = { backupPlans: [] as string[], restorePlans: [] as string[], clusters: [] as string[] };
    for (const name of [...this.plans.keys()]) {
      if (!name.startsWith(prefix)) continue;
      this.plans.delete(name);
      removed.backupPlans.push(name);
    }
    for (const name of [...this.restorePlans.keys()]) {
      if (!name.startsWith(prefix)) continue;
      this.restorePlans.delete(name);
      removed.restorePlans.push(name);
    }
    for (const name of [...this.channels.keys()]) if (name.startsWith(prefix)) this.channels.delete(name);
    for (const name of [...this.clusters]) {
      if (!name.startsWith(prefix)) continue;
      this.clusters.delete(name);
      removed.clusters.push(name);
    }
    return removed;
  }

  /** Calls received by a method, including failed ones. */
  calls(method: GkeBackupMethod): number {
    return this.faults.calls(method);
  }

  // ------------------------------------------------------------------ the port

  createBackup(parent: string, backupId: string, body: { description?: string; labels?: Record<string, string> }): Promise<GkeOperation> {
    return this.faults.call('createBackup', parent, () => {
      const record = this.require(parent);
      checkId('backup', backupId);
      if (record.backups.has(backupId)) throw alreadyExists(`${parent}/backups/${backupId}`);
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
      return this.toOperation(this.recordOperation(locationOf(parent), { kind: 'backup', plan: parent, backupId }));
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

  createBackupPlan(parent: string, backupPlanId: string, spec: GkeBackupPlanSpec): Promise<GkeOperation> {
    return this.faults.call('createBackupPlan', `${parent}/backupPlans/${backupPlanId}`, () => {
      parseLocation(parent);
      checkId('backup plan', backupPlanId);
      const name = `${parent}/backupPlans/${backupPlanId}`;
      if (this.plans.has(name)) throw alreadyExists(name);
      this.checkPlanSpec(spec);
      this.checkCrossProject(parent, spec.cluster);
      const plan: GkeBackupPlan = {
        name,
        uid: randomUUID(),
        cluster: spec.cluster,
        state: 'READY',
        deactivated: false,
        ...this.planPolicy(spec),
      };
      this.plans.set(name, { plan, labels: spec.labels === undefined ? undefined : { ...spec.labels }, backups: new Map(), scripted: [] });
      return this.toOperation(this.recordOperation(parent, this.immediate('create', name, 'plan')));
    });
  }

  updateBackupPlan(name: string, spec: Omit<GkeBackupPlanSpec, 'cluster'>): Promise<GkeOperation> {
    return this.faults.call('updateBackupPlan', name, () => {
      const record = this.require(name);
      this.checkPlanSpec(spec);
      const locked = record.plan.retentionPolicy?.locked === true;
      if (locked && spec.backupRetainDays < (record.plan.retentionPolicy?.backupRetainDays ?? 0)) {
        throw failedPrecondition(`the retention policy of ${name} is locked: backupRetainDays can only grow`);
      }
      record.plan = { ...record.plan, ...this.planPolicy(spec, record.plan) };
      if (spec.labels !== undefined) record.labels = { ...spec.labels };
      return this.toOperation(this.recordOperation(locationOf(name), this.immediate('update', name, 'plan')));
    });
  }

  createRestorePlan(parent: string, restorePlanId: string, body: { backupPlan: string; cluster: string }): Promise<GkeOperation> {
    return this.faults.call('createRestorePlan', `${parent}/restorePlans/${restorePlanId}`, () => {
      parseLocation(parent);
      checkId('restore plan', restorePlanId);
      const name = `${parent}/restorePlans/${restorePlanId}`;
      if (this.restorePlans.has(name)) throw alreadyExists(name);
      if (!PLAN_NAME_PATTERN.test(body.backupPlan)) throw invalidArgument(`${body.backupPlan} is not a backup plan name`);
      if (!this.plans.has(body.backupPlan)) throw notFound(`backup plan ${body.backupPlan}`);
      this.restorePlans.set(name, {
        name,
        uid: randomUUID(),
        backupPlan: body.backupPlan,
        cluster: body.cluster,
        createdAt: this.now(),
        restores: new Map(),
        scripted: [],
      });
      return this.toOperation(this.recordOperation(parent, this.immediate('create', name, 'restorePlan')));
    });
  }

  createRestore(restorePlan: string, restoreId: string, body: { backup: string }): Promise<GkeOperation> {
    return this.faults.call('createRestore', `${restorePlan}/restores/${restoreId}`, () => {
      if (!RESTORE_PLAN_NAME_PATTERN.test(restorePlan)) throw invalidArgument(`${restorePlan} is not a restore plan name (projects/P/locations/L/restorePlans/NAME)`);
      const plan = this.restorePlans.get(restorePlan);
      if (plan === undefined) throw notFound(`restore plan ${restorePlan}`);
      checkId('restore', restoreId);
      const name = `${restorePlan}/restores/${restoreId}`;
      if (plan.restores.has(restoreId)) throw alreadyExists(name);
      const backup = this.findBackup(body.backup);
      if (backup === undefined) throw notFound(`backup ${body.backup}`);
      if (!body.backup.startsWith(`${plan.backupPlan}/backups/`)) {
        throw invalidArgument(`backup ${body.backup} does not belong to ${plan.backupPlan}, the backup plan of ${restorePlan}`);
      }
      const state = this.stateOf(backup);
      if (state !== 'SUCCEEDED') throw failedPrecondition(`backup ${body.backup} is ${state}: only a SUCCEEDED backup can be restored`);
      if (!this.clusters.has(plan.cluster)) throw failedPrecondition(`cluster ${plan.cluster} of ${restorePlan} does not exist`);
      const now = this.now();
      const script = plan.scripted.shift();
      const startAt = now + this.durations.restoreCreatingMs;
      plan.restores.set(restoreId, {
        restore: { name, uid: randomUUID(), backup: body.backup, cluster: plan.cluster, createTime: iso(now) },
        createdAt: now,
        startAt,
        endAt: startAt + this.durations.restoreInProgressMs,
        outcome: script?.state ?? 'SUCCEEDED',
        reason: script?.state === 'FAILED' ? script.reason : undefined,
      });
      return this.toOperation(this.recordOperation(locationOf(restorePlan), { kind: 'restore', restorePlan, restoreId }));
    });
  }

  getRestore(name: string): Promise<GkeRestore | undefined> {
    return this.faults.call('getRestore', name, () => {
      const stored = this.findRestore(name);
      return stored === undefined ? undefined : this.toRestore(stored);
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

  private findBackup(name: string): BackupRecord | undefined {
    const at = name.lastIndexOf('/backups/');
    if (at < 0) return undefined;
    return this.plans.get(name.slice(0, at))?.backups.get(name.slice(at + '/backups/'.length));
  }

  private findRestore(name: string): RestoreRecord | undefined {
    const at = name.lastIndexOf('/restores/');
    if (at < 0) return undefined;
    return this.restorePlans.get(name.slice(0, at))?.restores.get(name.slice(at + '/restores/'.length));
  }

  /** The checks the API makes on a plan's schedule and retention. */
  /** A plan in another project than its cluster's needs a backup channel from the cluster's project and region to it. */
  private checkCrossProject(parent: string, cluster: string): void {
    const planProject = parseLocation(parent).project;
    const match = /^projects\/([^/]+)\/locations\/([^/]+)\/clusters\/[^/]+$/.exec(cluster);
    if (match?.[1] === undefined || match[2] === undefined || match[1] === planProject) return;
    const allowed = [...this.channels.values()].some((c) => c.name.startsWith(`projects/${match[1]}/locations/${match[2]}/backupChannels/`) && c.destinationProject === `projects/${planProject}`);
    if (!allowed) {
      throw failedPrecondition(`cluster ${cluster} cannot be backed up into project ${planProject}: no backup channel in projects/${match[1]}/locations/${match[2]} has destinationProject projects/${planProject}`);
    }
  }

  createBackupChannel(parent: string, backupChannelId: string, body: { destinationProject: string; labels?: Record<string, string> }): Promise<GkeOperation> {
    return this.faults.call('createBackupChannel', `${parent}/backupChannels/${backupChannelId}`, () => {
      parseLocation(parent);
      checkId('backup channel', backupChannelId);
      const name = `${parent}/backupChannels/${backupChannelId}`;
      if (this.channels.has(name)) throw alreadyExists(name);
      if (!/^projects\/[^/]+$/.test(body.destinationProject)) throw invalidArgument(`destinationProject ${body.destinationProject} is not projects/{projectId} or projects/{projectNumber}`);
      this.channels.set(name, { name, destinationProject: body.destinationProject, uid: randomUUID(), createTime: iso(this.options.clock.now().getTime()) });
      return this.toOperation(this.recordOperation(parent, this.immediate('create', name, 'channel')));
    });
  }

  getBackupChannel(name: string): Promise<GkeBackupChannel | undefined> {
    return this.faults.call('getBackupChannel', name, () => this.channelView(name));
  }

  private channelView(name: string): GkeBackupChannel | undefined {
    const channel = this.channels.get(name);
    return channel === undefined ? undefined : structuredClone(channel);
  }

  private checkPlanSpec(spec: Omit<GkeBackupPlanSpec, 'cluster'>): void {
    if (!(Number.isInteger(spec.backupRetainDays) && spec.backupRetainDays >= 0 && spec.backupRetainDays <= 365 * 20)) {
      throw invalidArgument(`backupRetainDays must be an integer from 0 to 7300, got ${spec.backupRetainDays}`);
    }
    // An empty schedule is a plan for manual backups only, which the API allows.
    if (spec.cronSchedule !== '' && spec.cronSchedule.trim().split(/\s+/).length !== 5) {
      throw invalidArgument(`cronSchedule ${JSON.stringify(spec.cronSchedule)} is not a standard cron expression`);
    }
  }

  private planPolicy(spec: Omit<GkeBackupPlanSpec, 'cluster'>, current?: GkeBackupPlan): Pick<GkeBackupPlan, 'backupSchedule' | 'retentionPolicy' | 'backupConfig'> {
    return {
      backupSchedule: { ...(spec.cronSchedule === '' ? {} : { cronSchedule: spec.cronSchedule }), paused: current?.backupSchedule?.paused ?? false },
      retentionPolicy: {
        backupRetainDays: spec.backupRetainDays,
        backupDeleteLockDays: current?.retentionPolicy?.backupDeleteLockDays ?? 0,
        locked: current?.retentionPolicy?.locked ?? false,
      },
      backupConfig: { allNamespaces: spec.allNamespaces, includeVolumeData: spec.includeVolumeData, includeSecrets: spec.includeSecrets },
    };
  }

  private planView(name: string): Record<string, unknown> | undefined {
    const record = this.plans.get(name);
    return record === undefined ? undefined : { '@type': 'type.googleapis.com/google.cloud.gkebackup.v1.BackupPlan', ...structuredClone(record.plan) };
  }

  private restorePlanView(name: string): Record<string, unknown> | undefined {
    const record = this.restorePlans.get(name);
    if (record === undefined) return undefined;
    return {
      '@type': 'type.googleapis.com/google.cloud.gkebackup.v1.RestorePlan',
      name: record.name,
      uid: record.uid,
      backupPlan: record.backupPlan,
      cluster: record.cluster,
      createTime: iso(record.createdAt),
      state: 'READY',
    };
  }

  private immediate(verb: 'create' | 'update', target: string, view: 'plan' | 'restorePlan' | 'channel'): OperationTarget {
    return { kind: 'immediate', verb, target, view };
  }

  private recordOperation(location: string, target: OperationTarget): OperationRecord {
    const now = this.now();
    const operation: OperationRecord = {
      name: `${location}/operations/operation-${now}-${randomBytes(8).toString('hex')}`,
      createdAt: now,
      target,
    };
    this.operations.set(operation.name, operation);
    return operation;
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

  private restoreState(stored: RestoreRecord): GkeRestoreState {
    const now = this.now();
    return now < stored.startAt ? 'CREATING' : now < stored.endAt ? 'IN_PROGRESS' : stored.outcome;
  }

  private toRestore(stored: RestoreRecord): GkeRestore {
    const state = this.restoreState(stored);
    const ended = state === 'SUCCEEDED' || state === 'FAILED';
    return {
      ...structuredClone(stored.restore),
      state,
      ...(state === 'FAILED' ? { stateReason: stored.reason ?? 'restore failed' } : {}),
      ...(ended ? { completeTime: iso(stored.endAt) } : {}),
    };
  }

  /** What an operation reports, read from the resource it works on (as the real LRO is). */
  private progressOf(target: OperationTarget): {
    target: string;
    verb: string;
    done: boolean;
    endTime?: string;
    error?: string;
    response?: Record<string, unknown>;
  } {
    switch (target.kind) {
      case 'backup': {
        const name = `${target.plan}/backups/${target.backupId}`;
        const stored = this.plans.get(target.plan)?.backups.get(target.backupId);
        if (stored === undefined) return { target: name, verb: 'create', done: false };
        const backup = this.toBackup(stored);
        if (backup.state === 'SUCCEEDED') {
          return { target: name, verb: 'create', done: true, endTime: iso(stored.endAt), response: { '@type': 'type.googleapis.com/google.cloud.gkebackup.v1.Backup', ...backup } };
        }
        if (backup.state === 'FAILED') return { target: name, verb: 'create', done: true, endTime: iso(stored.endAt), error: backup.stateReason ?? 'backup failed' };
        return { target: name, verb: 'create', done: false };
      }
      case 'restore': {
        const name = `${target.restorePlan}/restores/${target.restoreId}`;
        const stored = this.restorePlans.get(target.restorePlan)?.restores.get(target.restoreId);
        if (stored === undefined) return { target: name, verb: 'create', done: false };
        const restore = this.toRestore(stored);
        if (restore.state === 'SUCCEEDED') {
          return { target: name, verb: 'create', done: true, endTime: iso(stored.endAt), response: { '@type': 'type.googleapis.com/google.cloud.gkebackup.v1.Restore', ...restore } };
        }
        if (restore.state === 'FAILED') return { target: name, verb: 'create', done: true, endTime: iso(stored.endAt), error: restore.stateReason ?? 'restore failed' };
        return { target: name, verb: 'create', done: false };
      }
      case 'immediate': {
        const response =
          target.view === 'plan' ? this.planView(target.target) : target.view === 'restorePlan' ? this.restorePlanView(target.target) : (this.channelView(target.target) as Record<string, unknown> | undefined);
        return { target: target.target, verb: target.verb, done: true, ...(response === undefined ? {} : { response }) };
      }
    }
  }

  private toOperation(operation: OperationRecord): GkeOperation {
    const progress = this.progressOf(operation.target);
    const endTime = progress.endTime ?? (progress.done ? iso(operation.createdAt) : undefined);
    return {
      name: operation.name,
      done: progress.done,
      metadata: {
        '@type': 'type.googleapis.com/google.cloud.gkebackup.v1.OperationMetadata',
        createTime: iso(operation.createdAt),
        target: progress.target,
        verb: progress.verb,
        ...(endTime === undefined ? {} : { endTime }),
      },
      ...(progress.error === undefined ? {} : { error: { code: 13, message: progress.error } }),
      ...(progress.response === undefined ? {} : { response: progress.response }),
    };
  }
}

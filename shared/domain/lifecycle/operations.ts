/**
 * Operations as stored state machines: pure functions over plain data, no I/O. The engine
 * (shared/engine) reads documents, calls these, and writes what they return.
 */
import type { InstanceRecord, LifecycleCommandType } from '../../events/index.js';

export const OPERATION_TYPES = ['create', 'upgrade', 'restore', 'delete', 'disaster-recovery', 'backup', 'module-apply', 'remediate', 'restore-drill'] as const;
export type OperationType = (typeof OPERATION_TYPES)[number];

export const OPERATION_OF_COMMAND: Record<LifecycleCommandType, OperationType> = {
  'instance.create': 'create',
  'instance.upgrade': 'upgrade',
  'instance.restore': 'restore',
  'instance.delete': 'delete',
  'instance.disaster-recovery': 'disaster-recovery',
  'instance.backup': 'backup',
  'instance.module-apply': 'module-apply',
  'instance.remediate': 'remediate',
  'instance.restore-drill': 'restore-drill',
};


export type OperationStatus = 'accepted' | 'running' | 'succeeded' | 'failed' | 'stuck' | 'abandoned';
export type StepStatus = 'pending' | 'starting' | 'running' | 'succeeded' | 'failed';
export type StepKind =
  | 'sql-backup'
  | 'gke-backup'
  | 'executor-run'
  | 'approval'
  | 'sql-configure-backups'
  | 'gke-ensure-backup-plan'
  | 'verify-backup-policy'
  | 'sql-restore-backup'
  | 'sql-clone'
  | 'gke-restore'
  | 'sql-final-backup-delete'
  | 'sql-create-throwaway'
  | 'sql-restore-latest'
  | 'drill-verify'
  | 'sql-delete-throwaway'
  | 'drill-verdict';

export type StepParams = Record<string, string | number | boolean>;

export interface Step {
  name: string;
  kind: StepKind;
  /** Steps that must have succeeded before this one may start. */
  after: string[];
  params: StepParams;
  /** Changes the application or its data: once started, a failure needs a person. */
  destructive: boolean;
  status: StepStatus;
  attempts: number;
  /** Who claimed the step and until when; a claim left by a crash expires. */
  claim: { token: string; until: string } | null;
  /** What the step started: backup run id, GKE backup name, executor run key. */
  handles: Record<string, string>;
  /**
   * An attempt's call may have taken effect and no service has yet said how it ended (a crash
   * after the claim, a timeout, an answer lost on the way back): until a service does, the
   * step is in flight, whatever its status says. Absent on documents written before it existed.
   */
  mayHaveStarted?: boolean;
  /** A retried step waits until then. */
  notBefore: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
}

export interface OperationRecord {
  id: string;
  type: OperationType;
  instanceId: string;
  status: OperationStatus;
  steps: Step[];
  params: StepParams;
  actor: string;
  reason: string;
  causeEventId: string;
  createdAt: string;
  updatedAt: string;
  /** Past this, a running operation is stuck. */
  deadline: string;
  /** When the reconciler should look at it next. */
  nextRunAt: string;
  finishedAt: string | null;
  failure: { step: string; reason: string } | null;
  result: Record<string, string | number | boolean> | null;
  stuckSince: string | null;
  abandoned: { by: string; why: string; at: string } | null;
  /** For operations that need a second person: who asked, who approved. */
  approval: { requestedBy: string; approvedBy: string | null; approvedAt: string | null } | null;
  /** What the instance becomes when the operation succeeds (new version, region, resources...). */
  onSuccess: Partial<Pick<InstanceRecord, 'version' | 'region' | 'resources'>> & { status?: InstanceRecord['status'] };
}

export interface EngineTimings {
  /** How long a claimed step may stay in `starting` before another worker may take it. */
  claimMs: number;
  /** How often running steps are polled. */
  pollMs: number;
  /** First delay after a retryable failure; doubled per attempt up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** A step failing retryably this many times fails for good. */
  maxAttempts: number;
  /**
   * How long after a step's first claim the executor may still take its run up; past that the
   * runner refuses the request, so a run it does not know of will never start.
   */
  executorPickupMs: number;
  deadlineMs: Record<OperationType, number>;
}

export const DEFAULT_TIMINGS: EngineTimings = {
  // Longer than any function's timeout (topology.ts), so a live worker never holds an expired claim.
  claimMs: 10 * 60_000,
  pollMs: 30_000,
  backoffMs: 15_000,
  maxBackoffMs: 10 * 60_000,
  maxAttempts: 12,
  executorPickupMs: 15 * 60_000,
  deadlineMs: {
    create: 3 * 3_600_000,
    upgrade: 4 * 3_600_000,
    restore: 4 * 3_600_000,
    // A prod delete waits for a second person's approval.
    delete: 24 * 3_600_000,
    'disaster-recovery': 6 * 3_600_000,
    backup: 2 * 3_600_000,
    // One executor run (a Terraform plan or apply of one module).
    'module-apply': 2 * 3_600_000,
    remediate: 3_600_000,
    // Creating, restoring into and deleting a throwaway Cloud SQL instance.
    'restore-drill': 6 * 3_600_000,
  },
};

/** The operation an event creates has an id derived from the event id, so a second create collides. */
export function operationIdFor(eventId: string): string {
  return `op-${eventId}`;
}

/** The key an executor run or a backup carries: one per operation and step. */
export function sideEffectKey(operationId: string, stepName: string): string {
  return `${operationId}:${stepName}`;
}

function isDue(at: string | null, now: Date): boolean {
  return at === null || Date.parse(at) <= now.getTime();
}

/**
 * True while the step's side effect may be going on somewhere: claimed or running, or an
 * earlier attempt may have taken effect and no service has said since how it ended.
 * "No record here" never means idle: only a service's answer settles a step.
 */
export function isUnsettled(step: Step): boolean {
  if (step.status === 'starting' || step.status === 'running') return true;
  return step.mayHaveStarted === true && step.status !== 'succeeded';
}

/** True once a step failed: nothing new starts, what may still run is drained or confirmed idle. */
export function isFailing(operation: OperationRecord): boolean {
  return operation.steps.some((s) => s.status === 'failed');
}

function claimExpired(step: Step, now: Date): boolean {
  return step.claim === null || Date.parse(step.claim.until) <= now.getTime();
}

/** Steps that may be claimed now: pending with their predecessors done, or left starting by a crash. */
export function claimableSteps(operation: OperationRecord, now: Date): Step[] {
  if (operation.status !== 'running') return [];
  // Once a step failed nothing starts, not even again: what an earlier attempt may have begun
  // is confirmed with its service instead (stepsToConfirm).
  if (isFailing(operation)) return [];
  const done = new Set(operation.steps.filter((s) => s.status === 'succeeded').map((s) => s.name));
  return operation.steps.filter((s) => {
    if (s.status === 'pending') return s.after.every((name) => done.has(name)) && isDue(s.notBefore, now);
    if (s.status === 'starting') return claimExpired(s, now);
    return false;
  });
}

/**
 * Unsettled steps nobody is looking after: not running (those are polled), not held by a live
 * claim. Their service must be asked whether anything of theirs still runs before a failed or
 * stuck operation may end. Only asked for once the operation is failing or stuck.
 */
export function stepsToConfirm(operation: OperationRecord, now: Date): Step[] {
  return operation.steps.filter((s) => isUnsettled(s) && s.status !== 'running' && (s.status !== 'starting' || claimExpired(s, now)));
}

/**
 * The service said nothing of this step runs (it never started, or it ended unrecorded):
 * settled. A step left starting goes back to pending; it will not be started again, since
 * its operation is failing or stuck.
 */
export function confirmIdle(operation: OperationRecord, name: string, now: Date): OperationRecord {
  const s = stepNamed(operation, name);
  if (!isUnsettled(s) || s.status === 'running') return operation;
  return withStep(
    operation,
    name,
    (x) => ({
      ...x,
      status: x.status === 'starting' ? 'pending' : x.status,
      claim: null,
      mayHaveStarted: false,
      error: x.error ?? 'not completed; its service reported nothing running',
    }),
    now,
  );
}

/** Steps whose side effect runs and must be polled for its outcome. */
export function runningSteps(operation: OperationRecord): Step[] {
  return operation.steps.filter((s) => s.status === 'running');
}

function withStep(operation: OperationRecord, name: string, change: (s: Step) => Step, now: Date): OperationRecord {
  const at = now.toISOString();
  return {
    ...operation,
    updatedAt: at,
    steps: operation.steps.map((s) => (s.name === name ? change(s) : s)),
  };
}

function stepNamed(operation: OperationRecord, name: string): Step {
  const found = operation.steps.find((s) => s.name === name);
  if (!found) throw new Error(`operation ${operation.id} has no step ${name}`);
  return found;
}

/** Moves a claimable step to `starting` under a claim; undefined when it is not claimable. */
export function claimStep(
  operation: OperationRecord,
  name: string,
  token: string,
  now: Date,
  timings: EngineTimings = DEFAULT_TIMINGS,
): OperationRecord | undefined {
  if (!claimableSteps(operation, now).some((s) => s.name === name)) return undefined;
  const until = new Date(now.getTime() + timings.claimMs).toISOString();
  const claimed = withStep(
    operation,
    name,
    (s) => ({
      ...s,
      status: 'starting',
      attempts: s.attempts + 1,
      // Taking over a claim that expired: the crashed attempt may have sent its call.
      mayHaveStarted: s.mayHaveStarted === true || s.status === 'starting',
      claim: { token, until },
      startedAt: s.startedAt ?? now.toISOString(),
      notBefore: null,
    }),
    now,
  );
  return { ...claimed, nextRunAt: earliest(claimed.nextRunAt, until, now) };
}

function earliest(current: string, candidate: string, now: Date): string {
  // nextRunAt in the past means "due now"; keep the sooner of the two future times.
  const c = Math.max(Date.parse(current), now.getTime());
  return new Date(Math.min(c, Date.parse(candidate))).toISOString();
}

/** True when the step is still held by this claim (nobody took it over after expiry). */
export function holdsClaim(operation: OperationRecord, name: string, token: string): boolean {
  const s = stepNamed(operation, name);
  return s.status === 'starting' && s.claim?.token === token;
}

/** Records what a step started; it is now running until its outcome is known. */
export function markStepRunning(
  operation: OperationRecord,
  name: string,
  handles: Record<string, string>,
  now: Date,
): OperationRecord {
  return withStep(operation, name, (s) => ({ ...s, status: 'running', claim: null, mayHaveStarted: true, handles: { ...s.handles, ...handles } }), now);
}

/**
 * Records a step's outcome as its service gave it (a poll, a result, a refusal): settled.
 * Only a step in flight can finish; anything else is a no-op.
 */
export function finishStep(
  operation: OperationRecord,
  name: string,
  outcome: { ok: true; handles?: Record<string, string> } | { ok: false; error: string; handles?: Record<string, string> },
  now: Date,
): OperationRecord {
  const s = stepNamed(operation, name);
  if (s.status !== 'running' && s.status !== 'starting') return operation;
  return withStep(operation, name, (current) => ended(current, outcome, now, false), now);
}

function ended(
  step: Step,
  outcome: { ok: true; handles?: Record<string, string> } | { ok: false; error: string; handles?: Record<string, string> },
  now: Date,
  mayHaveStarted: boolean,
): Step {
  return {
    ...step,
    status: outcome.ok ? 'succeeded' : 'failed',
    claim: null,
    mayHaveStarted,
    handles: { ...step.handles, ...(outcome.handles ?? {}) },
    finishedAt: now.toISOString(),
    error: outcome.ok ? null : outcome.error,
  };
}

/**
 * A step that failed on our side, not by its service's word about its work: a start refused
 * or given up, a poll that cannot be answered (a permission lost). The step fails, but stays in
 * flight until its service confirms idle when anything it started may still run: always for a
 * running step, for a starting one when any attempt may have taken effect.
 */
export function failUnconfirmed(operation: OperationRecord, name: string, error: string, now: Date, mayHaveLanded: boolean): OperationRecord {
  const s = stepNamed(operation, name);
  if (s.status !== 'starting' && s.status !== 'running') return operation;
  const unsettled = s.status === 'running' || s.mayHaveStarted === true || mayHaveLanded;
  return withStep(operation, name, (current) => ended(current, { ok: false, error }, now, unsettled), now);
}

/**
 * A retryable failure of a start: back to pending after a backoff, or failed once attempts
 * run out. `mayHaveLanded` is false only when the service refused the call (a 409 or 429);
 * otherwise the step stays in flight, and its next attempt looks up what this one began.
 */
export function retryStep(
  operation: OperationRecord,
  name: string,
  error: string,
  now: Date,
  timings: EngineTimings = DEFAULT_TIMINGS,
  mayHaveLanded = true,
): OperationRecord {
  const s = stepNamed(operation, name);
  if (s.attempts >= timings.maxAttempts) {
    return failUnconfirmed(operation, name, `gave up after ${s.attempts} attempts: ${error}`, now, mayHaveLanded);
  }
  const delay = Math.min(timings.maxBackoffMs, timings.backoffMs * 2 ** Math.max(0, s.attempts - 1));
  const notBefore = new Date(now.getTime() + delay).toISOString();
  const retried = withStep(
    operation,
    name,
    (x) => ({ ...x, status: 'pending', claim: null, notBefore, error, mayHaveStarted: x.mayHaveStarted === true || mayHaveLanded }),
    now,
  );
  return { ...retried, nextRunAt: earliest(retried.nextRunAt, notBefore, now) };
}

export type Verdict =
  | { kind: 'continue' }
  | { kind: 'succeeded' }
  | { kind: 'failed'; step: string; reason: string };

/** Whether the operation is over: any failed step fails it; all succeeded ends it. */
export function verdictOf(operation: OperationRecord): Verdict {
  const failed = operation.steps.find((s) => s.status === 'failed');
  // A failed operation ends only once its other work is settled by its service's word, so the
  // lease it releases never leaves a restore or a backup still running on the instance.
  if (failed && operation.steps.some(isUnsettled)) return { kind: 'continue' };
  if (failed) return { kind: 'failed', step: failed.name, reason: failed.error ?? 'failed' };
  if (operation.steps.every((s) => s.status === 'succeeded')) return { kind: 'succeeded' };
  return { kind: 'continue' };
}

/** When the reconciler should look again: now if something is claimable, else at the next poll or retry. */
export function scheduleNextRun(operation: OperationRecord, now: Date, timings: EngineTimings = DEFAULT_TIMINGS): OperationRecord {
  if (claimableSteps(operation, now).length > 0) return { ...operation, nextRunAt: now.toISOString() };
  const times: number[] = [now.getTime() + timings.pollMs];
  for (const s of operation.steps) {
    if (s.status === 'pending' && s.notBefore !== null) times.push(Date.parse(s.notBefore));
    if (s.status === 'starting' && s.claim !== null) times.push(Date.parse(s.claim.until));
  }
  const next = Math.max(now.getTime(), Math.min(...times, Date.parse(operation.deadline)));
  return { ...operation, nextRunAt: new Date(next).toISOString() };
}

/** The operation's end, and what it leaves on the instance. */
export function endOperation(
  operation: OperationRecord,
  instance: InstanceRecord,
  verdict: Exclude<Verdict, { kind: 'continue' }>,
  now: Date,
): { operation: OperationRecord; instance: InstanceRecord } {
  const at = now.toISOString();
  const result = verdict.kind === 'succeeded' ? resultOf(operation) : null;
  if (result !== null && operation.type === 'disaster-recovery') {
    result.recoveryTimeSeconds = Math.round((now.getTime() - Date.parse(operation.createdAt)) / 1000);
  }
  const ended: OperationRecord = {
    ...operation,
    status: verdict.kind,
    updatedAt: at,
    finishedAt: at,
    nextRunAt: at,
    failure: verdict.kind === 'failed' ? { step: verdict.step, reason: verdict.reason } : null,
    result,
  };
  const ownsLease = instance.lease?.operationId === operation.id;
  const next: InstanceRecord = {
    ...instance,
    lease: ownsLease ? null : instance.lease,
    status: ownsLease ? instanceStatusAfter(operation, verdict) : instance.status,
    generation: instance.generation + 1,
    updatedAt: at,
  };
  if (ownsLease && verdict.kind === 'succeeded') {
    // The status is set by instanceStatusAfter; the rest is what the operation changed.
    if (operation.onSuccess.version !== undefined) next.version = operation.onSuccess.version;
    if (operation.onSuccess.region !== undefined) next.region = operation.onSuccess.region;
    if (operation.onSuccess.resources !== undefined) next.resources = operation.onSuccess.resources;
  }
  return { operation: ended, instance: next };
}

/** True once a step that changes the application or its data has started. */
export function touchedApplication(operation: OperationRecord): boolean {
  return operation.steps.some((s) => s.destructive && s.status !== 'pending');
}

function instanceStatusAfter(operation: OperationRecord, verdict: Exclude<Verdict, { kind: 'continue' }>): InstanceRecord['status'] {
  if (verdict.kind === 'succeeded') return operation.onSuccess.status ?? 'active';
  // An instance that never came up, or whose application or data a failed step may have
  // changed, waits for a person; a failure before anything destructive leaves it as it was.
  if (operation.type === 'create' || operation.type === 'disaster-recovery') return 'failed';
  return touchedApplication(operation) ? 'failed' : 'active';
}

function resultOf(operation: OperationRecord): Record<string, string | number | boolean> {
  const result: Record<string, string | number | boolean> = {};
  for (const s of operation.steps) {
    for (const [key, value] of Object.entries(s.handles)) result[`${s.name}.${key}`] = value;
  }
  if (operation.type === 'upgrade') {
    result.fromVersion = String(operation.params.fromVersion);
    result.version = String(operation.params.targetVersion);
  }
  if (operation.type === 'disaster-recovery') {
    // Recovery point: how old the backups were when recovery began; recovery time: how long it took.
    for (const key of ['recoveryPointSeconds', 'sqlBackupAgeSeconds', 'gkeBackupAgeSeconds']) {
      const value = operation.params[key];
      if (value !== undefined) result[key] = value;
    }
  }
  return result;
}

/** Past its deadline, a running operation is stuck (its lease stays until it is confirmed idle). */
export function markStuck(operation: OperationRecord, now: Date, timings: EngineTimings = DEFAULT_TIMINGS): OperationRecord {
  const at = now.toISOString();
  return {
    ...operation,
    status: 'stuck',
    stuckSince: at,
    updatedAt: at,
    nextRunAt: new Date(now.getTime() + timings.pollMs).toISOString(),
  };
}

export function isPastDeadline(operation: OperationRecord, now: Date): boolean {
  return operation.status === 'running' && Date.parse(operation.deadline) <= now.getTime();
}

/** Steps whose work may still be going on somewhere and must be confirmed idle. */
export function stepsInFlight(operation: OperationRecord): Step[] {
  return operation.steps.filter(isUnsettled);
}

/** Ends a stuck operation: abandoned by an operator, or failed once nothing it started still runs. */
export function releaseStuck(
  operation: OperationRecord,
  instance: InstanceRecord,
  how: { kind: 'abandoned'; by: string; why: string } | { kind: 'confirmed-idle' },
  now: Date,
): { operation: OperationRecord; instance: InstanceRecord } {
  const at = now.toISOString();
  const touched = touchedApplication(operation) || operation.type === 'create' || operation.type === 'disaster-recovery';
  const ownsLease = instance.lease?.operationId === operation.id;
  const ended: OperationRecord =
    how.kind === 'abandoned'
      ? { ...operation, status: 'abandoned', abandoned: { by: how.by, why: how.why, at }, finishedAt: at, updatedAt: at }
      : {
          ...operation,
          status: 'failed',
          failure: { step: stepsInFlight(operation)[0]?.name ?? 'deadline', reason: 'passed its deadline; released once nothing it started was still running' },
          finishedAt: at,
          updatedAt: at,
        };
  return {
    operation: ended,
    instance: {
      ...instance,
      lease: ownsLease ? null : instance.lease,
      status: ownsLease ? (touched ? 'failed' : 'active') : instance.status,
      generation: instance.generation + 1,
      updatedAt: at,
    },
  };
}

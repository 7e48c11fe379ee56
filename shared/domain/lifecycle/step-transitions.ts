/**
 * A step's life inside its operation: which steps may be claimed, claiming one, recording what it
 * started and how it ended, retrying it, confirming it idle, and when to look again. Pure
 * functions over the record: each returns a new one.
 */
import { DEFAULT_TIMINGS, type EngineTimings, type OperationRecord, type Step } from './model.js';

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
 * Records what a running step has seen so far (a health gate's probes), only when its handles
 * still hold what the observation was based on: of two racing observers, one is kept.
 */
export function recordProgress(operation: OperationRecord, name: string, handles: Record<string, string>, basedOn: Record<string, string>, now: Date): OperationRecord {
  const s = stepNamed(operation, name);
  if (s.status !== 'running') return operation;
  if (Object.entries(basedOn).some(([key, value]) => (s.handles[key] ?? '0') !== value)) return operation;
  return withStep(operation, name, (x) => ({ ...x, handles: { ...x.handles, ...handles } }), now);
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

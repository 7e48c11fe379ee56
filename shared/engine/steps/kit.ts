/**
 * What every step runner shares: the runner's shape, reading a step's parameters and handles,
 * and asking Cloud SQL and the executor whether what a step started has settled. Imports no
 * runner: every step file imports this one, and the index imports them all.
 */
import { ControlPlaneError } from '../../errors.js';
import type { EngineTimings, OperationRecord, Step, StepKind } from '../../domain/lifecycle/operations.js';
import type { SqlOperation } from '../../ports.js';
import type { EngineDeps } from '../deps.js';

export type StartResult = { kind: 'running'; handles: Record<string, string> };
export type PollResult =
  /** `progress`: what the step saw so far (a gate's probes), recorded when its handles still hold `basedOn`. */
  | { kind: 'running'; progress?: { handles: Record<string, string>; basedOn: Record<string, string> } }
  | { kind: 'succeeded'; handles?: Record<string, string> }
  | { kind: 'failed'; error: string; handles?: Record<string, string> }
  /** Ended part-way through (see RunState): failed, but in flight until a person says otherwise. */
  | { kind: 'interrupted'; error: string };

export interface StepRunner {
  /** Starts the step's side effect, or finds the one an earlier attempt started. */
  start(op: OperationRecord, step: Step): Promise<StartResult>;
  /** Reads the outcome of what the step started. */
  poll(op: OperationRecord, step: Step): Promise<PollResult>;
  /** True when nothing the step started is still running (for releasing a stuck operation). */
  isIdle(op: OperationRecord, step: Step): Promise<boolean>;
}

/** The runner of every step kind. */
export type Runners = Record<StepKind, StepRunner>;

export type StepDeps = Pick<EngineDeps, 'cloudSql' | 'gkeBackup' | 'executor' | 'health' | 'clock' | 'timings' | 'policy'>;

/** A parameter of the step, else of the operation; a missing one is a bug, not a retry. */
export function param(op: OperationRecord, step: Step, name: string): string {
  const value = step.params[name] ?? op.params[name];
  if (value === undefined || value === '') {
    throw new ControlPlaneError('failed-precondition', `operation ${op.id} step ${step.name} lacks ${name}`, { retryable: false });
  }
  return String(value);
}

/** What the step recorded when it started; its absence means the record was lost. */
export function handle(step: Step, name: string): string {
  const value = step.handles[name];
  if (value === undefined) throw new ControlPlaneError('failed-precondition', `step ${step.name} recorded no ${name}`, { retryable: false });
  return value;
}

/**
 * Whether Cloud SQL runs anything this step may have started. With its operation's name, that
 * operation (PENDING counts: Cloud SQL queues work behind a busy instance); without one, every
 * operation on the instance inserted since the step was first claimed, of the given types.
 * An instance that does not exist runs nothing.
 */
export async function sqlIdle(
  deps: Pick<StepDeps, 'cloudSql'>,
  project: string,
  instance: string,
  step: Step,
  operationTypes?: readonly string[],
): Promise<boolean> {
  const name = step.handles.sqlOperation;
  if (name !== undefined) {
    const operation = await deps.cloudSql.getOperation(project, name);
    return operation === undefined || operation.status === 'DONE';
  }
  const since = Date.parse(step.startedAt ?? new Date(0).toISOString());
  let page;
  try {
    page = await deps.cloudSql.listOperations(project, instance, { maxResults: 50 });
  } catch (error) {
    if (error instanceof ControlPlaneError && error.code === 'not-found') return true;
    throw error;
  }
  return !page.items.some(
    (o) => o.status !== 'DONE' && Date.parse(o.insertTime) >= since && (operationTypes === undefined || operationTypes.includes(o.operationType)),
  );
}

export function sqlOperationOutcome(operation: SqlOperation | undefined, what: string): PollResult {
  if (operation === undefined) return { kind: 'failed', error: `the Cloud SQL operation of ${what} no longer exists` };
  if (operation.status !== 'DONE') return { kind: 'running' };
  const error = operation.error?.errors[0];
  return error ? { kind: 'failed', error: `${what} failed: ${error.code}: ${error.message}` } : { kind: 'succeeded' };
}

/**
 * The time after which the runner must refuse the step's run request (the runner's contract in
 * ports.ts): fixed by the step's first claim, so every attempt asks with the same one. Until
 * then a run the executor does not know of may still be taken up; after it, never.
 */
export function refuseAfterOf(step: Step, timings: Pick<EngineTimings, 'executorPickupMs'>): string {
  const first = Date.parse(step.startedAt ?? new Date(0).toISOString());
  return new Date(first + timings.executorPickupMs).toISOString();
}

/** An executor run's state read as a step outcome; "unknown" fails it only once the runner must refuse it. */
export async function executorOutcome(deps: Pick<StepDeps, 'executor' | 'clock' | 'timings'>, step: Step, runKey: string): Promise<PollResult> {
  const status = await deps.executor.getRunStatus(runKey);
  if (status.state === 'succeeded') return { kind: 'succeeded', handles: { ...status.outputs, runKey } };
  if (status.state === 'failed') return { kind: 'failed', error: `executor run ${runKey} failed: ${status.detail ?? 'no detail'}`, handles: { ...status.outputs, runKey } };
  if (status.state === 'interrupted') return { kind: 'interrupted', error: `executor run ${runKey} was interrupted: ${status.detail ?? 'no detail'}` };
  if (status.state === 'unknown' && deps.clock.now().getTime() > Date.parse(refuseAfterOf(step, deps.timings))) {
    return { kind: 'failed', error: `the executor never took up run ${runKey}; it refuses the request since ${refuseAfterOf(step, deps.timings)}` };
  }
  return { kind: 'running' };
}

/** Whether an executor run may still be going on, or still start (unknown before its refuse-after time). */
export async function executorIdle(deps: Pick<StepDeps, 'executor' | 'clock' | 'timings'>, step: Step, runKey: string): Promise<boolean> {
  const status = await deps.executor.getRunStatus(runKey);
  // An interrupted run may have left work half done and a lock held: only a person can say it is over.
  if (status.state === 'queued' || status.state === 'running' || status.state === 'interrupted') return false;
  if (status.state === 'unknown') return deps.clock.now().getTime() > Date.parse(refuseAfterOf(step, deps.timings));
  return true;
}


/**
 * The end of an operation: whether its steps say it is over (its verdict), what it records and
 * leaves on the instance when it ends, and the stuck path (past its deadline, kept leased until
 * nothing it started runs, released or abandoned).
 */
import type { InstanceRecord, UpgradeRecord } from '../../events/index.js';
import { migrationsRanOf, preUpgradeBackups } from './health-gates.js';
import { DEFAULT_TIMINGS, type EngineTimings, type OperationRecord, type Step } from './model.js';
import { isUnsettled } from './step-transitions.js';

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
  const deployed = ownsLease ? upgradeDeployed(operation, at) : undefined;
  if (deployed !== undefined) {
    // The new version runs once its rollout succeeded, whether or not the gate after it passed.
    next.version = deployed.toVersion;
    next.lastUpgrade = deployed;
  }
  return { operation: ended, instance: next };
}

/** What an upgrade whose rollout succeeded deployed: recorded on the instance for a rollback. */
function upgradeDeployed(operation: OperationRecord, at: string): UpgradeRecord | undefined {
  if (operation.type !== 'upgrade') return undefined;
  const rollout = operation.steps.find((s) => s.kind === 'executor-run' && s.params.action === 'upgrade');
  if (rollout?.status !== 'succeeded') return undefined;
  const backups = preUpgradeBackups(operation);
  return {
    operationId: operation.id,
    fromVersion: String(operation.params.fromVersion),
    toVersion: String(operation.params.targetVersion),
    migrationsRan: migrationsRanOf(operation),
    rollback: operation.params.rollbackOf !== undefined,
    ...backups,
    at,
  };
}

/** A failed health gate after a change: the instance runs, but not as it should. */
function failedGateAfterChange(operation: OperationRecord, verdict: Exclude<Verdict, { kind: 'continue' }>): boolean {
  if (verdict.kind !== 'failed') return false;
  const step = operation.steps.find((s) => s.name === verdict.step);
  return step?.kind === 'health-check' && step.params.phase === 'after';
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
  if (failedGateAfterChange(operation, verdict)) return 'degraded';
  return touchedApplication(operation) ? 'failed' : statusBefore(operation);
}

/** The instance's status before the operation: a degraded instance's backup leaves it degraded. */
function statusBefore(operation: OperationRecord): InstanceRecord['status'] {
  return operation.onSuccess.status === 'degraded' ? 'degraded' : 'active';
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
      status: ownsLease ? (touched ? 'failed' : statusBefore(operation)) : instance.status,
      generation: instance.generation + 1,
      updatedAt: at,
    },
  };
}

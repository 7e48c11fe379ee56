/**
 * Moving an operation on: poll what its running steps started, claim the steps that may start
 * (claim, then act), record what happened, end it when its steps say so. Every change is its
 * own short transaction over fresh state, so the reconciler and result events may race.
 */
import { randomUUID } from 'node:crypto';
import {
  claimStep,
  claimableSteps,
  endOperation,
  finishStep,
  holdsClaim,
  isPastDeadline,
  markStepRunning,
  markStuck,
  releaseStuck,
  retryStep,
  runningSteps,
  scheduleNextRun,
  stepsInFlight,
  verdictOf,
  type OperationRecord,
  type Step,
} from '../domain/operations.js';
import { ControlPlaneError, describeError, isRetryable } from '../errors.js';
import type { InstanceRecord } from '../events/index.js';
import type { StoreTransaction } from '../ports.js';
import type { EngineDeps } from './deps.js';
import { publishOutbox } from './outbox.js';
import { paths } from './paths.js';
import { appendAudit, enqueue, type OutboxEntry } from './records.js';
import type { StepRunner } from './steps.js';
import type { StepKind } from '../domain/operations.js';

export type Runners = Record<StepKind, StepRunner>;

function stepView(s: Step): Record<string, unknown> {
  return { step: s.name, status: s.status, attempts: s.attempts, handles: s.handles, error: s.error };
}

/** Audits every step whose status changed, and the operation's own status change. */
function auditChanges(tx: StoreTransaction, before: OperationRecord, after: OperationRecord, actor: string, now: Date): void {
  for (const next of after.steps) {
    const prev = before.steps.find((s) => s.name === next.name);
    if (prev && prev.status !== next.status) {
      appendAudit(
        tx,
        { actor, action: `step.${next.status}`, instanceId: after.instanceId, operationId: after.id, before: stepView(prev), after: stepView(next), causeEventId: after.causeEventId },
        now,
      );
    }
  }
}

function instanceView(i: InstanceRecord): Record<string, unknown> {
  return { status: i.status, version: i.version, lease: i.lease, generation: i.generation };
}

/** Writes the end of an operation: its record, the instance and its lease, audit, the fact. */
function writeEnd(
  tx: StoreTransaction,
  before: OperationRecord,
  ended: { operation: OperationRecord; instance: InstanceRecord },
  instanceBefore: InstanceRecord,
  actor: string,
  now: Date,
  extra: Record<string, unknown> = {},
): OutboxEntry {
  const { operation, instance } = ended;
  tx.set(paths.operation(operation.id), { ...operation });
  tx.set(paths.instance(instance.id), { ...instance });
  // A deleted instance keeps its record (a tombstone) and its id; its slug may be used again.
  if (operation.type === 'delete' && operation.status === 'succeeded') tx.delete(paths.slug(instance.environment, instance.slug));
  appendAudit(
    tx,
    {
      actor,
      action: `operation.${operation.status}`,
      instanceId: operation.instanceId,
      operationId: operation.id,
      before: { operation: before.status, instance: instanceView(instanceBefore) },
      after: { operation: operation.status, instance: instanceView(instance), failure: operation.failure, result: operation.result },
      causeEventId: operation.causeEventId,
      ...extra,
    },
    now,
  );
  const base = { instanceId: operation.instanceId, actor: operation.actor, reason: operation.reason };
  const ref = { operationId: operation.id, operationType: operation.type };
  switch (operation.status) {
    case 'succeeded':
      return enqueue(tx, { ...base, type: 'operation.succeeded', payload: { ...ref, result: operation.result ?? {} } }, now);
    case 'abandoned':
      return enqueue(tx, { ...base, type: 'operation.abandoned', payload: { ...ref, by: operation.abandoned?.by ?? actor, why: operation.abandoned?.why ?? '' } }, now);
    default:
      return enqueue(
        tx,
        { ...base, type: 'operation.failed', payload: { ...ref, failedStep: operation.failure?.step ?? 'unknown', reason: operation.failure?.reason ?? 'unknown' } },
        now,
      );
  }
}

export interface OperationChange {
  operation: OperationRecord | undefined;
  changed: boolean;
  outbox: OutboxEntry[];
}

/**
 * One transaction: re-read the operation, apply `mutate`, schedule its next look, and end it
 * (releasing the lease, recording the instance) when its steps say it is over.
 */
export async function changeOperation(
  deps: Pick<EngineDeps, 'store' | 'clock' | 'timings'>,
  operationId: string,
  mutate: (op: OperationRecord, now: Date) => OperationRecord | undefined,
  actor = 'system:engine',
): Promise<OperationChange> {
  return deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const op = await tx.get<OperationRecord>(paths.operation(operationId));
    if (op === undefined) return { operation: undefined, changed: false, outbox: [] };
    const live = op.status === 'running' || op.status === 'stuck';
    const mutated = live ? mutate(op, now) : undefined;
    if (mutated === undefined) return { operation: op, changed: false, outbox: [] };
    const verdict = verdictOf(mutated);
    if (verdict.kind === 'continue') {
      auditChanges(tx, op, mutated, actor, now);
      tx.set(paths.operation(op.id), { ...scheduleNextRun(mutated, now, deps.timings) });
      return { operation: mutated, changed: true, outbox: [] };
    }
    // Firestore wants every read of a transaction before its first write.
    const instance = await tx.get<InstanceRecord>(paths.instance(op.instanceId));
    if (instance === undefined) throw new ControlPlaneError('internal', `operation ${op.id} names missing instance ${op.instanceId}`);
    auditChanges(tx, op, mutated, actor, now);
    const ended = endOperation(mutated, instance, verdict, now);
    const fact = writeEnd(tx, op, ended, instance, actor, now);
    return { operation: ended.operation, changed: true, outbox: [fact] };
  });
}

async function commit(
  deps: EngineDeps,
  operationId: string,
  mutate: (op: OperationRecord, now: Date) => OperationRecord | undefined,
  actor?: string,
): Promise<OperationRecord | undefined> {
  const change = await changeOperation(deps, operationId, mutate, actor);
  await publishOutbox(deps, change.outbox);
  return change.changed ? change.operation : undefined;
}

async function pollRunning(deps: EngineDeps, runners: Runners, op: OperationRecord): Promise<boolean> {
  const outcomes = await Promise.all(
    runningSteps(op).map(async (s) => {
      try {
        return { step: s.name, result: await runners[s.kind].poll(op, s) };
      } catch (error) {
        if (isRetryable(error)) {
          deps.log.warn('poll failed; will look again', { operationId: op.id, step: s.name, error: describeError(error) });
          return undefined;
        }
        return { step: s.name, result: { kind: 'failed' as const, error: describeError(error) } };
      }
    }),
  );
  const finished = outcomes.filter((o) => o !== undefined && o.result.kind !== 'running');
  if (finished.length === 0) return false;
  const changed = await commit(deps, op.id, (current, now) => {
    let next = current;
    for (const o of finished) {
      if (o === undefined || o.result.kind === 'running') continue;
      const outcome =
        o.result.kind === 'succeeded'
          ? { ok: true as const, ...(o.result.handles ? { handles: o.result.handles } : {}) }
          : { ok: false as const, error: o.result.error, ...(o.result.handles ? { handles: o.result.handles } : {}) };
      next = finishStep(next, o.step, outcome, now);
    }
    return next === current ? undefined : next;
  });
  return changed !== undefined;
}

/**
 * Claims every step that may start in one transaction, runs their side effects side by side,
 * and records what they started in one more: steps of one operation never contend with each
 * other for its document.
 */
async function startSteps(deps: EngineDeps, runners: Runners, operationId: string, stepNames: readonly string[]): Promise<boolean> {
  const token = randomUUID();
  const claimed = await commit(deps, operationId, (op, now) => {
    let next = op;
    for (const name of stepNames) next = claimStep(next, name, token, now, deps.timings) ?? next;
    return next === op ? undefined : next;
  });
  if (claimed === undefined) return false;
  const mine = claimed.steps.filter((s) => stepNames.includes(s.name) && holdsClaim(claimed, s.name, token));
  const results = await Promise.all(
    mine.map(async (step) => {
      try {
        return { step: step.name, ok: true as const, handles: (await runners[step.kind].start(claimed, step)).handles };
      } catch (error) {
        const message = describeError(error);
        deps.log.warn('step start failed', { operationId, step: step.name, retryable: isRetryable(error), error: message });
        return { step: step.name, ok: false as const, retryable: isRetryable(error), error: message };
      }
    }),
  );
  await commit(deps, operationId, (op, now) => {
    let next = op;
    for (const r of results) {
      if (!holdsClaim(next, r.step, token)) continue;
      if (r.ok) next = markStepRunning(next, r.step, r.handles, now);
      else if (r.retryable) next = retryStep(next, r.step, r.error, now, deps.timings);
      else next = finishStep(next, r.step, { ok: false, error: r.error }, now);
    }
    return next === op ? undefined : next;
  });
  return true;
}

async function handleStuck(deps: EngineDeps, runners: Runners, op: OperationRecord): Promise<void> {
  const inFlight = stepsInFlight(op);
  const idle = await Promise.all(
    inFlight.map(async (s) => {
      try {
        return await runners[s.kind].isIdle(op, s);
      } catch (error) {
        deps.log.warn('could not confirm a stuck step idle', { operationId: op.id, step: s.name, error: describeError(error) });
        return false;
      }
    }),
  );
  if (idle.every(Boolean)) {
    await releaseOperation(deps, op.id, { kind: 'confirmed-idle' }, 'system:reconcile');
    return;
  }
  // Still running somewhere: keep the lease, look again later.
  await commit(deps, op.id, (current, now) => (current.status === 'stuck' ? { ...current, nextRunAt: new Date(now.getTime() + deps.timings.pollMs).toISOString() } : undefined));
}

/** Ends a stuck operation and frees its instance: confirmed idle, or abandoned by an operator. */
export async function releaseOperation(
  deps: EngineDeps,
  operationId: string,
  how: { kind: 'abandoned'; by: string; why: string } | { kind: 'confirmed-idle' },
  actor: string,
): Promise<OperationRecord> {
  const result = await deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const op = await tx.get<OperationRecord>(paths.operation(operationId));
    if (op === undefined) throw new ControlPlaneError('not-found', `no operation ${operationId}`, { retryable: false });
    if (op.status !== 'stuck') {
      throw new ControlPlaneError('failed-precondition', `operation ${operationId} is ${op.status}; only a stuck operation can be released or abandoned`, {
        retryable: false,
      });
    }
    const instance = await tx.get<InstanceRecord>(paths.instance(op.instanceId));
    if (instance === undefined) throw new ControlPlaneError('internal', `operation ${op.id} names missing instance ${op.instanceId}`);
    const ended = releaseStuck(op, instance, how, now);
    const fact = writeEnd(tx, op, ended, instance, actor, now, how.kind === 'abandoned' ? { why: how.why } : { released: 'confirmed-idle' });
    return { operation: ended.operation, fact };
  });
  await publishOutbox(deps, [result.fact]);
  return result.operation;
}

async function markOperationStuck(deps: EngineDeps, operationId: string): Promise<void> {
  const outbox = await deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const op = await tx.get<OperationRecord>(paths.operation(operationId));
    if (op === undefined || !isPastDeadline(op, now)) return [];
    const stuck = markStuck(op, now, deps.timings);
    tx.set(paths.operation(op.id), { ...stuck });
    const stillRunning = stepsInFlight(op).map((s) => s.name);
    appendAudit(
      tx,
      { actor: 'system:reconcile', action: 'operation.stuck', instanceId: op.instanceId, operationId: op.id, before: { status: op.status }, after: { status: 'stuck', stillRunning }, causeEventId: op.causeEventId },
      now,
    );
    const base = { instanceId: op.instanceId, actor: 'system:reconcile', reason: `operation passed its deadline ${op.deadline}` };
    return [
      enqueue(tx, { ...base, type: 'operation.stuck', payload: { operationId: op.id, operationType: op.type, deadline: op.deadline, stillRunning } }, now),
      enqueue(
        tx,
        {
          ...base,
          type: 'alert',
          payload: {
            severity: 'critical',
            summary: `${op.type} operation ${op.id} on ${op.instanceId} is stuck; its lease stays until nothing it started runs, or an operator abandons it`,
            details: { operationId: op.id, deadline: op.deadline, stillRunning },
          },
        },
        now,
      ),
    ];
  });
  await publishOutbox(deps, outbox);
}

export type AdvanceResult = { operationId: string; status: OperationRecord['status'] | 'missing' };

/** Moves one operation as far as it can go now, without waiting for anything to finish. */
export async function advanceOperation(deps: EngineDeps, runners: Runners, operationId: string, maxPasses = 5): Promise<AdvanceResult> {
  for (let pass = 0; pass < maxPasses; pass += 1) {
    const op = await deps.store.get<OperationRecord>(paths.operation(operationId));
    if (op === undefined) return { operationId, status: 'missing' };
    if (op.status !== 'running' && op.status !== 'stuck') return { operationId, status: op.status };
    const now = deps.clock.now();
    if (isPastDeadline(op, now)) {
      await markOperationStuck(deps, operationId);
      continue;
    }
    const polled = await pollRunning(deps, runners, op);
    if (polled) continue;
    if (op.status === 'stuck') {
      if (verdictOf(op).kind === 'continue') await handleStuck(deps, runners, op);
      const after = await deps.store.get<OperationRecord>(paths.operation(operationId));
      return { operationId, status: after?.status ?? 'missing' };
    }
    const claimable = claimableSteps(op, now);
    if (claimable.length === 0) {
      if (Date.parse(op.nextRunAt) <= now.getTime()) {
        await commit(deps, operationId, (current, at) => ({ ...scheduleNextRun(current, at, deps.timings), updatedAt: current.updatedAt }));
      }
      return { operationId, status: op.status };
    }
    const started = await startSteps(deps, runners, operationId, claimable.map((s) => s.name));
    if (!started) return { operationId, status: op.status };
  }
  const last = await deps.store.get<OperationRecord>(paths.operation(operationId));
  return { operationId, status: last?.status ?? 'missing' };
}

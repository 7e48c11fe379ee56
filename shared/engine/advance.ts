/**
 * Moving an operation on: poll what its running steps started, claim the steps that may start
 * (claim, then act), record what happened, end it when its steps say so. Every change is its
 * own short transaction over fresh state, so the reconciler and result events may race.
 */
import { randomUUID } from 'node:crypto';
import {
  claimStep,
  claimableSteps,
  confirmIdle,
  endOperation,
  failUnconfirmed,
  finishStep,
  holdsClaim,
  isFailing,
  isPastDeadline,
  markStepRunning,
  markStuck,
  releaseStuck,
  retryStep,
  runningSteps,
  scheduleNextRun,
  stepsInFlight,
  stepsToConfirm,
  verdictOf,
  type OperationRecord,
  type Step,
} from '../domain/lifecycle/operations.js';
import { ControlPlaneError, describeError, isRetryable, wasRefused } from '../errors.js';
import type { InstanceRecord } from '../events/index.js';
import type { StoreTransaction } from '../ports.js';
import type { EngineDeps } from './deps.js';
import { publishOutbox } from '../store/outbox.js';
import { appendAudit, enqueue, recordInLedger, type LedgerEntry, type OutboxEntry } from '../store/records.js';
import type { StepRunner } from './steps.js';
import type { StepKind } from '../domain/lifecycle/operations.js';
import { paths } from '../store/collections.js';

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
  /** The message this change answers was seen before (its ledger entry exists): nothing was done. */
  duplicate?: boolean;
}

/** The ledger entry of the message a change answers: written in the change's transaction, once. */
export interface LedgerRecord {
  key: string;
  entry: (changed: boolean) => Omit<LedgerEntry, 'recordedAt' | 'expireAt'>;
}

/**
 * One transaction: re-read the operation, apply `mutate`, schedule its next look, and end it
 * (releasing the lease, recording the instance) when its steps say it is over. With `ledger`,
 * the message that asked for the change is recorded in the same transaction, or found seen.
 */
export async function changeOperation(
  deps: Pick<EngineDeps, 'store' | 'clock' | 'timings'>,
  operationId: string,
  mutate: (op: OperationRecord, now: Date) => OperationRecord | undefined,
  actor = 'system:engine',
  ledger?: LedgerRecord,
): Promise<OperationChange> {
  return deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const reads = ledger === undefined ? [paths.operation(operationId)] : [paths.operation(operationId), paths.ledger(ledger.key)];
    const [stored, seen] = await tx.getAll<OperationRecord | LedgerEntry>(reads);
    const op = stored as OperationRecord | undefined;
    if (seen !== undefined) return { operation: op, changed: false, outbox: [], duplicate: true };
    // Written last: Firestore wants every read of a transaction before its first write.
    const record = (changed: boolean) => {
      if (ledger !== undefined) recordInLedger(tx, ledger.key, ledger.entry(changed), now);
    };
    const live = op !== undefined && (op.status === 'running' || op.status === 'stuck');
    const mutated = live ? mutate(op, now) : undefined;
    if (op === undefined || mutated === undefined) {
      record(false);
      return { operation: op, changed: false, outbox: [] };
    }
    const verdict = verdictOf(mutated);
    if (verdict.kind === 'continue') {
      auditChanges(tx, op, mutated, actor, now);
      tx.set(paths.operation(op.id), { ...scheduleNextRun(mutated, now, deps.timings) });
      record(true);
      return { operation: mutated, changed: true, outbox: [] };
    }
    const instance = await tx.get<InstanceRecord>(paths.instance(op.instanceId));
    if (instance === undefined) throw new ControlPlaneError('internal', `operation ${op.id} names missing instance ${op.instanceId}`);
    auditChanges(tx, op, mutated, actor, now);
    const ended = endOperation(mutated, instance, verdict, now);
    const fact = writeEnd(tx, op, ended, instance, actor, now);
    record(true);
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
        // The poll itself was refused (a permission lost, a bad request): not the service's
        // word on the work, which may still run. The step fails but stays to be confirmed.
        return { step: s.name, result: { kind: 'unanswered' as const, error: describeError(error) } };
      }
    }),
  );
  const finished = outcomes.filter((o) => o !== undefined && o.result.kind !== 'running');
  if (finished.length === 0) return false;
  const changed = await commit(deps, op.id, (current, now) => {
    let next = current;
    for (const o of finished) {
      if (o === undefined || o.result.kind === 'running') continue;
      if (o.result.kind === 'unanswered') {
        next = failUnconfirmed(next, o.step, `its outcome could not be read: ${o.result.error}`, now, true);
        continue;
      }
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
 * A claim is used only while enough of it is left for the start's few calls (each under its
 * own deadline) to be sent before it expires: a worker that outlived its claim (a slow
 * instance, a function past its timeout) must not act on a step another worker may hold.
 */
function claimMarginMs(timings: EngineDeps['timings']): number {
  return Math.min(30_000, timings.claimMs / 4);
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
      const until = Date.parse(step.claim?.until ?? '');
      if (!(deps.clock.now().getTime() < until - claimMarginMs(deps.timings))) {
        // Nothing was sent: the claim lapses and the step is taken up again.
        return { step: step.name, ok: false as const, retryable: true, mayHaveLanded: false, error: 'the claim ran out before the step could start' };
      }
      try {
        return { step: step.name, ok: true as const, handles: (await runners[step.kind].start(claimed, step)).handles };
      } catch (error) {
        const message = describeError(error);
        deps.log.warn('step start failed', { operationId, step: step.name, retryable: isRetryable(error), error: message });
        return { step: step.name, ok: false as const, retryable: isRetryable(error), mayHaveLanded: !wasRefused(error), error: message };
      }
    }),
  );
  await commit(deps, operationId, (op, now) => {
    let next = op;
    for (const r of results) {
      if (!holdsClaim(next, r.step, token)) continue;
      if (r.ok) next = markStepRunning(next, r.step, r.handles, now);
      else if (r.retryable) next = retryStep(next, r.step, r.error, now, deps.timings, r.mayHaveLanded);
      else next = failUnconfirmed(next, r.step, r.error, now, r.mayHaveLanded);
    }
    return next === op ? undefined : next;
  });
  return true;
}

/** Asks each step's service whether anything it may have started still runs; errors count as "still running". */
async function idleSteps(deps: EngineDeps, runners: Runners, op: OperationRecord, steps: readonly Step[]): Promise<Step[]> {
  const answers = await Promise.all(
    steps.map(async (s) => {
      try {
        return (await runners[s.kind].isIdle(op, s)) ? s : undefined;
      } catch (error) {
        deps.log.warn('could not confirm a step idle; will ask again', { operationId: op.id, step: s.name, error: describeError(error) });
        return undefined;
      }
    }),
  );
  return answers.filter((s): s is Step => s !== undefined);
}

/**
 * A failing operation starts nothing more; what its steps may have begun is confirmed with
 * their services, and once all is settled the operation ends (in the same transaction).
 */
async function settleFailing(deps: EngineDeps, runners: Runners, op: OperationRecord): Promise<boolean> {
  const unsettled = stepsToConfirm(op, deps.clock.now());
  if (unsettled.length === 0) return false;
  const idle = await idleSteps(deps, runners, op, unsettled);
  if (idle.length === 0) return false;
  const changed = await commit(deps, op.id, (current, now) => {
    let next = current;
    for (const s of idle) {
      // Only what was confirmed, and only if nobody took it up in the meantime.
      const still = stepsToConfirm(next, now).some((x) => x.name === s.name);
      if (still) next = confirmIdle(next, s.name, now);
    }
    return next === current ? undefined : next;
  });
  return changed !== undefined;
}

async function handleStuck(deps: EngineDeps, runners: Runners, op: OperationRecord): Promise<void> {
  const inFlight = stepsInFlight(op);
  // A step under a live claim is being started right now: never idle, whatever its service says.
  const now = deps.clock.now();
  const claimedNow = inFlight.some((s) => s.status === 'starting' && s.claim !== null && Date.parse(s.claim.until) > now.getTime());
  const idle = claimedNow ? [] : await idleSteps(deps, runners, op, inFlight);
  if (!claimedNow && idle.length === inFlight.length) {
    await releaseOperation(deps, op.id, { kind: 'confirmed-idle', steps: inFlight.map(stepState) }, 'system:reconcile');
    return;
  }
  // Still running somewhere: keep the lease, look again later.
  await commit(deps, op.id, (current, at) => (current.status === 'stuck' ? { ...current, nextRunAt: new Date(at.getTime() + deps.timings.pollMs).toISOString() } : undefined));
}

function stepState(s: Step): string {
  return `${s.name}/${s.status}/${s.attempts}`;
}

/**
 * Ends a stuck operation and frees its instance: abandoned by an operator, or confirmed idle,
 * which holds only if its steps in flight are still exactly those the services were asked about.
 */
export async function releaseOperation(
  deps: EngineDeps,
  operationId: string,
  how: { kind: 'abandoned'; by: string; why: string } | { kind: 'confirmed-idle'; steps: readonly string[] },
  actor: string,
): Promise<OperationRecord | undefined> {
  const result = await deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const op = await tx.get<OperationRecord>(paths.operation(operationId));
    if (op === undefined) throw new ControlPlaneError('not-found', `no operation ${operationId}`, { retryable: false });
    if (op.status !== 'stuck') {
      throw new ControlPlaneError('failed-precondition', `operation ${operationId} is ${op.status}; only a stuck operation can be released or abandoned`, {
        retryable: false,
      });
    }
    if (how.kind === 'confirmed-idle' && stepsInFlight(op).map(stepState).join() !== how.steps.join()) return undefined;
    const instance = await tx.get<InstanceRecord>(paths.instance(op.instanceId));
    if (instance === undefined) throw new ControlPlaneError('internal', `operation ${op.id} names missing instance ${op.instanceId}`);
    const ended = releaseStuck(op, instance, how, now);
    const fact = writeEnd(tx, op, ended, instance, actor, now, how.kind === 'abandoned' ? { why: how.why } : { released: 'confirmed-idle' });
    return { operation: ended.operation, fact };
  });
  if (result === undefined) return undefined;
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
    if (isFailing(op)) {
      if (await settleFailing(deps, runners, op)) continue;
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

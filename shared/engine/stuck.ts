/**
 * Operations past their deadline: marked stuck (with an alert), kept leased while anything their
 * steps started may still run, released once every service says nothing does, or abandoned by
 * an operator. "No record here" never means idle: only a service's answer does.
 */
import {
  isPastDeadline,
  markStuck,
  releaseStuck,
  stepsInFlight,
  type OperationRecord,
  type Step,
} from '../domain/lifecycle/operations.js';
import { ControlPlaneError, describeError } from '../errors.js';
import type { InstanceRecord } from '../events/index.js';
import { paths } from '../store/collections.js';
import { publishOutbox } from '../store/outbox.js';
import { appendAudit, enqueue } from '../store/records.js';
import { commit, writeEnd } from './change.js';
import type { EngineDeps } from './deps.js';
import type { Runners } from './steps/index.js';

/** Asks each step's service whether anything it may have started still runs; errors count as "still running". */
export async function idleSteps(deps: EngineDeps, runners: Runners, op: OperationRecord, steps: readonly Step[]): Promise<Step[]> {
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

/** A stuck operation: released when every step in flight is confirmed idle, else looked at again later. */
export async function handleStuck(deps: EngineDeps, runners: Runners, op: OperationRecord): Promise<void> {
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
    const facts = writeEnd(tx, op, ended, instance, actor, now, how.kind === 'abandoned' ? { why: how.why } : { released: 'confirmed-idle' });
    return { operation: ended.operation, facts };
  });
  if (result === undefined) return undefined;
  await publishOutbox(deps, result.facts);
  return result.operation;
}

/** Marks an operation past its deadline stuck, in one transaction with its audit, the fact and an alert. */
export async function markOperationStuck(deps: EngineDeps, operationId: string): Promise<void> {
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
            kind: 'operation-stuck',
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

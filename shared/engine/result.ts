/** An executor run's outcome (from `mi-executor-results`): recorded on its step, with the result in the ledger once. */
import { failUnconfirmed, finishStep } from '../domain/lifecycle/operations.js';
import { describeError } from '../errors.js';
import { runNoticeKey } from '../domain/executor/index.js';
import { makeEnvelope, type DeliveredMessage, type Envelope, type ExecutorAction } from '../events/index.js';
import { publishOutbox } from '../store/outbox.js';
import type { Advance } from './advance.js';
import { changeOperation, type LedgerRecord } from './change.js';
import type { EngineDeps } from './deps.js';

export type ResultOutcome = { kind: 'recorded' | 'ignored' | 'duplicate'; reason?: string };

/** The ledger entry of a result: accepted when it finished its step, else rejected as not waited for. */
function resultLedger(envelope: Envelope<'executor.run-finished'>, message: DeliveredMessage, operationId: string): LedgerRecord {
  const { runKey } = envelope.payload;
  return {
    key: envelope.eventId,
    entry: (changed: boolean) => ({
      outcome: changed ? ('accepted' as const) : ('rejected' as const),
      eventType: envelope.type,
      operationId,
      code: changed ? null : 'not-waiting',
      reason: changed ? null : `no step of ${operationId} was waiting for run ${runKey}`,
      field: null,
      messageId: message.messageId,
    }),
  };
}

/** Records an executor run's outcome on its step (and the result in the ledger, once), then moves the operation on. */
export async function recordResult(
  deps: EngineDeps,
  advance: Advance,
  envelope: Envelope<'executor.run-finished'>,
  message: DeliveredMessage,
): Promise<ResultOutcome> {
  const { runKey, outcome, detail, outputs } = envelope.payload;
  const split = runKey.lastIndexOf(':');
  // A key that names no step names no operation either: looked up as itself, found missing.
  const operationId = split > 0 ? runKey.slice(0, split) : runKey;
  const stepName = runKey.slice(split + 1);
  const change = await changeOperation(
    deps,
    operationId,
    (op, now) => {
      const step = op.steps.find((s) => s.name === stepName && s.kind === 'executor-run');
      if (step === undefined) return undefined;
      // An interrupted run failed its step but is not over for the engine: a person confirms it.
      const next =
        outcome === 'interrupted'
          ? failUnconfirmed(op, stepName, `executor run ${runKey} was interrupted: ${detail}`, now, true)
          : finishStep(op, stepName, outcome === 'succeeded' ? { ok: true, handles: { ...outputs, runKey } } : { ok: false, error: `executor run ${runKey} failed: ${detail}`, handles: { ...outputs, runKey } }, now);
      return next === op ? undefined : next;
    },
    'system:executor',
    resultLedger(envelope, message, operationId),
  );
  if (change.duplicate === true) return { kind: 'duplicate', reason: `event ${envelope.eventId} was recorded before` };
  await publishOutbox(deps, change.outbox);
  if (change.operation === undefined) {
    deps.log.warn('executor result for no known operation', { runKey });
    return { kind: 'ignored', reason: `no operation for run ${runKey}` };
  }
  if (!change.changed) return { kind: 'ignored', reason: `step ${stepName} of ${operationId} was not waiting for this result` };
  try {
    await advance(operationId);
  } catch (error) {
    deps.log.warn('could not advance after a result; the reconciler will', { operationId, error: describeError(error) });
  }
  return { kind: 'recorded' };
}

/** A notification that a run changed state (Cloud Build's): the run's key, the executor's id of it, and the state it claims. */
export interface RunNotice {
  runKey: string;
  runId: string;
  action: ExecutorAction;
  /** What the notification says; only a hint (notifications arrive late, twice, and out of order). */
  claimed: string;
  final: boolean;
}

/**
 * A notification is only a wake-up: for a run it says has ended, the executor is asked (by the
 * run's id), and what it answers is recorded as the run's outcome, under a ledger key of the run
 * and that outcome, so a repeat records nothing. A notification never moves a step backwards:
 * a run not yet ended by the executor's word changes nothing.
 */
export async function recordRunNotice(deps: EngineDeps, advance: Advance, notice: RunNotice, message: DeliveredMessage): Promise<ResultOutcome> {
  if (!notice.final) return { kind: 'ignored', reason: `run ${notice.runKey} is ${notice.claimed}: nothing to record until it ends` };
  const status = await deps.executor.getRunStatus(notice.runKey, notice.runId);
  if (status.state !== 'succeeded' && status.state !== 'failed' && status.state !== 'interrupted') {
    return { kind: 'ignored', reason: `the notification says run ${notice.runKey} ended ${notice.claimed}, but the executor says ${status.state}` };
  }
  const envelope = makeEnvelope({
    type: 'executor.run-finished',
    eventId: runNoticeKey(notice.runId, status.state),
    actor: 'system:executor',
    reason: `run ${notice.runKey} ${status.state}`,
    payload: {
      runKey: notice.runKey,
      action: notice.action,
      outcome: status.state,
      detail: (status.detail ?? status.state).slice(0, 2000),
      ...(status.outputs === undefined ? {} : { outputs: status.outputs }),
    },
  });
  return recordResult(deps, advance, envelope, message);
}

/** An executor run's outcome (from `mi-executor-results`): recorded on its step, with the result in the ledger once. */
import { failUnconfirmed, finishStep } from '../domain/lifecycle/operations.js';
import { describeError } from '../errors.js';
import type { DeliveredMessage, Envelope } from '../events/index.js';
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
          : finishStep(op, stepName, outcome === 'succeeded' ? { ok: true, handles: { ...outputs, runKey } } : { ok: false, error: `executor run ${runKey} failed: ${detail}` }, now);
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

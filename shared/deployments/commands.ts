/**
 * Lifecycle commands the deployments consumer asks of the engine: written to the outbox inside
 * the deciding transaction, published after it commits, asked again under the same event id
 * when the engine has not answered for a while, and under the next attempt's id when it
 * answered busy.
 */
import { changeEventId } from '../domain/deployments/changes.js';
import { INSTANCE_DELETE_MODULE, type ApplyAction, type ModuleApplyRecord } from '../domain/deployments/applies.js';
import type { LedgerEntry, OutboxEntry } from '../store/records.js';
import { makeEnvelope, type AnyEnvelope, type EventPayloads, type LifecycleCommandType } from '../events/index.js';
import type { StateStore, StoreTransaction } from '../ports.js';
import { TOPICS } from '../topology.js';
import { paths } from '../store/collections.js';

/** A command asked for and not seen by the engine after this long is asked for again (same event id). */
export const REPUBLISH_AFTER_MS = 5 * 60_000;

/** Busy answers tolerated per module apply before it is recorded as failed. */
export const MAX_ATTEMPTS = 50;

/** The envelope of a command caused by a change, and its outbox entry, written in `tx`. */
export function queueCommand<T extends LifecycleCommandType>(
  tx: StoreTransaction,
  command: { type: T; eventId: string; instanceId: string; payload: EventPayloads[T]; actor: string; reason: string },
  now: Date,
): OutboxEntry {
  const envelope = makeEnvelope({ ...command, origin: 'webhook', issuedAt: now.toISOString() }) as unknown as AnyEnvelope;
  const entry: OutboxEntry = { topic: TOPICS.lifecycle, envelope, orderingKey: null, createdAt: now.toISOString() };
  // Set: asking again under the same event id is deduplicated by the engine's ledger.
  tx.set(paths.outbox(envelope.eventId), entry);
  return entry;
}

/** The event id to ask under for one change: the first attempt the engine has not answered busy. */
export async function currentAttempt(store: StateStore, commit: string, instanceId: string, subject: string): Promise<{ eventId: string; attempt: number; answered?: LedgerEntry }> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const eventId = changeEventId(commit, instanceId, subject, attempt);
    const answered = await store.get<LedgerEntry>(paths.ledger(eventId));
    if (answered === undefined) return { eventId, attempt };
    if (answered.code !== 'busy') return { eventId, attempt, answered };
  }
  const eventId = changeEventId(commit, instanceId, subject, MAX_ATTEMPTS);
  return { eventId, attempt: MAX_ATTEMPTS, answered: { outcome: 'rejected', code: 'busy', reason: `busy ${MAX_ATTEMPTS} times`, eventType: null, operationId: null, field: null, messageId: '', recordedAt: '', expireAt: new Date(0) } };
}

/** The command of one module apply (a plan, an apply, or the delete of a removed instance), queued in `tx`. */
export function moduleCommand(tx: StoreTransaction, apply: ModuleApplyRecord, action: ApplyAction, eventId: string, actor: string, now: Date): OutboxEntry {
  const reason = `${action} of ${apply.module === INSTANCE_DELETE_MODULE ? 'the instance' : `module ${apply.module}`} at ${apply.commit.slice(0, 12)} (${apply.id})`;
  if (action === 'delete') {
    return queueCommand(tx, { type: 'instance.delete', eventId, instanceId: apply.instanceId, payload: { confirmSlug: apply.confirmSlug ?? '' }, actor, reason }, now);
  }
  return queueCommand(
    tx,
    {
      type: 'instance.module-apply',
      eventId,
      instanceId: apply.instanceId,
      // A confirmed plan is applied as the saved file of that digest, never planned afresh.
      payload: { module: apply.module, commit: apply.commit, action, applyId: apply.id, ...(action === 'apply' && apply.confirmedDigest ? { planDigest: apply.confirmedDigest } : {}) },
      actor,
      reason,
    },
    now,
  );
}

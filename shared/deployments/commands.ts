/**
 * Lifecycle commands the deployments consumer asks of the engine: written to the outbox inside
 * the deciding transaction, published after it commits, asked again under the same event id
 * when the engine has not answered for a while.
 */
import type { OutboxEntry } from '../store/records.js';
import { makeEnvelope, type AnyEnvelope, type EventPayloads, type LifecycleCommandType } from '../events/index.js';
import type { StoreTransaction } from '../ports.js';
import { TOPICS } from '../topology.js';
import { paths } from '../store/collections.js';

/** A command asked for and not seen by the engine after this long is asked for again (same event id). */
export const REPUBLISH_AFTER_MS = 5 * 60_000;

/** The envelope of a command caused by a change, and its outbox entry, written in `tx`. */
export function queueCommand<T extends LifecycleCommandType>(
  tx: StoreTransaction,
  command: { type: T; eventId: string; instanceId: string; payload: EventPayloads[T]; actor: string; reason: string },
  now: Date,
): OutboxEntry {
  const envelope = makeEnvelope({ ...command, issuedAt: now.toISOString() }) as unknown as AnyEnvelope;
  const entry: OutboxEntry = { topic: TOPICS.lifecycle, envelope, orderingKey: null, createdAt: now.toISOString() };
  // Set: asking again under the same event id is deduplicated by the engine's ledger.
  tx.set(paths.outbox(envelope.eventId), entry);
  return entry;
}

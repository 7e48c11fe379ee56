/**
 * GitHub deliveries seen by the webhook (`webhookDeliveries/{deliveryId}`): recorded with the
 * push message they lead to, in one transaction, and marked handled by the deployments consumer
 * once that push is handled to the end. The consumer imports this file alone, not the webhook.
 */
import type { StoreTransaction, StateStore } from '../ports.js';
import type { LedgerEntry, OutboxEntry } from '../store/records.js';
import { TOPICS, TTL_COLLECTIONS } from '../topology.js';
import { COLLECTIONS, deploymentPaths, paths } from '../store/collections.js';
import type { Work } from './plan.js';

const DELIVERY_RETENTION_DAYS = TTL_COLLECTIONS.find((c) => c.collection === COLLECTIONS.webhookDeliveries)?.days ?? 30;

/**
 * `webhookDeliveries/{deliveryId}`: one GitHub delivery seen. `handledAt` says whether its work
 * is done: set at once for a delivery with nothing to hand on, and by the deployments consumer
 * once the push it led to has been handled to the end. A redelivery (GitHub reuses the delivery
 * id) of one not handled is handed on again; of one handled, it is a replay and does nothing.
 */
export interface DeliveryRecord {
  event: string;
  status: number;
  outcome: Record<string, unknown>;
  commit: string | null;
  /** The push message's event id, when the delivery had work. */
  eventId: string | null;
  receivedAt: string;
  /** Null while the push it led to has not been handled to the end; absent on records older than this field. */
  handledAt?: string | null;
  /** How often a redelivery handed the push on again. */
  redeliveries?: number;
  expireAt: Date;
}

/** Marks the delivery handled, in `tx`, if it is recorded and not marked yet (reads first: call before any write). */
export async function markDeliveryHandled(tx: StoreTransaction, deliveryId: string, pushEventId: string, now: Date): Promise<() => void> {
  const path = deploymentPaths.webhookDelivery(deliveryId);
  const seen = await tx.get<DeliveryRecord>(path);
  return () => {
    if (seen === undefined || (seen.handledAt !== undefined && seen.handledAt !== null)) return;
    tx.update(path, { handledAt: now.toISOString(), handledEventId: pushEventId });
  };
}

/** A delivery whose work is done. Records from before `handledAt` existed count as not done: the push ledger decides. */
function isHandled(record: DeliveryRecord): boolean {
  return typeof record.handledAt === 'string';
}

/** What recording a delivery decided: a replay (nothing to do), or the outbox entries to publish. */
export interface RecordedDelivery {
  /** The record of a delivery whose work is done: this one is a replay. */
  replay: DeliveryRecord | undefined;
  /** A delivery seen before whose push never completed, handed on again. */
  redelivery?: boolean;
  outbox: OutboxEntry[];
}

/**
 * Records the delivery and the message it leads to in one transaction, so a crash between them
 * cannot lose the work nor let a redelivery do it twice.
 */
export async function recordDelivery(store: StateStore, delivery: { event: string; deliveryId: string; work: Work }, now: Date): Promise<RecordedDelivery> {
  const { event, deliveryId, work } = delivery;
  return store.transaction(async (tx) => {
    const path = deploymentPaths.webhookDelivery(deliveryId);
    const seen = await tx.get<DeliveryRecord>(path);
    const envelope = work.envelope;
    // The push ledger says whether the push was handled to the end, under any delivery id.
    const pushHandled = seen !== undefined && envelope !== undefined && !isHandled(seen) ? await tx.get<LedgerEntry>(paths.ledger(envelope.eventId)) : undefined;
    if (seen !== undefined) {
      if (isHandled(seen)) return { replay: seen, outbox: [] as OutboxEntry[] };
      if (envelope === undefined || pushHandled !== undefined) {
        tx.update(path, { handledAt: pushHandled?.recordedAt ?? now.toISOString() });
        return { replay: seen, outbox: [] as OutboxEntry[] };
      }
      // Seen, but its push never completed: hand it on again (the consumer keys every effect).
      tx.update(path, { redeliveries: (seen.redeliveries ?? 0) + 1, redeliveredAt: now.toISOString() });
    } else {
      const record: DeliveryRecord = {
        event,
        status: work.status,
        outcome: work.body,
        commit: envelope?.type === 'deployment.pushed' ? envelope.payload.after : null,
        eventId: envelope?.eventId ?? null,
        receivedAt: now.toISOString(),
        // Nothing to hand on is done at once; a push is done when the consumer says so.
        handledAt: envelope === undefined ? now.toISOString() : null,
        redeliveries: 0,
        expireAt: new Date(now.getTime() + DELIVERY_RETENTION_DAYS * 86_400_000),
      };
      tx.create(path, record);
    }
    if (envelope === undefined) return { replay: undefined, outbox: [] as OutboxEntry[] };
    // Set, not create: the same merge under a new delivery id is the same event, and the
    // consumer keys every effect by commit, instance and module.
    const entry: OutboxEntry = { topic: TOPICS.deployments, envelope, orderingKey: null, createdAt: now.toISOString() };
    tx.set(paths.outbox(envelope.eventId), entry);
    return { replay: undefined, redelivery: seen !== undefined, outbox: [entry] };
  });
}

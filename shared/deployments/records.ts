/**
 * The deployment functions' own stored records, by name: GitHub deliveries seen by the webhook
 * (`webhookDeliveries/{deliveryId}`) and the newest spec change of each instance
 * (`specChanges/{instanceId}`). Kept apart from the webhook's and the consumer's code so either
 * can mark a delivery without loading the other.
 */
import type { StoreTransaction } from '../ports.js';
import { deploymentPaths } from '../store/collections.js';


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

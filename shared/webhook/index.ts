/**
 * The GitHub webhook of the deployment repository, as a handler over a plain request: verify the
 * signature over the raw bytes (constant time), refuse oversized or unparsable bodies, record the
 * delivery (`webhookDeliveries/{id}`), and hand the work to `mi-deployments` as references (commit
 * ids and classified changes), never the payload. A redelivery (GitHub's "Redeliver" reuses the
 * delivery id) of a delivery whose push was handled to the end is a replay: 200, nothing done. Of
 * one whose push never completed (its message dead-lettered, say), the push is handed on again.
 *
 * Here: config.ts (configuration, ports, request and answer), request.ts (the checks before
 * anything is read: size, signature, headers, JSON), plan.ts (what a payload asks for),
 * deliveries.ts (the delivery records, which the deployments consumer marks handled).
 */
import { publishOutbox } from '../store/outbox.js';
import type { WebhookAnswer, WebhookDeps, WebhookRequest } from './config.js';
import { recordDelivery } from './deliveries.js';
import { planDelivery } from './plan.js';
import { readDelivery } from './request.js';

export { checkWebhookConfig, MAX_WEBHOOK_BODY_BYTES, type WebhookAnswer, type WebhookConfig, type WebhookDeps, type WebhookRequest } from './config.js';
export { markDeliveryHandled, type DeliveryRecord } from './deliveries.js';

/** Handles one delivery; never throws for anything the sender controls. */
export async function handleGithubWebhook(req: WebhookRequest, deps: WebhookDeps): Promise<WebhookAnswer> {
  const delivery = await readDelivery(req, deps.config);
  if ('answer' in delivery) return delivery.answer;
  const { event, deliveryId } = delivery;

  const now = deps.clock.now();
  const work = planDelivery(event, delivery.payload, deliveryId, deps.config, now);
  if ('invalid' in work) return { status: 400, body: { error: 'invalid-request', message: work.invalid } };

  const outcome = await recordDelivery(deps.store, { event, deliveryId, work }, now);
  if (outcome.replay !== undefined) {
    return { status: 200, body: { replay: true, message: `delivery ${deliveryId} was handled (received ${outcome.replay.receivedAt}); nothing done again` } };
  }
  if (outcome.outbox.length > 0) {
    // A failed publish stays in the outbox for the reconciler: the delivery is still answered.
    await publishOutbox(deps, outcome.outbox);
  }
  if (outcome.redelivery === true) return { status: work.status, body: { ...work.body, redelivered: true } };
  return { status: work.status, body: work.body };
}

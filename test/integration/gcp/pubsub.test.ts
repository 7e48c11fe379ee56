import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PubSub, type Message, type Subscription } from '@google-cloud/pubsub';
import { makeEnvelope } from '../../../shared/events/index.js';
import { ensurePushSubscription, ensureTopics } from '../../../shared/gcp/pubsub-admin.js';
import { createPubSubBus, type ClosableEventBus } from '../../../shared/gcp/pubsub-bus.js';
import { SUBSCRIPTIONS, TOPICS } from '../../../shared/topology.js';
import { projectIdFor } from '../../support/project.js';

const projectId = projectIdFor(import.meta.url);
let pubsub: PubSub;
let busClient: PubSub;
let bus: ClosableEventBus;

beforeAll(() => {
  pubsub = new PubSub({ projectId });
  // The bus owns its client: close() closes it.
  busClient = new PubSub({ projectId });
  bus = createPubSubBus({ pubsub: busClient, deadlineMs: 5_000 });
});

afterAll(async () => {
  await bus.close();
  await pubsub.close();
});

/** Collects `count` messages from a pull subscription, then stops listening. */
async function receive(subscription: Subscription, count: number): Promise<Message[]> {
  const received: Message[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`received ${received.length} of ${count} messages in 10 s`)), 10_000);
      subscription.on('error', reject);
      subscription.on('message', (message: Message) => {
        message.ack();
        received.push(message);
        if (received.length === count) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } finally {
    await subscription.close();
  }
  return received;
}

describe('Pub/Sub event bus', () => {
  it('publishes the envelope as JSON with its type and id as attributes, with and without an ordering key', async () => {
    await ensureTopics(pubsub, [TOPICS.events]);
    const [subscription] = await pubsub.topic(TOPICS.events).createSubscription('bus-probe', { enableMessageOrdering: true });
    const accepted = makeEnvelope({
      type: 'operation.accepted',
      instanceId: 'src-1a2b3c4d',
      actor: 'alice@example.com',
      reason: 'monthly release',
      payload: { operationId: 'op-1', operationType: 'instance.upgrade' },
    });
    const alert = makeEnvelope({
      type: 'alert',
      actor: 'reconciler',
      reason: 'stuck operation',
      payload: { severity: 'warning', summary: 'op-1 is stuck', details: {} },
    });
    const [acceptedId, alertId] = await Promise.all([
      bus.publish(TOPICS.events, accepted, {
        orderingKey: 'src-1a2b3c4d',
        attributes: { source: 'test', eventType: 'must-not-win' },
      }),
      bus.publish(TOPICS.events, alert),
    ]);
    expect(acceptedId).toMatch(/^\d+$/);

    const messages = await receive(subscription, 2);
    const byId = new Map(messages.map((m) => [m.id, m]));
    const first = byId.get(acceptedId);
    expect(JSON.parse(first?.data.toString('utf8') ?? 'null')).toEqual(accepted);
    expect(first?.attributes).toEqual({ eventType: 'operation.accepted', eventId: accepted.eventId, source: 'test' });
    expect(first?.orderingKey).toBe('src-1a2b3c4d');
    const second = byId.get(alertId);
    expect(JSON.parse(second?.data.toString('utf8') ?? 'null')).toEqual(alert);
    expect(second?.attributes).toEqual({ eventType: 'alert', eventId: alert.eventId });
    expect(second?.orderingKey ?? '').toBe('');
  });

  it('fails with a permanent not-found error when the topic does not exist', async () => {
    const envelope = makeEnvelope({
      type: 'alert',
      actor: 'test',
      reason: 'missing topic',
      payload: { severity: 'info', summary: 'x', details: {} },
    });
    await expect(bus.publish('no-such-topic', envelope)).rejects.toMatchObject({ code: 'not-found', retryable: false });
  });
});

describe('Pub/Sub administration', () => {
  it('creates topics idempotently', async () => {
    const names = Object.values(TOPICS);
    await ensureTopics(pubsub, names);
    await ensureTopics(pubsub, [...names, TOPICS.lifecycle]);
    const [topics] = await pubsub.getTopics();
    const existing = new Set(topics.map((t) => t.name.split('/').pop()));
    for (const name of names) expect(existing.has(name)).toBe(true);
  });

  it('creates a push subscription with its dead-letter policy, and a second run puts drifted settings back', async () => {
    const template = SUBSCRIPTIONS[0];
    if (template === undefined) throw new Error('the topology has no push subscription');
    const spec = {
      ...template,
      pushEndpoint: `http://127.0.0.1:9/projects/${projectId}/topics/${template.topic}`,
    };
    await ensurePushSubscription(pubsub, spec);
    await ensurePushSubscription(pubsub, spec);
    const [created] = await pubsub.subscription(spec.name).getMetadata();
    expect(created.topic).toBe(`projects/${projectId}/topics/${spec.topic}`);
    expect(created.pushConfig?.pushEndpoint).toBe(spec.pushEndpoint);
    expect(created.ackDeadlineSeconds).toBe(spec.ackDeadlineSeconds);
    expect(created.deadLetterPolicy).toMatchObject({
      deadLetterTopic: `projects/${projectId}/topics/${spec.deadLetter.topic}`,
      maxDeliveryAttempts: spec.deadLetter.maxDeliveryAttempts,
    });
    expect(Number(created.retryPolicy?.minimumBackoff?.seconds)).toBe(spec.retryPolicy.minimumBackoffSeconds);
    expect(Number(created.retryPolicy?.maximumBackoff?.seconds)).toBe(spec.retryPolicy.maximumBackoffSeconds);

    await pubsub.subscription(spec.name).setMetadata({ ackDeadlineSeconds: 30, pushConfig: { pushEndpoint: 'http://127.0.0.1:9/elsewhere' } });
    await ensurePushSubscription(pubsub, spec);
    const [restored] = await pubsub.subscription(spec.name).getMetadata();
    expect(restored.ackDeadlineSeconds).toBe(spec.ackDeadlineSeconds);
    expect(restored.pushConfig?.pushEndpoint).toBe(spec.pushEndpoint);
  });
});

/**
 * The event bus on Cloud Pub/Sub (`@google-cloud/pubsub`): one JSON envelope per message, its
 * type and id repeated as attributes so subscribers can filter without decoding. Every publish
 * runs under a deadline, because a publish to a dead Pub/Sub hangs instead of failing.
 */
import type { PubSub, Topic } from '@google-cloud/pubsub';
import { DEFAULT_DEADLINE_MS } from '../deadline.js';
import type { AnyEnvelope, Envelope, EventType } from '../events/index.js';
import type { EventBus, PublishOptions } from '../ports.js';
import { guardedCall } from './grpc-errors.js';

export interface PubSubBusOptions {
  pubsub: PubSub;
  /** Deadline of each publish (batching delay included). */
  deadlineMs?: number;
  /** How long a message may wait for others to share its request; small keeps latency low. */
  maxBatchDelayMs?: number;
}

/** An EventBus that can flush what it holds and close its client. */
export type ClosableEventBus = EventBus & { close(): Promise<void> };

/** The event bus on a Pub/Sub client; `close()` flushes pending messages, then closes the client. */
export function createPubSubBus(options: PubSubBusOptions): ClosableEventBus {
  const { pubsub } = options;
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const maxBatchDelayMs = options.maxBatchDelayMs ?? 5;
  const topics = new Map<string, Topic>();

  function topicFor(name: string): Topic {
    let topic = topics.get(name);
    if (topic === undefined) {
      topic = pubsub.topic(name, {
        // Ordering is enabled on every topic object: messages without a key are unaffected,
        // and one cached Topic per name serves both kinds of publish.
        messageOrdering: true,
        batching: { maxMilliseconds: maxBatchDelayMs, maxMessages: 100 },
        // The client's own retries stop at the deadline too, so an abandoned publish does not
        // keep retrying (and holding its ordering key) for minutes.
        gaxOpts: { timeout: deadlineMs },
      });
      topics.set(name, topic);
    }
    return topic;
  }

  return {
    async publish(
      topicName: string,
      envelope: AnyEnvelope | Envelope<EventType>,
      publishOptions: PublishOptions = {},
    ): Promise<string> {
      const topic = topicFor(topicName);
      const { orderingKey } = publishOptions;
      const message = {
        data: Buffer.from(JSON.stringify(envelope)),
        // The envelope's own type and id win over a caller's attribute of the same name.
        attributes: { ...publishOptions.attributes, eventType: envelope.type, eventId: envelope.eventId },
        ...(orderingKey === undefined ? {} : { orderingKey }),
      };
      return guardedCall(`pubsub publish to ${topicName}`, deadlineMs, () => {
        const published = topic.publishMessage(message);
        if (orderingKey !== undefined) {
          // A failed ordered publish pauses its key: by the client's contract every later
          // publish with that key fails until it is resumed. (5.3 happens to drop the failed
          // queue once it is empty; resuming keeps the retry working whatever the version.)
          published.catch(() => topic.resumePublishing(orderingKey));
        }
        return published;
      });
    },

    async close(): Promise<void> {
      try {
        await guardedCall('pubsub flush', deadlineMs, () => Promise.all([...topics.values()].map((topic) => topic.flush())));
      } finally {
        topics.clear();
        await guardedCall('pubsub close', deadlineMs, () => pubsub.close());
      }
    },
  };
}

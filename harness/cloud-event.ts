/**
 * In-process harnesses shared by the tests and the benchmarks (never deployed): the CloudEvent a
 * push subscription delivers, and a driver that plays Pub/Sub for a rollout.
 */
import { randomInt } from 'node:crypto';

/** A Pub/Sub message as the functions framework delivers it inside a CloudEvent. */
export interface PubSubMessage {
  data: string;
  attributes: Record<string, string>;
  messageId: string;
  publishTime: string;
}

/** A CloudEvent of type google.cloud.pubsub.topic.v1.messagePublished. */
export interface PubSubCloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: 'google.cloud.pubsub.topic.v1.messagePublished';
  data: { subscription: string; message: PubSubMessage };
}

/**
 * What a test may change. A message field set to `undefined` is left out of the event, so a
 * test can build a message without, say, a messageId.
 */
export interface PubSubCloudEventOverrides {
  /** The CloudEvent id; defaults to the message id (even a removed one), as the functions framework sets it. */
  id?: string;
  /** Defaults to `//pubsub.googleapis.com/projects/<project>/topics/<topic>`. */
  source?: string;
  project?: string;
  topic?: string;
  /** Defaults to `projects/<project>/subscriptions/<topic>-sub`. */
  subscription?: string;
  message?: { [K in keyof PubSubMessage]?: PubSubMessage[K] | undefined };
}

function isRaw(data: unknown): data is { raw: string } {
  return (
    typeof data === 'object' &&
    data !== null &&
    Object.keys(data).length === 1 &&
    'raw' in data &&
    typeof data.raw === 'string'
  );
}

/** A fresh Pub/Sub message id: a decimal string, as Pub/Sub issues them. */
export function pubSubMessageId(): string {
  return String(randomInt(1, 2 ** 47)) + String(randomInt(0, 1000)).padStart(3, '0');
}

/**
 * Wraps `data` in a Pub/Sub CloudEvent: any value is JSON-encoded then base64-encoded;
 * `{ raw }` is taken as the base64 text itself (to deliver bytes that are not JSON). To send
 * the JSON object `{ raw: "…" }` itself, encode it and pass it as `{ raw }`.
 */
export function pubSubCloudEvent(data: unknown, overrides: PubSubCloudEventOverrides = {}): PubSubCloudEvent {
  const project = overrides.project ?? 'test-project';
  const topic = overrides.topic ?? 'mi-lifecycle';
  const defaults: PubSubMessage = {
    data: isRaw(data) ? data.raw : Buffer.from(JSON.stringify(data) ?? '', 'utf8').toString('base64'),
    attributes: {},
    messageId: pubSubMessageId(),
    publishTime: new Date().toISOString(),
  };
  const message: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(overrides.message ?? {})) {
    if (value === undefined) delete message[key];
    else message[key] = value;
  }
  return {
    specversion: '1.0',
    id: overrides.id ?? overrides.message?.messageId ?? defaults.messageId,
    source: overrides.source ?? `//pubsub.googleapis.com/projects/${project}/topics/${topic}`,
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    data: {
      subscription: overrides.subscription ?? `projects/${project}/subscriptions/${topic}-sub`,
      // Fields a test removed make the message deliberately malformed; the type stays the common shape.
      message: message as unknown as PubSubMessage,
    },
  };
}

/**
 * Idempotent creation of the topology's topics and push subscriptions, for the local stack and
 * the tests (in the cloud, infra/ declares them). Running it twice changes nothing; running it
 * on a subscription whose settings drifted puts the settings back.
 */
import type { PubSub } from '@google-cloud/pubsub';
import type { PushSubscription } from '../topology.js';
import { ControlPlaneError } from '../errors.js';
import { guardedCall } from './grpc-errors.js';

/** Deadline of each administrative call: creation on the emulator is quick, in the cloud less so. */
export const DEFAULT_ADMIN_DEADLINE_MS = 10_000;

/** A push subscription as the topology describes it, plus where it pushes. */
export type PushSubscriptionSpec = Pick<PushSubscription, 'name' | 'ackDeadlineSeconds' | 'retryPolicy' | 'deadLetter'> & {
  topic: string;
  pushEndpoint: string;
  /** In the cloud: push with an OIDC token of this service account (the emulator sends none). */
  oidc?: { serviceAccountEmail: string; audience?: string };
};

async function createTopicIfMissing(pubsub: PubSub, name: string, deadlineMs: number): Promise<void> {
  try {
    await guardedCall(`pubsub create topic ${name}`, deadlineMs, () => pubsub.createTopic(name));
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
  }
}

function isAlreadyExists(error: unknown): boolean {
  return error instanceof ControlPlaneError && error.code === 'already-exists';
}

/** Creates the topics that do not exist yet. */
export async function ensureTopics(
  pubsub: PubSub,
  names: readonly string[],
  deadlineMs: number = DEFAULT_ADMIN_DEADLINE_MS,
): Promise<void> {
  await Promise.all([...new Set(names)].map((name) => createTopicIfMissing(pubsub, name, deadlineMs)));
}

/**
 * Creates a push subscription (and its topic and dead-letter topic when missing), or brings an
 * existing one's push endpoint, ack deadline, retry and dead-letter policies back to the spec.
 */
export async function ensurePushSubscription(
  pubsub: PubSub,
  spec: PushSubscriptionSpec,
  deadlineMs: number = DEFAULT_ADMIN_DEADLINE_MS,
): Promise<void> {
  await ensureTopics(pubsub, [spec.topic, spec.deadLetter.topic], deadlineMs);
  const metadata = {
    pushConfig: {
      pushEndpoint: spec.pushEndpoint,
      ...(spec.oidc === undefined
        ? {}
        : { oidcToken: { serviceAccountEmail: spec.oidc.serviceAccountEmail, audience: spec.oidc.audience ?? spec.pushEndpoint } }),
    },
    ackDeadlineSeconds: spec.ackDeadlineSeconds,
    retryPolicy: {
      minimumBackoff: { seconds: spec.retryPolicy.minimumBackoffSeconds },
      maximumBackoff: { seconds: spec.retryPolicy.maximumBackoffSeconds },
    },
    deadLetterPolicy: {
      deadLetterTopic: pubsub.topic(spec.deadLetter.topic).name,
      maxDeliveryAttempts: spec.deadLetter.maxDeliveryAttempts,
    },
  };
  try {
    await guardedCall(`pubsub create subscription ${spec.name}`, deadlineMs, () =>
      pubsub.createSubscription(spec.topic, spec.name, metadata),
    );
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    // It exists: make its settings match (a subscription cannot move to another topic, so
    // that one difference is left to whoever changed the topology).
    await guardedCall(`pubsub update subscription ${spec.name}`, deadlineMs, () =>
      pubsub.subscription(spec.name).setMetadata(metadata),
    );
  }
}

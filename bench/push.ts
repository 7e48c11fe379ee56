/**
 * (c) End to end: publish a lifecycle command, until its operation is recorded, through the
 * topology's push subscription to the `lifecycle` function served as `mi dev` serves it;
 * beside a raw publish until its push is received by a trivial endpoint, through the same
 * emulator.
 *
 * Both sides publish with one Pub/Sub client, the same topic settings (no batching delay) and
 * messages of the same size and attributes (each a lifecycle envelope). Side A's clock stops
 * when a Firestore listener (its own client, set up and synced before the publish) sees the
 * operation document exist: the commit as any reader would see it. Side B's clock stops when
 * the endpoint has read the pushed request. Before each publish a random pause of up to one
 * period of the emulator's push loop (below) spreads both sides evenly over its phase. Each sample waits until its push has been answered
 * (side A: until the function returned, first steps included) before the next begins.
 */
import { performance } from 'node:perf_hooks';
import { PubSub, type Topic } from '@google-cloud/pubsub';
import type { Firestore } from '@google-cloud/firestore';
import { operationIdFor } from '../shared/domain/lifecycle/operations.js';
import type { AnyEnvelope } from '../shared/events/index.js';
import { createFirestore } from '../shared/gcp/firestore-store.js';
import { ensurePushSubscription } from '../shared/gcp/pubsub-admin.js';
import { SUBSCRIPTIONS, TOPICS } from '../shared/topology.js';
import { useServices } from '../functions/wiring.js';
import '../functions/lifecycle.js';
import { serveFunctions, type Delivery, type FunctionsServer } from '../cli/dev/functions-server.js';
import { startRawReceiver, type RawReceiver } from './push-receiver.js';
import { benchmarkResult, type BenchmarkResult } from './results.js';
import { interleavedOrder } from './stats.js';
import type { BenchWorld } from './world.js';
import { paths } from '../shared/store/collections.js';

/** The raw side's topic and subscription, in the benchmark's own project. */
export const RAW_TOPIC = 'bench-raw-push';
const RAW_SUBSCRIPTION = 'bench-raw-push--receiver';

/**
 * The Pub/Sub emulator pushes from a loop that sleeps 100 ms between looks at a subscription
 * (PushLoop's checkIntervalMillis, set by FakePubsubServer$SubscriptionData in emulator 0.8.20),
 * so a push waits for the next tick of its subscription's loop: 0 to 100 ms, by the phase at
 * which the message was published. Samples run back to back would publish at a phase fixed by
 * the previous sample's duration, which differs between the sides and biases them (seen: the
 * end-to-end side "faster" than the raw one). A random pause of up to one period before each
 * publish makes the phase uniform for both sides.
 */
export const EMULATOR_PUSH_LOOP_MS = 100;

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A sample that takes longer than this is a failure, not a figure. */
const SAMPLE_TIMEOUT_MS = 15_000;

function within<T>(what: string, promise: Promise<T>, ms = SAMPLE_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function messageOf(envelope: AnyEnvelope): { data: Buffer; attributes: Record<string, string> } {
  // What the event bus sends: the JSON envelope, its type and id repeated as attributes.
  return { data: Buffer.from(JSON.stringify(envelope)), attributes: { eventType: envelope.type, eventId: envelope.eventId } };
}

/** Listens to one document; resolves once the listener is in sync, so a publish can follow. */
async function watchUntilExists(firestore: Firestore, path: string): Promise<{ exists: Promise<number>; stop(): void }> {
  let synced!: () => void;
  let failedToSync!: (error: Error) => void;
  const inSync = new Promise<void>((resolve, reject) => {
    synced = resolve;
    failedToSync = reject;
  });
  let appeared!: (at: number) => void;
  let failed!: (error: Error) => void;
  const exists = new Promise<number>((resolve, reject) => {
    appeared = resolve;
    failed = reject;
  });
  const stop = firestore.doc(path).onSnapshot(
    (snapshot) => {
      if (snapshot.exists) appeared(performance.now());
      synced();
    },
    (error) => {
      failed(error);
      failedToSync(error);
    },
  );
  await within(`the listener on ${path} to sync`, inSync);
  return { exists, stop };
}

export interface PushBenchOptions {
  pairs: number;
  warmup: number;
}

/** The pieces (c) starts, so a failure part-way still stops them. */
interface PushRig {
  publisher: PubSub;
  observer: Firestore;
  server?: FunctionsServer;
  receiver?: RawReceiver;
}

/** Runs (c). */
export async function benchPush(world: BenchWorld, options: PushBenchOptions): Promise<BenchmarkResult> {
  const rig: PushRig = { publisher: new PubSub({ projectId: world.projectId }), observer: createFirestore(world.projectId) };
  try {
    return await runPush(world, options, rig);
  } finally {
    // Turn the subscriptions to pull first: nothing should be pushed to closed ports.
    await Promise.allSettled(
      [SUBSCRIPTIONS.find((s) => s.function === 'lifecycle')?.name ?? '', RAW_SUBSCRIPTION].map((name) => rig.publisher.subscription(name).delete()),
    );
    await rig.server?.close(2_000);
    await rig.receiver?.close();
    await rig.publisher.close();
    await rig.observer.terminate();
  }
}

async function runPush(world: BenchWorld, options: PushBenchOptions, rig: PushRig): Promise<BenchmarkResult> {
  const { publisher, observer } = rig;
  const lifecycle = SUBSCRIPTIONS.find((s) => s.function === 'lifecycle');
  if (lifecycle === undefined) throw new Error('the topology has no subscription feeding the lifecycle function');

  // The function, as mi dev serves it, on an engine that notes when it is invoked.
  let invokedAt: number | undefined;
  const engine = world.engine;
  useServices({
    ...world.services,
    engine: {
      ...engine,
      accept(envelope, message) {
        invokedAt ??= performance.now();
        return engine.accept(envelope, message);
      },
    },
  });
  let delivered: ((delivery: Delivery) => void) | undefined;
  rig.server = await serveFunctions({ functionNames: ['lifecycle'], onDelivery: (delivery) => delivered?.(delivery) });
  rig.receiver = await startRawReceiver();
  const receiver = rig.receiver;

  await ensurePushSubscription(publisher, {
    name: lifecycle.name,
    topic: lifecycle.topic,
    ackDeadlineSeconds: lifecycle.ackDeadlineSeconds,
    retryPolicy: lifecycle.retryPolicy,
    deadLetter: lifecycle.deadLetter,
    pushEndpoint: rig.server.pushEndpoint('lifecycle', world.projectId, lifecycle.topic),
  });
  await ensurePushSubscription(publisher, {
    name: RAW_SUBSCRIPTION,
    topic: RAW_TOPIC,
    ackDeadlineSeconds: lifecycle.ackDeadlineSeconds,
    retryPolicy: lifecycle.retryPolicy,
    deadLetter: { ...lifecycle.deadLetter, topic: `${RAW_TOPIC}-dead-letter` },
    pushEndpoint: `${receiver.url}/projects/${world.projectId}/topics/${RAW_TOPIC}`,
  });

  // One client, identical settings: a message is sent as soon as it is published.
  const topicSettings = { batching: { maxMessages: 1, maxMilliseconds: 0 } };
  const topics: Record<'a' | 'b', Topic> = {
    a: publisher.topic(TOPICS.lifecycle, topicSettings),
    b: publisher.topic(RAW_TOPIC, topicSettings),
  };

  const total = options.warmup + options.pairs;
  const engineIds = Array.from({ length: total }, () => world.newInstanceId('e'));
  await world.seedInstances(engineIds);
  const commands = engineIds.map((id) => world.upgradeCommand(id));
  // Lifecycle envelopes too, so both sides' messages have the same size; never decoded.
  const rawMessages = Array.from({ length: total }, () => world.upgradeCommand(world.newInstanceId('r')));

  const timed = { a: [] as number[], b: [] as number[] };
  const phases = { toInvocation: [] as number[], toCommit: [] as number[], commitToVisible: [] as number[], handlerTotal: [] as number[] };
  const next = { a: 0, b: 0 };
  // How long the raw endpoint waits before answering: as long as the function last took. The
  // emulator pushes one message at a time per subscription and blocks on the answer, and its
  // push loop's timing then depends on when the answer came (measured: a push to an endpoint
  // that answers after 70 ms arrives sooner, 35 ms on average, than one to an endpoint that
  // answers at once, 50 ms). Answering like the function keeps the two subscriptions under the
  // same conditions; the receipt time, which is what is measured, comes before the answer.
  let holdMs = 0;

  for (const side of interleavedOrder(total)) {
    const index = next[side];
    next[side] += 1;
    const counted = index >= options.warmup;
    if (side === 'a') {
      const envelope = commands[index];
      if (envelope === undefined) throw new Error('ran out of prepared commands');
      const watch = await watchUntilExists(observer, paths.operation(operationIdFor(envelope.eventId)));
      invokedAt = undefined;
      let committedAt: number | undefined;
      world.onCommit(() => {
        committedAt ??= performance.now();
      });
      const answered = new Promise<Delivery>((resolve) => (delivered = resolve));
      await pause(Math.random() * EMULATOR_PUSH_LOOP_MS);
      const started = performance.now();
      try {
        const [, recordedAt] = await within(`operation of ${envelope.eventId} to be recorded`, Promise.all([topics.a.publishMessage(messageOf(envelope)), watch.exists]));
        const delivery = await within(`the lifecycle function to answer ${envelope.eventId}`, answered);
        const finishedAt = performance.now();
        if (delivery.status < 200 || delivery.status >= 300) throw new Error(`the lifecycle function answered ${delivery.status} for ${envelope.eventId}`);
        if (invokedAt === undefined || committedAt === undefined) throw new Error('the function did not report its invocation and commit');
        holdMs = finishedAt - invokedAt;
        if (counted) {
          timed.a.push(recordedAt - started);
          phases.toInvocation.push(invokedAt - started);
          phases.toCommit.push(committedAt - started);
          phases.commitToVisible.push(recordedAt - committedAt);
          phases.handlerTotal.push(finishedAt - invokedAt);
        }
      } finally {
        watch.stop();
        world.onCommit(undefined);
        delivered = undefined;
      }
    } else {
      const envelope = rawMessages[index];
      if (envelope === undefined) throw new Error('ran out of prepared raw messages');
      const receipt = receiver.expect(envelope.eventId, holdMs);
      await pause(Math.random() * EMULATOR_PUSH_LOOP_MS);
      const started = performance.now();
      const [, receivedAt] = await within(`raw push of ${envelope.eventId}`, Promise.all([topics.b.publishMessage(messageOf(envelope)), receipt.received]));
      await within(`raw push of ${envelope.eventId} to be answered`, receipt.answered);
      if (counted) timed.b.push(receivedAt - started);
    }
  }

  return benchmarkResult({
    name: '(c) end to end',
    measures: 'publish -> operation document visible to a listener, via push to the lifecycle function, vs publish -> raw push received',
    warmup: options.warmup,
    target: 1.5,
    a: { label: 'publish to recorded operation', samples: timed.a },
    b: { label: 'raw publish to push receipt', samples: timed.b },
    breakdown: {
      'publish -> function invoked': phases.toInvocation,
      'publish -> accept committed (in function)': phases.toCommit,
      // Negative when the listener hears of the document before the commit's answer arrives.
      'accept committed -> listener sees it': phases.commitToVisible,
      'function invoked -> function returned': phases.handlerTotal,
    },
  });
}

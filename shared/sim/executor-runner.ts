/**
 * The simulated executor on real Pub/Sub topics, as `mi dev` runs it: requests come from a
 * pull subscription on mi-executor-requests, outcomes go out on mi-executor-results, in the
 * same envelopes the real runner uses.
 */
import type { Message, PubSub, Subscription, Topic } from '@google-cloud/pubsub';
import { makeEnvelope, parseEnvelope, type Envelope } from '../events/index.js';
import { describeError } from '../errors.js';
import { TOPICS } from '../topology.js';
import type { FinishedRun, SimulatedExecutor } from './executor.js';

export const DEFAULT_RUNNER_SUBSCRIPTION = `${TOPICS.executorRequests}--executor-sim`;

export interface ExecutorRunnerOptions {
  pubsub: PubSub;
  executor: SimulatedExecutor;
  subscriptionName?: string;
  /** How often finished runs are looked for and published. */
  intervalMs?: number;
  /** Who the finished facts say they come from. */
  actor?: string;
  /** Told of what the runner could not do (a message it dropped, a failed publish). */
  onError?: (error: unknown, context: string) => void;
}

export interface ExecutorRunner {
  readonly subscription: Subscription;
  /** One look for finished runs (the timer calls it too), for tests that do not want to wait. */
  tick(): Promise<FinishedRun[]>;
  /** Stops the timer, waits for a tick in flight, closes the subscription and flushes publishes. */
  stop(): Promise<void>;
}

function isAlreadyExists(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 6;
}

async function ensureTopic(pubsub: PubSub, name: string): Promise<Topic> {
  const topic = pubsub.topic(name);
  const [exists] = await topic.exists();
  if (!exists) {
    try {
      await topic.create();
    } catch (error) {
      // Another runner or the local stack may create it at the same moment.
      if (!isAlreadyExists(error)) throw error;
    }
  }
  return topic;
}

async function ensureSubscription(topic: Topic, name: string): Promise<Subscription> {
  const subscription = topic.subscription(name);
  const [exists] = await subscription.exists();
  if (!exists) {
    try {
      await topic.createSubscription(name, { ackDeadlineSeconds: 30 });
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
  }
  return subscription;
}

/** The executor.run-finished envelope of a finished run. */
export function finishedEnvelope(run: FinishedRun, actor: string): Envelope<'executor.run-finished'> {
  return makeEnvelope({
    type: 'executor.run-finished',
    payload: { runKey: run.runKey, action: run.action, outcome: run.outcome, detail: run.detail.slice(0, 2000), ...(Object.keys(run.outputs).length === 0 ? {} : { outputs: run.outputs }) },
    actor,
    reason: `${run.action} run ${run.runKey} ${run.outcome}`.slice(0, 1000),
    ...(run.instanceId === '' ? {} : { instanceId: run.instanceId }),
    issuedAt: run.finishedAt.toISOString(),
  });
}

/** Starts listening for run requests and publishing finished runs. */
export async function startExecutorRunner(options: ExecutorRunnerOptions): Promise<ExecutorRunner> {
  const { pubsub, executor } = options;
  const actor = options.actor ?? 'executor-sim';
  const onError = options.onError ?? ((error: unknown, context: string) => console.error(`executor sim: ${context}: ${describeError(error)}`));
  const requests = await ensureTopic(pubsub, TOPICS.executorRequests);
  const results = await ensureTopic(pubsub, TOPICS.executorResults);
  const subscription = await ensureSubscription(requests, options.subscriptionName ?? DEFAULT_RUNNER_SUBSCRIPTION);

  const handle = async (message: Message): Promise<void> => {
    let envelope: Envelope<'executor.run-requested'>;
    try {
      envelope = parseEnvelope(JSON.parse(message.data.toString('utf8')), ['executor.run-requested']) as Envelope<'executor.run-requested'>;
    } catch (error) {
      // A message that can never decode would come back forever: drop it, loudly.
      onError(error, `message ${message.id} dropped: it is not an executor.run-requested envelope`);
      message.ack();
      return;
    }
    try {
      await executor.requestRun({
        runKey: envelope.payload.runKey,
        action: envelope.payload.action,
        params: envelope.payload.params,
        refuseAfter: envelope.payload.refuseAfter,
        instanceId: envelope.instanceId ?? '',
        actor: envelope.actor,
        reason: envelope.reason,
      });
      message.ack();
    } catch (error) {
      // The executor refused for now (an injected fault): let Pub/Sub deliver it again.
      onError(error, `run ${envelope.payload.runKey} not accepted, redelivery asked`);
      message.nack();
    }
  };
  subscription.on('message', (message: Message) => void handle(message));
  subscription.on('error', (error: unknown) => onError(error, 'subscription'));

  const publish = async (run: FinishedRun): Promise<void> => {
    await results.publishMessage({ data: Buffer.from(JSON.stringify(finishedEnvelope(run, actor))) });
  };
  let inFlight: Promise<FinishedRun[]> | undefined;
  const tick = (): Promise<FinishedRun[]> => {
    // One tick at a time, so a run is never published twice by overlapping ticks.
    inFlight ??= executor.finishDue(publish).finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  const timer = setInterval(() => {
    tick().catch((error: unknown) => onError(error, 'publishing finished runs'));
  }, options.intervalMs ?? 1_000);

  return {
    subscription,
    tick,
    async stop() {
      clearInterval(timer);
      await inFlight?.catch(() => undefined);
      subscription.removeAllListeners();
      await subscription.close();
      await results.flush();
    },
  };
}

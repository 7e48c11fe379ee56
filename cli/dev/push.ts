/**
 * The functions of the local stack as Pub/Sub sees them: every function served on 127.0.0.1,
 * and the topology's push subscriptions pointed at it, exactly as the cloud has them.
 */
import type { PubSub } from '@google-cloud/pubsub';
import { ensurePushSubscription } from '../../shared/gcp/pubsub-admin.js';
import { FUNCTIONS, SCHEDULES, SUBSCRIPTIONS } from '../../shared/topology.js';
import { serveFunctions, type FunctionsServer } from './functions-server.js';
import type { UndoStack } from './undo.js';

/** A push subscription as the stack reports it. */
export interface LocalSubscription {
  name: string;
  topic: string;
  pushEndpoint: string;
  maxDeliveryAttempts: number;
  deadLetterTopic: string;
}

/** Every function of the topology on 127.0.0.1 (closed on stop), each delivery logged but the schedules' successes. */
export async function serveEveryFunction(port: number | undefined, undo: UndoStack, log: (line: string) => void): Promise<FunctionsServer> {
  const scheduledFunctions = new Set(SUBSCRIPTIONS.filter((s) => SCHEDULES.some((c) => c.topic === s.topic)).map((s) => s.function));
  const server = await serveFunctions({
    functionNames: FUNCTIONS.map((f) => f.name),
    ...(port === undefined ? {} : { port }),
    onDelivery: (d) => {
      // The schedules fire every few seconds: only their failures are worth a line.
      if (d.status >= 200 && d.status < 300 && scheduledFunctions.has(d.functionName as (typeof FUNCTIONS)[number]['name'])) return;
      const how = SUBSCRIPTIONS.some((s) => s.function === d.functionName) ? 'push' : 'request';
      log(`${how} -> ${d.functionName}: ${d.status === 0 ? 'connection closed' : d.status} in ${d.ms} ms`);
    },
  });
  undo.push('close the functions server', () => server.close());
  log(`functions: ${server.url}`);
  return server;
}

/**
 * The push subscriptions, exactly as the topology describes them, pointed at the server. On an
 * emulator that outlives this stack (`ownsEmulator` false) they turn to pull when stopping.
 */
export async function pushToServer(
  admin: PubSub,
  server: FunctionsServer,
  input: { projectId: string; ownsEmulator: boolean },
  undo: UndoStack,
): Promise<LocalSubscription[]> {
  const subscriptions = SUBSCRIPTIONS.map((s) => ({
    name: s.name,
    topic: s.topic,
    pushEndpoint: server.pushEndpoint(s.function, input.projectId, s.topic),
    maxDeliveryAttempts: s.deadLetter.maxDeliveryAttempts,
    deadLetterTopic: s.deadLetter.topic,
  }));
  await Promise.all(
    SUBSCRIPTIONS.map((s, i) =>
      ensurePushSubscription(admin, {
        name: s.name,
        topic: s.topic,
        ackDeadlineSeconds: s.ackDeadlineSeconds,
        retryPolicy: s.retryPolicy,
        deadLetter: s.deadLetter,
        pushEndpoint: subscriptions[i]?.pushEndpoint ?? '',
      }),
    ),
  );
  if (!input.ownsEmulator) {
    // Messages published meanwhile (an `mi upgrade` while mi dev is down) then wait for the
    // next start instead of being pushed to a closed port until they are dead-lettered.
    undo.push('pause the push subscriptions', async () => {
      await Promise.all(SUBSCRIPTIONS.map((s) => admin.subscription(s.name).setMetadata({ pushConfig: {} })));
    });
  }
  return subscriptions;
}

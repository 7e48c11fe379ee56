/**
 * What every benchmark shares: one counted Firestore client, the engine on it with the
 * simulated fleet (so the first steps after an acceptance are quick and in process), and
 * helpers to seed instances and build lifecycle messages as Pub/Sub delivers them.
 */
import { customerInstance } from '../harness/instances.js';
import { randomBytes } from 'node:crypto';
import { PubSub } from '@google-cloud/pubsub';
import type { Firestore } from '@google-cloud/firestore';
import { DEFAULT_TIMINGS } from '../shared/domain/lifecycle/operations.js';
import type { Engine } from '../shared/engine/index.js';
import { createServices, notGranted, type Services } from '../shared/services.js';
import { makeEnvelope, type AnyEnvelope, type InstanceRecord } from '../shared/events/index.js';
import { createFirestoreOperationCounter, type FirestoreOperationCounter } from '../shared/gcp/firestore-counting.js';
import { createFirestore, createFirestoreStore } from '../shared/gcp/firestore-store.js';
import { ensureTopics } from '../shared/gcp/pubsub-admin.js';
import { createPubSubBus, type ClosableEventBus } from '../shared/gcp/pubsub-bus.js';
import type { Logger } from '../shared/log.js';
import { systemClock, type StateStore } from '../shared/ports.js';
import { createSimulatedFleet, type SimulatedFleet } from '../shared/sim/index.js';
import { TOPICS, allTopics } from '../shared/topology.js';
import { paths } from '../shared/store/collections.js';

export const REGION = 'us-central1';
export const FROM_VERSION = '5.4.2';
export const TO_VERSION = '5.5.0';

/** A Pub/Sub CloudEvent as the functions framework hands it to a function. */
export interface PubSubCloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: 'google.cloud.pubsub.topic.v1.messagePublished';
  data: {
    subscription: string;
    message: { data: string; attributes: Record<string, string>; messageId: string; publishTime: string };
  };
}

export interface BenchWorld {
  projectId: string;
  /** The one Firestore client both sides of the Firestore benchmarks use; its calls are counted. */
  firestore: Firestore;
  counter: FirestoreOperationCounter;
  fleet: SimulatedFleet;
  /** The services of the one composition root, on the simulated fleet. */
  services: Services;
  engine: Engine;
  /**
   * Sets what is called once each transaction of the engine's store has committed (its promise
   * settled successfully). The benchmarks set it around one sample; it must stay cheap.
   */
  onCommit(listener: (() => void) | undefined): void;
  /** Warnings the engine logged (a first step that could not start, say): reported, never hidden. */
  engineWarnings: string[];
  /** An instance id of the same length for every sample, so documents keep the same size. */
  newInstanceId(side: 'e' | 'r'): string;
  instanceRecord(id: string): InstanceRecord;
  /** Writes instance records (untimed), registering them with the simulated fleet. */
  seedInstances(ids: readonly string[]): Promise<void>;
  upgradeCommand(instanceId: string): AnyEnvelope;
  close(): Promise<void>;
}

/** Base64 JSON in a Pub/Sub message inside a CloudEvent, with the attributes the bus sets. */
export function pushedCloudEvent(envelope: AnyEnvelope, projectId: string, topic: string = TOPICS.lifecycle): PubSubCloudEvent {
  const messageId = String(BigInt(`0x${randomBytes(6).toString('hex')}`));
  return {
    specversion: '1.0',
    id: messageId,
    source: `//pubsub.googleapis.com/projects/${projectId}/topics/${topic}`,
    type: 'google.cloud.pubsub.topic.v1.messagePublished',
    data: {
      subscription: `projects/${projectId}/subscriptions/${topic}--lifecycle`,
      message: {
        data: Buffer.from(JSON.stringify(envelope)).toString('base64'),
        attributes: { eventType: envelope.type, eventId: envelope.eventId },
        messageId,
        publishTime: new Date().toISOString(),
      },
    },
  };
}

/** A store that reports each committed transaction; one extra await, nothing else. */
function reportingCommits(store: StateStore, committed: () => void): StateStore {
  return {
    ...store,
    async transaction(work) {
      const result = await store.transaction(work);
      committed();
      return result;
    },
  };
}

/** Builds the shared world on the emulators named by the environment. */
export async function createBenchWorld(projectId: string): Promise<BenchWorld> {
  const counter = createFirestoreOperationCounter();
  const firestore = createFirestore(projectId, counter.settings);
  const busClient = new PubSub({ projectId });
  await ensureTopics(busClient, allTopics());
  const bus: ClosableEventBus = createPubSubBus({ pubsub: busClient });
  // Seconds-long simulated work: the first steps start their backups and return at once.
  const fleet = createSimulatedFleet({
    clock: systemClock,
    sqlDurations: { backupEnqueuedMs: 1_000, backupRunMs: 3_000 },
    gkeDurations: { creatingMs: 1_000, inProgressMs: 4_000 },
    executor: { queuedMs: 1_000, defaultDurationMs: 5_000 },
  });
  const engineWarnings: string[] = [];
  const log: Logger = {
    info: () => {},
    warn: (message, fields) => engineWarnings.push(`${message} ${JSON.stringify(fields ?? {})}`),
    error: (message, error) => engineWarnings.push(`${message}: ${String(error)}`),
  };
  let commitListener: (() => void) | undefined;
  const store = reportingCommits(createFirestoreStore({ firestore }), () => commitListener?.());
  const services = createServices(
    { store, bus, clock: systemClock, log, ...fleet.ports(), repo: notGranted('the deployment repository', 'the bench'), identity: notGranted('ID tokens', 'the bench'), access: notGranted('PAM', 'the bench'), iamPolicies: notGranted('IAM policies', 'the bench'), slack: notGranted('Slack', 'the bench'), pager: notGranted('OpsGenie', 'the bench'), evidence: notGranted('the evidence bucket', 'the bench'), firestoreAdmin: notGranted('the Firestore Admin API', 'the bench') },
    { timings: DEFAULT_TIMINGS, schedulerParent: `projects/${projectId}/locations/${REGION}`, callers: { audiences: [] } },
  );
  const engine = services.engine;
  const world: BenchWorld = {
    projectId,
    firestore,
    counter,
    fleet,
    services,
    engine,
    onCommit(listener) {
      commitListener = listener;
    },
    engineWarnings,
    newInstanceId: (side) => `bench-${side}-${randomBytes(5).toString('hex')}`,
    instanceRecord(id) {
      const record = { ...customerInstance(id, REGION, fleet.seedInstance({ instanceId: id, region: REGION }), new Date().toISOString()), version: FROM_VERSION };
      fleet.applications.deploy(record.domain, FROM_VERSION, { ready: true, instanceId: id });
      return record;
    },
    async seedInstances(ids) {
      for (let start = 0; start < ids.length; start += 400) {
        const batch = firestore.batch();
        for (const id of ids.slice(start, start + 400)) batch.set(firestore.doc(paths.instance(id)), world.instanceRecord(id));
        await batch.commit();
      }
    },
    upgradeCommand(instanceId) {
      return makeEnvelope({
        type: 'instance.upgrade',
        instanceId,
        payload: { targetVersion: TO_VERSION },
        actor: 'bench@example.com',
        reason: 'benchmark',
      });
    },
    async close() {
      await bus.close();
      await firestore.terminate();
    },
  };
  return world;
}

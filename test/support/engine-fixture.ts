/**
 * An engine on the real Firestore and Pub/Sub emulators with the simulated fleet, for the
 * integration tests. Each fixture works in its own project; each instance it seeds gets a
 * fresh id, so tests in one file do not see each other's instances.
 */
import { randomBytes } from 'node:crypto';
import { PubSub } from '@google-cloud/pubsub';
import type { Firestore } from '@google-cloud/firestore';
import { DEFAULT_TIMINGS, type EngineTimings, type OperationRecord } from '../../shared/domain/lifecycle/operations.js';
import type { Engine } from '../../shared/engine/index.js';
import { silentLogger } from '../../shared/log.js';
import { servicesWith } from './services.js';
import { customerInstance } from '../../harness/instances.js';
import { makeEnvelope, type AnyEnvelope, type EventPayloads, type InstanceRecord, type LifecycleCommandType } from '../../shared/events/index.js';
import { createFirestore, createFirestoreStore } from '../../shared/gcp/firestore-store.js';
import { ensureTopics } from '../../shared/gcp/pubsub-admin.js';
import { createPubSubBus, type ClosableEventBus } from '../../shared/gcp/pubsub-bus.js';
import type { CloudSqlPort, EventBus, ExecutorPort, GkeBackupPort, StateStore } from '../../shared/ports.js';
import { createSimulatedFleet, ManualClock, type SimulatedFleet, type SqlDurations } from '../../shared/sim/index.js';
import { allTopics } from '../../shared/topology.js';
import { finishedEnvelope } from '../../shared/sim/executor-runner.js';
import { pubSubCloudEvent } from '../../harness/cloud-event.js';
import { jsonLogger, type Logger } from '../../shared/log.js';
import { projectIdFor } from './project.js';
import { paths } from '../../shared/store/collections.js';
import { deliver } from '../../shared/edge.js';
import { isRetryable } from '../../shared/errors.js';
import { executorResultsRoute } from '../../shared/routes.js';

/** Short timings so a test drives an operation through in simulated minutes. */
export const TEST_TIMINGS: EngineTimings = {
  ...DEFAULT_TIMINGS,
  claimMs: 60_000,
  pollMs: 5_000,
  backoffMs: 5_000,
  maxBackoffMs: 30_000,
};

export interface PortOverrides {
  store?: StateStore;
  bus?: EventBus;
  cloudSql?: CloudSqlPort;
  gkeBackup?: GkeBackupPort;
  executor?: ExecutorPort;
  log?: Logger;
}

export interface EngineFixture {
  projectId: string;
  firestore: Firestore;
  store: StateStore;
  bus: ClosableEventBus;
  pubsub: PubSub;
  clock: ManualClock;
  fleet: SimulatedFleet;
  engine: Engine;
  /** Another engine on the same world, as a second process would be (optionally with other ports). */
  engineWith(overrides: PortOverrides): Engine;
  seedInstance(overrides?: Partial<InstanceRecord>): Promise<InstanceRecord>;
  command<T extends LifecycleCommandType>(type: T, instanceId: string, payload: EventPayloads[T]): AnyEnvelope;
  /** Delivers the finished executor runs to the engine, as the executorResults function would. */
  deliverExecutorResults(engine?: Engine): Promise<number>;
  /**
   * Moves the clock and reconciles until the operation ends (or rounds run out). `results` is
   * the engine the executor's results are delivered to (default: `engine`), as when the
   * reconcile and executorResults functions each run their own.
   */
  driveToEnd(operationId: string, options?: { engine?: Engine; results?: Engine; stepMs?: number; rounds?: number }): Promise<OperationRecord>;
  operation(operationId: string): Promise<OperationRecord | undefined>;
  instance(id: string): Promise<InstanceRecord | undefined>;
  close(): Promise<void>;
}

export function uniqueId(prefix = 'inst'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export async function createEngineFixture(
  fileUrl: string,
  options: { suffix?: string; timings?: EngineTimings; sqlDurations?: Partial<SqlDurations> } = {},
): Promise<EngineFixture> {
  const projectId = projectIdFor(fileUrl, options.suffix ?? '');
  const firestore = createFirestore(projectId);
  const store = createFirestoreStore({ firestore });
  const pubsub = new PubSub({ projectId });
  await ensureTopics(pubsub, allTopics());
  const bus = createPubSubBus({ pubsub });
  const clock = new ManualClock('2026-11-26T10:00:00Z');
  const fleet = createSimulatedFleet({
    clock,
    sqlDurations: { backupEnqueuedMs: 1_000, backupRunMs: 20_000, ...options.sqlDurations },
    gkeDurations: { creatingMs: 1_000, inProgressMs: 30_000, restoreCreatingMs: 1_000, restoreInProgressMs: 40_000 },
    executor: { queuedMs: 1_000, defaultDurationMs: 60_000 },
  });
  const timings = options.timings ?? TEST_TIMINGS;
  // The one composition root, on the simulated fleet; a second "process" gets services of its own.
  const build = (over: PortOverrides = {}) =>
    servicesWith({}, { store, bus, clock, log: process.env.MI_TEST_LOG ? jsonLogger() : silentLogger, ...fleet.ports(), ...over }, { timings }).engine;
  const engine = build();

  const fixture: EngineFixture = {
    projectId,
    firestore,
    store,
    bus,
    pubsub,
    clock,
    fleet,
    engine,
    engineWith: build,
    async seedInstance(overrides = {}) {
      const id = overrides.id ?? uniqueId();
      const region = overrides.region ?? 'us-central1';
      const resources = fleet.seedInstance({ instanceId: id, region });
      const at = clock.now().toISOString();
      // A dev instance names its owner, as its spec must.
      const owner = overrides.environment === 'dev' && overrides.owner === undefined ? { owner: `owner-of-${id}@example.com` } : {};
      const record: InstanceRecord = { ...customerInstance(id, region, resources, at), ...owner, ...overrides };
      // Its application runs (ready) on its domain, as an instance created earlier would.
      fleet.applications.deploy(record.domain, record.version, { ready: true, instanceId: id });
      await store.set(paths.instance(id), record);
      return record;
    },
    command(type, instanceId, payload) {
      return makeEnvelope({ type, instanceId, payload, actor: 'alice@example.com', reason: 'integration test' }) as unknown as AnyEnvelope;
    },
    async deliverExecutorResults(target = engine) {
      const finished = await fleet.executor.finishDue();
      for (const run of finished) {
        await deliver(target.deps, executorResultsRoute(target), pubSubCloudEvent(finishedEnvelope(run, 'system:executor-sim'), { topic: 'mi-executor-results' }));
      }
      return finished.length;
    },
    async driveToEnd(operationId, { engine: target = engine, results = target, stepMs = 10_000, rounds = 60 } = {}) {
      for (let round = 0; round < rounds; round += 1) {
        const op = await fixture.operation(operationId);
        if (op && op.status !== 'running' && op.status !== 'stuck') return op;
        clock.advance(stepMs);
        await fixture.deliverExecutorResults(results);
        await target.reconcile({ outboxGraceMs: 0 });
      }
      const last = await fixture.operation(operationId);
      if (!last) throw new Error(`operation ${operationId} does not exist`);
      return last;
    },
    operation: (id) => store.get<OperationRecord>(paths.operation(id)),
    instance: (id) => store.get<InstanceRecord>(paths.instance(id)),
    async close() {
      await bus.close();
      await firestore.terminate();
    },
  };
  return fixture;
}

/** A lifecycle command as the functions framework hands it to the function. */
export function lifecycleDelivery(envelope: AnyEnvelope, messageId?: string) {
  return pubSubCloudEvent(envelope, { topic: 'mi-lifecycle', ...(messageId ? { message: { messageId } } : {}) });
}

/**
 * One message handed to a function as Pub/Sub would: a delivery that fails retryably (an
 * aborted or unanswered transaction when commits contend on a loaded machine) is delivered
 * again, up to `attempts` times, and what the last delivery answered is returned.
 */
export async function deliverAtLeastOnce<R>(deps: Parameters<typeof deliver>[0], route: Parameters<typeof deliver<R>>[1], cloudEvent: unknown, attempts = 4) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await deliver(deps, route, cloudEvent);
    } catch (error) {
      if (attempt >= attempts || !isRetryable(error)) throw error;
    }
  }
}

/**
 * One chaos schedule's world: the real Firestore emulator (wiped for each schedule), the real
 * Pub/Sub emulator for publishes, the simulated fleet on a manual clock, and the engine wired
 * to them through the gate, with one of the two production executor adapters: Cloud Build's (on
 * the simulated Builds API, its notifications published as Cloud Build publishes them, some
 * lost), or the external runner's (requests once, through the outbox, in front of a simulated
 * runner that can be down). Pub/Sub delivery itself is modeled
 * here, as the scheduler must choose when each message arrives: at least once, redelivered
 * after a failure, dead-lettered after the subscription's attempts.
 */
import type { Firestore } from '@google-cloud/firestore';
import type { PubSub } from '@google-cloud/pubsub';
import { DEFAULT_TIMINGS, type EngineTimings } from '../../shared/domain/lifecycle/operations.js';
import { createEngine, type Engine } from '../../shared/engine/index.js';
import { createOnceOutbox } from '../../shared/store/outbox.js';
import { makeEnvelope, parseEnvelope, type AnyEnvelope, type Envelope, type InstanceRecord } from '../../shared/events/index.js';
import { createExecutorAdapter } from '../../shared/gcp/executor.js';
import { createFirestoreStore } from '../../shared/gcp/firestore-store.js';
import type { ClosableEventBus } from '../../shared/gcp/pubsub-bus.js';
import type { EventBus, ExecutorPort, SqlOperation, StateStore } from '../../shared/ports.js';
import { createSimulatedFleet, ManualClock, type SimulatedFleet } from '../../shared/sim/index.js';
import { finishedEnvelope } from '../../shared/sim/executor-runner.js';
import { FUNCTIONS, SUBSCRIPTIONS, TOPICS, type FunctionUse } from '../../shared/topology.js';
import { CONTROL_PLANE_TAG, isFinalBuildStatus, RUN_KEY_SUBSTITUTION, RUN_STATE_OF_BUILD, runNoticeKey, type BuildStatus } from '../../shared/domain/executor/index.js';
import { createCloudBuildExecutor } from '../../shared/gcp/cloud-build.js';
import { Gate } from './gate.js';
import { customerInstance } from '../../harness/instances.js';
import { paths } from '../../shared/store/collections.js';

export const START = '2026-11-26T10:00:00.000Z';

/** The longest a function that creates builds runs (reconcile): no create lands later than that after it was sent. */
const LANDING_MARGIN_MS = Math.max(...FUNCTIONS.filter((f) => (f.uses as FunctionUse).builds === 'run').map((f) => f.timeoutSeconds * 1000));
const CHAOS_BUILD_SETTINGS = { project: 'mi-chaos', repository: 'chaos/deployments', branch: 'main', tokenSecret: 'projects/mi-chaos/secrets/t/versions/1', appImage: 'example/app', oncallGroup: 'oncall@example.com' };

/** The engine's timings in the chaos world: the defaults (claims that outlive every function's timeout), quicker polls. */
export const CHAOS_TIMINGS: EngineTimings = { ...DEFAULT_TIMINGS, pollMs: 5_000, backoffMs: 5_000, maxBackoffMs: 30_000 };

const MAX_DELIVERY_ATTEMPTS = SUBSCRIPTIONS.find((s) => s.topic === TOPICS.lifecycle)?.deadLetter.maxDeliveryAttempts ?? 10;

export function timeoutOf(functionName: string): number {
  const fn = FUNCTIONS.find((f) => f.name === functionName);
  if (fn === undefined) throw new Error(`no function ${functionName} in the topology`);
  return fn.timeoutSeconds * 1000;
}

/** A message on a topic, as the modeled subscription holds it. */
export interface Message {
  messageId: string;
  topic: string;
  /** The base64 data the push body carries. */
  data: string;
  /** Pub/Sub attributes (Cloud Build's notifications carry the build id and status there). */
  attributes?: Record<string, string>;
  /** The ledger key it must end up under: its (lower-cased) event id, or msg-<message id>; null for none (a notification that records nothing). */
  ledgerKey: string | null;
  deliveries: number;
  acked: boolean;
  deadLettered: boolean;
  inFlight: number;
}

/** A side effect that landed in a simulated service, with the lease holder at that moment. */
export interface Effect {
  kind: 'sql-backup-run' | 'sql-restore' | 'gke-backup' | 'gke-restore' | 'executor-run';
  /** What makes it one step's effect: a second landing with the same key is a duplicate. */
  key: string;
  instanceId: string;
  /** The operation that started it, when its key says so; else the holder when it landed. */
  operationId: string | null;
  holderAtLanding: string | null;
  at: string;
  running: () => Promise<boolean>;
}

export interface World {
  clock: ManualClock;
  fleet: SimulatedFleet;
  gate: Gate;
  store: StateStore;
  engine: Engine;
  instances: InstanceRecord[];
  messages: Message[];
  /** Which executor the engine runs on. */
  executorKind: ExecutorKind;
  /** Requests published on mi-executor-requests, waiting for the runner. */
  runnerQueue: Array<Envelope<'executor.run-requested'>>;
  /** The runner (or Cloud Build's notifications) up. */
  runnerUp: boolean;
  effects: Effect[];
  /** The id of the backup run each instance was seeded with, to restore from. */
  seededRuns: Record<string, string>;
  /** Facts and alerts published on mi-events (nobody here consumes them). */
  facts: number;
  /** A message on a topic; its ledger key, or how to derive it from the message id. */
  publish(topic: string, data: string, ledgerKey: string | ((messageId: string) => string)): Message;
  /** The runner takes one request off its queue (refused by the simulator past its refuse-after time). */
  runnerTake(index: number): Promise<void>;
  /** The runner reports every run that finished and was not reported yet. */
  runnerReport(): Promise<number>;
  /** Cloud Build publishes its builds' status changes not published yet; `lose` says which it loses. */
  notifyBuilds(lose: () => boolean): Promise<{ published: number; lost: number }>;
  leaseHolder(instanceId: string): Promise<string | null>;
}

export interface WorldOptions {
  firestore: Firestore;
  pubsub: PubSub;
  bus: ClosableEventBus;
  sqlWhileBusy: 'refuse' | 'queue';
  instances: number;
  /** How long a Cloud SQL restore runs, and how long executor runs take: seconds, or past a deadline. */
  restoreMs: number;
  executorRunMs: number;
  /** Backup for GKE fails every restore (scripted on each restore plan as it is created). */
  gkeRestoresFail: boolean;
  executor: ExecutorKind;
}

export type ExecutorKind = 'cloud-build' | 'runner';

/** Cloud Build's notifications name the build; ours that ended are recorded under this key (shared/engine/result.ts). */
function notificationLedgerKey(data: string): string | null {
  const build = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { id: string; status: BuildStatus; tags?: string[] };
  if (!(build.tags ?? []).includes(CONTROL_PLANE_TAG) || !isFinalBuildStatus(build.status)) return null;
  return runNoticeKey(build.id, RUN_STATE_OF_BUILD[build.status]);
}

const STORE_READS = new Set(['get', 'query', 'queryIds', 'count']);
const SQL_READS = new Set(['listBackupRuns', 'getBackupRun', 'listFinalBackups', 'getOperation', 'listOperations', 'getInstance', 'getLatestRecoveryTime']);
const GKE_READS = new Set(['getBackup', 'listBackups', 'getBackupPlan', 'getOperation', 'getRestore']);

function operationOfDescription(description: unknown): string | null {
  const match = /^mi:(op-[0-9a-f-]+):/.exec(typeof description === 'string' ? description : '');
  return match?.[1] ?? null;
}

/** The instance whose project a call names (`mi-<instance id>`, the shared naming rule). */
function instanceOfProject(instances: readonly InstanceRecord[], text: string): string | undefined {
  return instances.find((i) => text.includes(`projects/${i.resources.project}/`) || text === i.resources.project)?.id;
}

export async function createWorld(options: WorldOptions): Promise<World> {
  const clock = new ManualClock(START);
  const fleet = createSimulatedFleet({
    clock,
    sqlDurations: { backupEnqueuedMs: 1_000, backupRunMs: 20_000, restoreMs: options.restoreMs },
    gkeDurations: { creatingMs: 1_000, inProgressMs: 30_000, restoreCreatingMs: 1_000, restoreInProgressMs: 40_000 },
    executor: { queuedMs: 1_000, defaultDurationMs: options.executorRunMs },
    // A build of five steps runs about as long as a run of the external runner.
    cloudBuild: { queuedMs: 1_000, stepMs: Math.max(1_000, Math.floor(options.executorRunMs / 5)) },
    sqlWhileBusy: options.sqlWhileBusy,
  });
  const gate = new Gate(clock);
  const realStore = createFirestoreStore({ firestore: options.firestore });
  const effects: Effect[] = [];
  const messages: Message[] = [];
  const runnerQueue: Array<Envelope<'executor.run-requested'>> = [];
  let messageSeq = 0;
  let facts = 0;

  const leaseHolder = async (instanceId: string): Promise<string | null> => (await realStore.get<InstanceRecord>(paths.instance(instanceId)))?.lease?.operationId ?? null;

  const publish = (topic: string, data: string, ledgerKey: string | null | ((messageId: string) => string), attributes?: Record<string, string>): Message => {
    const messageId = String((messageSeq += 1));
    const key = typeof ledgerKey === 'function' ? ledgerKey(messageId) : ledgerKey;
    const message: Message = { messageId, topic, data, ledgerKey: key, deliveries: 0, acked: false, deadLettered: false, inFlight: 0, ...(attributes === undefined ? {} : { attributes }) };
    messages.push(message);
    return message;
  };

  // The bus: a real publish to the emulator, then the message joins the modeled subscription.
  const realBus: EventBus = options.bus;
  const bus = gate.wrap<EventBus>('pubsub', realBus, {
    reads: new Set(),
    landed(_method, args) {
      const [topic, envelope] = args as [string, AnyEnvelope];
      const data = Buffer.from(JSON.stringify(envelope)).toString('base64');
      if (topic === TOPICS.executorRequests) runnerQueue.push(envelope as unknown as Envelope<'executor.run-requested'>);
      else if (topic === TOPICS.lifecycle || topic === TOPICS.executorResults) publish(topic, data, envelope.eventId);
      else facts += 1;
    },
  });
  const store = gate.wrap<StateStore>('firestore', realStore, { reads: STORE_READS });

  const instances: InstanceRecord[] = [];
  const seededRuns: Record<string, string> = {};
  const recordEffect = async (effect: Omit<Effect, 'holderAtLanding' | 'at'>) => {
    effects.push({ ...effect, holderAtLanding: await leaseHolder(effect.instanceId), at: clock.now().toISOString() });
  };
  const raw = { sql: fleet.cloudSql, gke: fleet.gkeBackup, executor: fleet.executor, builds: fleet.cloudBuild };

  const cloudSql = gate.wrap('cloudsql', fleet.cloudSql, {
    reads: SQL_READS,
    async landed(method, args, result) {
      const instanceId = instanceOfProject(instances, String(args[0]));
      if (instanceId === undefined) return;
      const op = result as SqlOperation;
      if (method === 'insertBackupRun') {
        const description = (args[2] as { description: string }).description;
        const runId = op.backupContext?.backupId ?? '';
        await recordEffect({
          kind: 'sql-backup-run',
          key: description,
          instanceId,
          operationId: operationOfDescription(description),
          running: async () => {
            const run = await raw.sql.getBackupRun(String(args[0]), String(args[1]), runId);
            return run !== undefined && ['ENQUEUED', 'RUNNING', 'OVERDUE'].includes(run.status);
          },
        });
      } else if (method === 'restoreBackup') {
        const holder = await leaseHolder(instanceId);
        await recordEffect({
          kind: 'sql-restore',
          key: `restore:${String(args[1])}:${holder ?? 'no-lease'}`,
          instanceId,
          operationId: holder,
          running: async () => (await raw.sql.getOperation(String(args[0]), op.name))?.status !== 'DONE',
        });
      }
    },
  });
  const gkeBackup = gate.wrap('gkebackup', fleet.gkeBackup, {
    reads: GKE_READS,
    async landed(method, args) {
      const instanceId = instanceOfProject(instances, String(args[0]));
      if (instanceId === undefined) return;
      if (method === 'createBackup') {
        const name = `${String(args[0])}/backups/${String(args[1])}`;
        await recordEffect({
          kind: 'gke-backup',
          key: name,
          instanceId,
          operationId: operationOfDescription((args[2] as { description?: string }).description),
          running: async () => ['CREATING', 'IN_PROGRESS'].includes((await raw.gke.getBackup(name))?.state ?? ''),
        });
      } else if (method === 'createRestorePlan' && options.gkeRestoresFail) {
        raw.gke.scriptRestoreOutcome(`${String(args[0])}/restorePlans/${String(args[1])}`, 'FAILED', 'namespace conflict (chaos)');
      } else if (method === 'createRestore') {
        const name = `${String(args[0])}/restores/${String(args[1])}`;
        const holder = await leaseHolder(instanceId);
        await recordEffect({
          kind: 'gke-restore',
          key: name,
          instanceId,
          operationId: holder,
          running: async () => ['CREATING', 'IN_PROGRESS'].includes((await raw.gke.getRestore(name))?.state ?? ''),
        });
      }
    },
  });

  let executor: ExecutorPort;
  if (options.executor === 'cloud-build') {
    // The Cloud Build adapter on the simulated Builds API, every call through the gate; a build
    // that lands is the run's side effect (a second one for a run key is a duplicate).
    const builds = gate.wrap('cloudbuild', raw.builds, {
      reads: new Set(['getBuild', 'listBuilds']),
      async landed(method, args) {
        if (method !== 'createBuild') return;
        const body = args[1] as { substitutions: Record<string, string>; tags: string[] };
        const runKey = body.substitutions[RUN_KEY_SUBSTITUTION] ?? '';
        // From its tag: a build that uses no `_INSTANCE` (a verify run's health check) still names its instance there.
        const instanceId = body.tags.find((t) => t.startsWith('mi-instance-'))?.slice('mi-instance-'.length) ?? '';
        await recordEffect({
          kind: 'executor-run',
          key: runKey,
          instanceId,
          operationId: runKey.slice(0, runKey.lastIndexOf(':')),
          running: () => Promise.resolve(raw.builds.list().some((b) => (b.substitutions as Record<string, string>)[RUN_KEY_SUBSTITUTION] === runKey && ['QUEUED', 'WORKING'].includes(String(b.status)))),
        });
      },
    });
    executor = createCloudBuildExecutor({ parent: 'projects/mi-chaos/locations/us-central1', settings: CHAOS_BUILD_SETTINGS, clock, calls: builds, landingMarginMs: LANDING_MARGIN_MS });
  } else {
    // The production adapter asks for runs once, through the outbox (gated store and bus); the
    // run's state, which the real runner serves over HTTP, comes from the simulator.
    const adapter = createExecutorAdapter({ outbox: createOnceOutbox({ store, bus, clock, log: silent }), statusUrl: 'http://127.0.0.1/unused' });
    executor = {
      requestRun: (request) => adapter.requestRun(request),
      getRunStatus: (runKey) => gate.call('executor.getRunStatus', false, () => raw.executor.getRunStatus(runKey)),
    };
  }

  const engine = createEngine({ store, bus, cloudSql, gkeBackup, executor, health: fleet.applications, clock, timings: CHAOS_TIMINGS });

  for (let i = 0; i < options.instances; i += 1) {
    const id = `chaos-${String.fromCharCode(97 + i)}`;
    const resources = fleet.seedInstance({ instanceId: id, region: 'us-central1' });
    // A day of backups to restore from, as the daily schedules leave them.
    const [runId] = fleet.cloudSql.seedAutomatedBackups(resources.project, resources.sqlInstance, [{ endTime: new Date(Date.parse(START) - 3_600_000).toISOString() }]);
    if (runId !== undefined) seededRuns[id] = runId;
    fleet.gkeBackup.seedBackups(resources.backupPlan, [{ backupId: `seed-${id}`, createTime: new Date(Date.parse(START) - 7_200_000).toISOString() }]);
    const record = customerInstance(id, 'us-central1', resources, START);
    fleet.applications.deploy(record.domain, record.version, { ready: true, instanceId: id });
    await realStore.set(paths.instance(id), record);
    instances.push(record);
  }

  const world: World = {
    clock,
    fleet,
    gate,
    store: realStore,
    engine,
    instances,
    messages,
    executorKind: options.executor,
    runnerQueue,
    runnerUp: true,
    effects,
    seededRuns,
    get facts() {
      return facts;
    },
    publish,
    async runnerTake(index) {
      const [envelope] = runnerQueue.splice(index, 1);
      if (envelope === undefined) return;
      const parsed = parseEnvelope(envelope, ['executor.run-requested']) as Envelope<'executor.run-requested'>;
      const { runKey } = parsed.payload;
      const before = raw.executor.runs().some((r) => r.request.runKey === runKey);
      await raw.executor.requestRun({ ...parsed.payload, instanceId: parsed.instanceId ?? '', actor: parsed.actor, reason: parsed.reason });
      const started = !before && raw.executor.runs().some((r) => r.request.runKey === runKey);
      if (started && parsed.instanceId !== undefined) {
        await recordEffect({
          kind: 'executor-run',
          key: runKey,
          instanceId: parsed.instanceId,
          operationId: runKey.slice(0, runKey.lastIndexOf(':')),
          running: async () => ['queued', 'running'].includes((await raw.executor.getRunStatus(runKey)).state),
        });
      }
    },
    async runnerReport() {
      const finished = await raw.executor.finishDue((run) => {
        const envelope = finishedEnvelope(run, 'executor-runner');
        publish(TOPICS.executorResults, Buffer.from(JSON.stringify(envelope)).toString('base64'), envelope.eventId);
      });
      return finished.length;
    },
    async notifyBuilds(lose) {
      let published = 0;
      let lost = 0;
      await raw.builds.notifyDue((n) => {
        // A lost notification is one Cloud Build never delivers: marked sent, never published.
        if (lose()) lost += 1;
        else {
          publish(TOPICS.buildNotifications, n.data, notificationLedgerKey(n.data), n.attributes);
          published += 1;
        }
      });
      return { published, lost };
    },
    leaseHolder,
  };
  return world;
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

export { MAX_DELIVERY_ATTEMPTS, makeEnvelope };

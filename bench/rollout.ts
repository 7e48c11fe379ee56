/**
 * (d) A rollout of 2,000 simulated instances (100 dev, 100 internal prod, 1,800 customers) on
 * the emulators, on the system clock, with seconds-long simulated upgrades: how long it takes
 * to complete; what the fan-out itself read and wrote per instance (its start, ticks and
 * outcome records, on a Firestore client of its own whose calls the gRPC counter counts on the
 * wire; the engine's reads for each upgrade on another client, counted apart); the highest
 * number of upgrades in flight per wave (from the audit trail) against each wave's limit; and
 * the most writes any shared document (the rollout document; there are no counters) was sent
 * within one second, counted on the wire (target: at most 1).
 *
 * (d') One tick at 1,000 and at 10,000 instances, side by side: its reads (documents and
 * aggregations), writes and time, the first tick of the customer wave and one after 10 of its
 * upgrades finished. Target: the tick at 10,000 reads no more than 1.2 times the one at 1,000.
 */
import { PubSub } from '@google-cloud/pubsub';
import { DEFAULT_TIMINGS } from '../shared/domain/lifecycle/operations.js';
import { DEFAULT_HEALTH_GATES, DEFAULT_POLICY, type HealthGatePolicy } from '../shared/domain/lifecycle/index.js';
import { parseWaves, type InstanceProgress, type RolloutRecord, type WaveName } from '../shared/domain/rollout/index.js';
import { createEngine } from '../shared/engine/index.js';
import type { InstanceRecord } from '../shared/events/index.js';
import { createFirestore, createFirestoreStore } from '../shared/gcp/firestore-store.js';
import { createFirestoreOperationCounter, type FirestoreOperationCounts } from '../shared/gcp/firestore-counting.js';
import { createRollouts } from '../shared/rollout/index.js';
import { countsBetween } from './counts.js';
import { ensureTopics } from '../shared/gcp/pubsub-admin.js';
import { systemClock } from '../shared/ports.js';
import { createSimulatedFleet, resourceNamesFor } from '../shared/sim/index.js';
import { allTopics } from '../shared/topology.js';
import { WriteLog, createRolloutDriver, loggingStore, maxInFlightFromAudit } from '../harness/rollout-driver.js';
import { paths, rolloutPaths } from '../shared/store/collections.js';

const LIMITS: Record<WaveName, number> = { dev: 50, internal: 50, canary: 50, customers: 150 };
const WAVES = 'dev:max=50:soak=0,internal:max=50:soak=0,canary:max=50:soak=0,customers:max=150';
const FLEET = { dev: 100, internal: 100, customers: 1_800 };
/** The fan-out's reads per instance over a whole rollout, documents and aggregations together (each aggregation bills at least one read). */
const READS_PER_INSTANCE_TARGET = 6;

export interface RolloutBenchResult {
  name: string;
  instances: number;
  completed: boolean;
  durationSeconds: number;
  limits: Record<string, number>;
  maxInFlight: { recordedByTicks: Record<string, number>; engineOperations: Record<string, number>; withinLimits: boolean };
  sharedDocumentMaxWritesPerSecond: { path: string | null; writes: number; target: number; pass: boolean };
  rolloutDocumentWrites: number;
  progressDocumentMaxWritesPerSecond: number;
  ticksPublished: number;
  /** Handler failures the in-process bus delivered again (contention, deadlines). */
  redeliveries: number;
  firstRedelivery: string | null;
  /** What the fan-out itself (start, ticks, outcome records, the schedule) cost on the wire, in total and per instance. */
  fanOut: { total: FirestoreOperationCounts; perInstance: { reads: number; aggregations: number; billedReads: number; writes: number }; target: number; pass: boolean };
  /** The engine's own cost per upgrade, counted apart. */
  enginePerUpgrade: { reads: number; aggregations: number; writes: number };
}

/** The gates on the bench's fast clock: a probe whenever polled, two in a row within half a minute. */
const BENCH_HEALTH_GATES: HealthGatePolicy = { ...DEFAULT_HEALTH_GATES, intervalSeconds: 0, before: { consecutive: 1, windowSeconds: 10 }, after: { consecutive: 2, windowSeconds: 30 } };

/** Runs the 2,000-instance rollout in a project of its own on the emulators the environment names. */
export async function benchRollout(projectId: string, log: (line: string) => void = () => {}): Promise<RolloutBenchResult> {
  // The fan-out on a client of its own, counted on the wire; the engine on another, counted apart.
  const fanOutCounter = createFirestoreOperationCounter();
  const engineCounter = createFirestoreOperationCounter();
  const firestore = createFirestore(projectId, fanOutCounter.settings);
  const engineFirestore = createFirestore(projectId, engineCounter.settings);
  const pubsub = new PubSub({ projectId });
  try {
    await ensureTopics(pubsub, allTopics());
    const writes = new WriteLog(() => Date.now());
    const store = loggingStore(createFirestoreStore({ firestore }), writes);
    const engineStore = loggingStore(createFirestoreStore({ firestore: engineFirestore }), writes);
    const fleet = createSimulatedFleet({
      clock: systemClock,
      sqlDurations: { backupEnqueuedMs: 200, backupRunMs: 500 },
      gkeDurations: { creatingMs: 200, inProgressMs: 500 },
      executor: { queuedMs: 200, defaultDurationMs: 1_000 },
      applications: { warmupMs: 200, latencyMs: 5 },
    });
    const timings = { ...DEFAULT_TIMINGS, pollMs: 500, claimMs: 30_000, backoffMs: 1_000, maxBackoffMs: 5_000 };
    const driver = createRolloutDriver({
      engineFor: (bus) => createEngine({ store: engineStore, bus, cloudSql: fleet.cloudSql, gkeBackup: fleet.gkeBackup, executor: fleet.executor, health: fleet.applications, clock: systemClock, timings, policy: { ...DEFAULT_POLICY, timings, healthGates: BENCH_HEALTH_GATES } }),
      executor: fleet.executor,
      rolloutDeps: { store, clock: systemClock },
      concurrency: 32,
    });

    const now = new Date().toISOString();
    const always = { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const, start: '00:00', hours: 24, timeZone: 'Etc/UTC' };
    const records: InstanceRecord[] = [];
    const add = (prefix: string, n: number, over: Partial<InstanceRecord>) => {
      for (let i = 0; i < n; i += 1) {
        const id = `${prefix}-${String(i).padStart(4, '0')}`;
        records.push({
          id, slug: id, environment: 'prod', tier: 'customer', domain: `${id}.example.com`, region: 'us-central1', version: '5.4.2',
          status: 'active', resources: fleet.seedInstance({ instanceId: id, region: 'us-central1', application: { domain: `${id}.example.com`, version: '5.4.2' } }), lease: null, generation: 1, createdAt: now, updatedAt: now, ...over,
        });
      }
    };
    add('bdev', FLEET.dev, { environment: 'dev', tier: 'internal' });
    add('bint', FLEET.internal, { tier: 'internal' });
    add('bcus', FLEET.customers, { maintenanceWindow: { ...always, days: [...always.days] } });
    for (let i = 0; i < records.length; i += 400) {
      const batch = engineFirestore.batch();
      for (const r of records.slice(i, i + 400)) batch.set(engineFirestore.doc(paths.instance(r.id)), r);
      await batch.commit();
    }

    const fanOutBefore = fanOutCounter.snapshot();
    const engineBefore = engineCounter.snapshot();
    const began = Date.now();
    const started = await driver.rollouts.start({ targetVersion: '5.5.0', waves: parseWaves(WAVES), actor: 'bench@example.com', reason: 'benchmark' });
    if (started.kind !== 'started') throw new Error(started.message);
    const id = started.rollout.id;
    let rollout: RolloutRecord | undefined;
    let lastSchedule = Date.now();
    let lastReport = Date.now();
    const deadline = began + 15 * 60_000;
    for (;;) {
      await driver.round();
      rollout = await store.get<RolloutRecord>(rolloutPaths.rollout(id));
      if (rollout === undefined || rollout.status !== 'running' || Date.now() > deadline) break;
      if (Date.now() - lastSchedule > 5_000) {
        await driver.rollouts.tickAll();
        lastSchedule = Date.now();
      }
      if (Date.now() - lastReport > 10_000) {
        log(`bench: (d) ${Math.round((Date.now() - began) / 1000)} s: ${rollout.summary.map((s) => `${s.wave} ${s.succeeded + s.failed + s.skipped}/${s.total}`).join(', ')}`);
        lastReport = Date.now();
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const durationSeconds = Math.round((Date.now() - began) / 100) / 10;
    const fanOutTotal = countsBetween(fanOutBefore, fanOutCounter.snapshot());
    const engineTotal = countsBetween(engineBefore, engineCounter.snapshot());
    const { recorded, engine } = await maxInFlightFromAudit(engineStore, id);
    const withinLimits = (['dev', 'internal', 'canary', 'customers'] as const).every((w) => (recorded[w] ?? 0) <= LIMITS[w] && (engine[w] ?? 0) <= LIMITS[w]);
    // Shared documents: everything but an instance's, an operation's, a progress document (one
    // per instance), and the append-only or per-event records.
    const perEntity = /^(instances|operations|audit|processedEvents|outbox|slugs)\/|^rollouts\/[^/]+\/instances\//;
    // On the wire: every write a commit carried, whether or not its answer came back in time.
    const shared = [fanOutCounter, engineCounter].map((c) => c.maxWritesWithin(1_000, (path) => !perEntity.test(path))).sort((a, b) => b.writes - a.writes)[0] ?? { path: null, writes: 0 };
    const progressHot = writes.maxWithin(1_000, (path) => /^rollouts\/[^/]+\/instances\//.test(path));
    const n = records.length;
    const per = (x: number) => Math.round((x / n) * 100) / 100;
    const perInstance = { reads: per(fanOutTotal.reads), aggregations: per(fanOutTotal.aggregations), billedReads: per(fanOutTotal.reads + fanOutTotal.aggregations), writes: per(fanOutTotal.writes) };
    return {
      name: '(d) rollout of 2,000 instances',
      instances: records.length,
      completed: rollout?.status === 'completed',
      durationSeconds,
      limits: LIMITS,
      maxInFlight: { recordedByTicks: recorded, engineOperations: engine, withinLimits },
      sharedDocumentMaxWritesPerSecond: { ...shared, target: 1, pass: shared.writes <= 1 },
      rolloutDocumentWrites: writes.times.get(rolloutPaths.rollout(id))?.length ?? 0,
      progressDocumentMaxWritesPerSecond: progressHot.writes,
      ticksPublished: driver.published.ticks,
      redeliveries: driver.errors.length,
      firstRedelivery: driver.errors[0] ?? null,
      fanOut: { total: fanOutTotal, perInstance, target: READS_PER_INSTANCE_TARGET, pass: perInstance.billedReads <= READS_PER_INSTANCE_TARGET },
      enginePerUpgrade: { reads: per(engineTotal.reads), aggregations: per(engineTotal.aggregations), writes: per(engineTotal.writes) },
    };
  } finally {
    await pubsub.close();
    await Promise.all([firestore.terminate(), engineFirestore.terminate()]);
  }
}

export interface TickCost {
  instances: number;
  first: { reads: number; aggregations: number; writes: number; started: number; ms: number };
  steady: { reads: number; aggregations: number; writes: number; started: number; ms: number };
  /** What starting the rollout cost (reading the fleet once, writing a member each). */
  start: { reads: number; writes: number; ms: number };
}

export interface TickScalingResult {
  name: string;
  at: TickCost[];
  /** Billed reads (documents + aggregations) of the tick at the larger fleet over the one at the smaller, first and steady. */
  ratio: { first: number; steady: number };
  target: number;
  pass: boolean;
}

/** One tick of a customer wave (150 in flight at most) over `n` instances, in a project of its own: its first tick, and one after 10 upgrades finished. */
async function tickAt(projectId: string, n: number): Promise<TickCost> {
  const counter = createFirestoreOperationCounter();
  const firestore = createFirestore(projectId, counter.settings);
  try {
    const store = createFirestoreStore({ firestore });
    const now = new Date().toISOString();
    const always = { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const, start: '00:00', hours: 24, timeZone: 'Etc/UTC' };
    for (let i = 0; i < n; i += 450) {
      const batch = firestore.batch();
      for (let j = i; j < Math.min(n, i + 450); j += 1) {
        const id = `tcus-${String(j).padStart(5, '0')}`;
        const record: InstanceRecord = {
          id, slug: id, environment: 'prod', tier: 'customer', domain: `${id}.example.com`, region: 'us-central1', version: '5.4.2', status: 'active',
          resources: resourceNamesFor(id, 'us-central1'),
          lease: null, generation: 1, createdAt: now, updatedAt: now, maintenanceWindow: { ...always, days: [...always.days] },
        };
        batch.set(firestore.doc(paths.instance(id)), record);
      }
      await batch.commit();
    }
    const rollouts = createRollouts({ store, bus: { publish: () => Promise.resolve('local') }, clock: systemClock, minTickIntervalMs: 0 });
    const measure = async <T>(work: () => Promise<T>) => {
      const before = counter.snapshot();
      const t = performance.now();
      const result = await work();
      return { result, ms: Math.round((performance.now() - t) * 10) / 10, counts: countsBetween(before, counter.snapshot()) };
    };
    const started = await measure(() => rollouts.start({ targetVersion: '5.5.0', waves: parseWaves('customers:max=150'), actor: 'bench@example.com', reason: 'tick scaling' }));
    if (started.result.kind !== 'started') throw new Error(started.result.message);
    const id = started.result.rollout.id;
    const first = await measure(() => rollouts.tick(id));
    // Ten upgrades end (as their facts record them), so the next tick has ten slots to fill.
    const flying = await store.query<InstanceProgress>({ collection: rolloutPaths.progressCollection(id), where: [{ field: 'state', op: '==', value: 'in-flight' }], limit: 10 });
    for (const doc of flying) await store.set(doc.path, { ...doc.data, state: 'succeeded', finishedAt: new Date().toISOString() });
    const steady = await measure(() => rollouts.tick(id));
    const cost = (m: { counts: FirestoreOperationCounts; ms: number; result: { kind: string; started?: string[] } }) => ({
      reads: m.counts.reads,
      aggregations: m.counts.aggregations,
      writes: m.counts.writes,
      started: m.result.started?.length ?? 0,
      ms: m.ms,
    });
    return { instances: n, first: cost(first), steady: cost(steady), start: { reads: started.counts.reads, writes: started.counts.writes, ms: started.ms } };
  } finally {
    await firestore.terminate();
  }
}

/** (d') The reads of one tick at 1,000 and at 10,000 instances, measured one after the other in one run. */
export async function benchTickScaling(projectId: string, log: (line: string) => void = () => {}): Promise<TickScalingResult> {
  const at: TickCost[] = [];
  for (const n of [1_000, 10_000]) {
    log(`bench: (d') one tick at ${n} instances...`);
    at.push(await tickAt(`${projectId}-t${n}`, n));
  }
  const billed = (c: { reads: number; aggregations: number }) => c.reads + c.aggregations;
  const [small, large] = at as [TickCost, TickCost];
  const ratio = { first: Math.round((billed(large.first) / billed(small.first)) * 1000) / 1000, steady: Math.round((billed(large.steady) / billed(small.steady)) * 1000) / 1000 };
  return { name: "(d') one tick at 1,000 and at 10,000 instances", at, ratio, target: 1.2, pass: ratio.first <= 1.2 && ratio.steady <= 1.2 };
}

/** The lines of the summary for (d'). */
export function formatTickScaling(r: TickScalingResult): string[] {
  const line = (c: TickCost) =>
    `  ${c.instances} instances: first tick ${c.first.reads} reads + ${c.first.aggregations} aggregations, ${c.first.writes} writes, ${c.first.started} started, ${c.first.ms} ms; ` +
    `after 10 finished ${c.steady.reads} + ${c.steady.aggregations}, ${c.steady.writes} writes, ${c.steady.started} started, ${c.steady.ms} ms; the start read ${c.start.reads} and wrote ${c.start.writes} in ${c.start.ms} ms`;
  return [`${r.name}: 10,000 over 1,000, billed reads: first ${r.ratio.first}, steady ${r.ratio.steady}; target <= ${r.target}: ${r.pass ? 'PASS' : 'FAIL'}`, ...r.at.map(line)];
}

/** The lines of the summary for (d). */
export function formatRolloutSummary(r: RolloutBenchResult): string[] {
  const waves = Object.keys(r.limits)
    .map((w) => `${w} ${r.maxInFlight.recordedByTicks[w] ?? 0}/${r.limits[w] ?? '?'} (engine ${r.maxInFlight.engineOperations[w] ?? 0})`)
    .join(', ');
  return [
    `${r.name}: ${r.completed ? 'completed' : 'DID NOT COMPLETE'} in ${r.durationSeconds} s`,
    `  most upgrades in flight per wave, from the audit trail (limit): ${waves}: ${r.maxInFlight.withinLimits ? 'PASS' : 'FAIL'}`,
    `  most writes to one shared document within one second: ${r.sharedDocumentMaxWritesPerSecond.writes} (${r.sharedDocumentMaxWritesPerSecond.path ?? '-'}); target <= 1: ${r.sharedDocumentMaxWritesPerSecond.pass ? 'PASS' : 'FAIL'}`,
    `  rollout document written ${r.rolloutDocumentWrites} times; ${r.ticksPublished} ticks published; a progress document at most ${r.progressDocumentMaxWritesPerSecond} writes/s; ${r.redeliveries} redeliveries`,
    `  the fan-out's own cost per instance, on the wire: ${r.fanOut.perInstance.reads} document reads + ${r.fanOut.perInstance.aggregations} aggregations = ${r.fanOut.perInstance.billedReads} billed reads (target <= ${r.fanOut.target}: ${r.fanOut.pass ? 'PASS' : 'FAIL'}), ${r.fanOut.perInstance.writes} writes; the engine's per upgrade, apart: ${r.enginePerUpgrade.reads} reads, ${r.enginePerUpgrade.writes} writes`,
  ];
}

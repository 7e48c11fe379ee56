/**
 * (d) A rollout of 1,000 simulated instances (50 dev, 50 internal prod, 900 customers) on the
 * emulators, on the system clock, with seconds-long simulated upgrades: how long it takes to
 * complete, the highest number of upgrades in flight per wave (from the audit trail) against
 * each wave's limit, and the highest number of writes any shared document (the rollout
 * summary; there are no counters) received within one second (target: at most 1).
 */
import { PubSub } from '@google-cloud/pubsub';
import { DEFAULT_TIMINGS } from '../shared/domain/lifecycle/operations.js';
import { DEFAULT_HEALTH_GATES, DEFAULT_POLICY, type HealthGatePolicy } from '../shared/domain/lifecycle/index.js';
import { parseWaves, type RolloutRecord, type WaveName } from '../shared/domain/rollout/index.js';
import { createEngine } from '../shared/engine/index.js';
import type { InstanceRecord } from '../shared/events/index.js';
import { createFirestore, createFirestoreStore } from '../shared/gcp/firestore-store.js';
import { ensureTopics } from '../shared/gcp/pubsub-admin.js';
import { systemClock } from '../shared/ports.js';
import { createSimulatedFleet } from '../shared/sim/index.js';
import { allTopics } from '../shared/topology.js';
import { WriteLog, createRolloutDriver, loggingStore, maxInFlightFromAudit } from '../harness/rollout-driver.js';
import { paths, rolloutPaths } from '../shared/store/collections.js';

const LIMITS: Record<WaveName, number> = { dev: 25, internal: 25, canary: 25, customers: 100 };
const WAVES = 'dev:max=25:soak=0,internal:max=25:soak=0,canary:max=25:soak=0,customers:max=100';
const FLEET = { dev: 50, internal: 50, customers: 900 };

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
}

/** The gates on the bench's fast clock: a probe whenever polled, two in a row within half a minute. */
const BENCH_HEALTH_GATES: HealthGatePolicy = { ...DEFAULT_HEALTH_GATES, intervalSeconds: 0, before: { consecutive: 1, windowSeconds: 10 }, after: { consecutive: 2, windowSeconds: 30 } };

/** Runs the 1,000-instance rollout in a project of its own on the emulators the environment names. */
export async function benchRollout(projectId: string, log: (line: string) => void = () => {}): Promise<RolloutBenchResult> {
  const firestore = createFirestore(projectId);
  const pubsub = new PubSub({ projectId });
  try {
    await ensureTopics(pubsub, allTopics());
    const writes = new WriteLog(() => Date.now());
    const store = loggingStore(createFirestoreStore({ firestore }), writes);
    const fleet = createSimulatedFleet({
      clock: systemClock,
      sqlDurations: { backupEnqueuedMs: 200, backupRunMs: 500 },
      gkeDurations: { creatingMs: 200, inProgressMs: 500 },
      executor: { queuedMs: 200, defaultDurationMs: 1_000 },
      applications: { warmupMs: 200, latencyMs: 5 },
    });
    const timings = { ...DEFAULT_TIMINGS, pollMs: 500, claimMs: 30_000, backoffMs: 1_000, maxBackoffMs: 5_000 };
    const driver = createRolloutDriver({
      engineFor: (bus) => createEngine({ store, bus, cloudSql: fleet.cloudSql, gkeBackup: fleet.gkeBackup, executor: fleet.executor, health: fleet.applications, clock: systemClock, timings, policy: { ...DEFAULT_POLICY, timings, healthGates: BENCH_HEALTH_GATES } }),
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
      const batch = firestore.batch();
      for (const r of records.slice(i, i + 400)) batch.set(firestore.doc(paths.instance(r.id)), r);
      await batch.commit();
    }

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
    const { recorded, engine } = await maxInFlightFromAudit(store, id);
    const withinLimits = (['dev', 'internal', 'canary', 'customers'] as const).every((w) => (recorded[w] ?? 0) <= LIMITS[w] && (engine[w] ?? 0) <= LIMITS[w]);
    // Shared documents: everything but an instance's, an operation's, a progress document (one
    // per instance), and the append-only or per-event records.
    const perEntity = /^(instances|operations|audit|processedEvents|outbox|slugs)\/|^rollouts\/[^/]+\/instances\//;
    const shared = writes.maxWithin(1_000, (path) => !perEntity.test(path));
    const progressHot = writes.maxWithin(1_000, (path) => /^rollouts\/[^/]+\/instances\//.test(path));
    return {
      name: '(d) rollout of 1,000 instances',
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
    };
  } finally {
    await pubsub.close();
    await firestore.terminate();
  }
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
  ];
}

/**
 * Plays Pub/Sub for a rollout in process: what the engine and the rollouts publish is queued
 * by topic and delivered as the push subscriptions would (upgrade commands to the lifecycle
 * handler, facts to the rolloutEvents handler, ticks to the rollout handler, many at once),
 * while the executor's results and the reconciler move operations on. Used by the rollout
 * integration tests (ManualClock) and `npm run bench` (the system clock). Also records when
 * each document write committed, so a benchmark can tell how hot any document got.
 */
import { randomBytes } from 'node:crypto';
import type { InstanceProgress } from '../shared/domain/rollout/index.js';
import type { AuditRecord, Engine } from '../shared/engine/index.js';
import type { AnyEnvelope } from '../shared/events/index.js';
import type { EventBus, StateStore, StoreTransaction } from '../shared/ports.js';
import { createRollouts, type RolloutDeps, type Rollouts } from '../shared/rollout/index.js';
import type { SimulatedExecutor } from '../shared/sim/index.js';
import { finishedEnvelope } from '../shared/sim/executor-runner.js';
import { TOPICS } from '../shared/topology.js';
import { describeError } from '../shared/errors.js';
import { mostWithin } from '../shared/gcp/firestore-counting.js';
import { pubSubCloudEvent } from './cloud-event.js';
import { rolloutPaths } from '../shared/store/collections.js';
import { deliver } from '../shared/edge.js';
import { executorResultsRoute, lifecycleRoute, rolloutEventsRoute, rolloutRoute } from '../shared/routes.js';

/** Commit times of writes per document path. */
export class WriteLog {
  readonly times = new Map<string, number[]>();
  constructor(private readonly now: () => number) {}
  record(paths: Iterable<string>): void {
    const at = this.now();
    for (const path of paths) {
      const list = this.times.get(path) ?? [];
      list.push(at);
      this.times.set(path, list);
    }
  }
  /** The most writes any matching document received within `windowMs` (a sliding window). */
  maxWithin(windowMs: number, matches: (path: string) => boolean): { path: string | null; writes: number } {
    return mostWithin(this.times, windowMs, matches);
  }
}

/** A store that logs the paths each committed transaction (or plain write) wrote. */
export function loggingStore(store: StateStore, log: WriteLog): StateStore {
  return {
    ...store,
    async set(path, data) {
      await store.set(path, data);
      log.record([path]);
    },
    async create(path, data) {
      await store.create(path, data);
      log.record([path]);
    },
    async delete(path) {
      await store.delete(path);
      log.record([path]);
    },
    async transaction(work) {
      let written: string[] = [];
      const result = await store.transaction((tx) => {
        written = [];
        const logged: StoreTransaction = {
          ...tx,
          get: (p) => tx.get(p),
          getAll: (ps) => tx.getAll(ps),
          query: (spec) => tx.query(spec),
          count: (spec) => tx.count(spec),
          create: (p, d) => (written.push(p), tx.create(p, d)),
          set: (p, d) => (written.push(p), tx.set(p, d)),
          update: (p, d) => (written.push(p), tx.update(p, d)),
          delete: (p) => (written.push(p), tx.delete(p)),
        };
        return work(logged);
      });
      log.record(written);
      return result;
    },
  };
}

export interface RolloutDriver {
  bus: EventBus;
  rollouts: Rollouts;
  /** Handler failures (each message was delivered again). */
  errors: string[];
  /** Ticks, upgrade commands and facts published so far. */
  published: { ticks: number; commands: number; facts: number };
  /** Delivers everything queued until nothing is left (or `maxPasses`). */
  pump(maxPasses?: number): Promise<void>;
  /** One round: finished executor runs, the reconciler, then everything queued. */
  round(): Promise<void>;
}

async function inPool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
    }),
  );
}

/**
 * Wires `engineFor(bus)` and the rollouts to an in-process bus. `rolloutDeps` gives the
 * rollouts their store and clock (and `sleep`, for a ManualClock to move on while a tick waits).
 */
export function createRolloutDriver(input: {
  engineFor: (bus: EventBus) => Engine;
  executor: SimulatedExecutor;
  rolloutDeps: Omit<RolloutDeps, 'bus'>;
  concurrency?: number;
  reconcileLimit?: number;
}): RolloutDriver & { engine: Engine } {
  const queues = { lifecycle: [] as AnyEnvelope[], events: [] as AnyEnvelope[], rollout: [] as AnyEnvelope[] };
  const published = { ticks: 0, commands: 0, facts: 0 };
  const bus: EventBus = {
    publish(topic, envelope) {
      const e = envelope as AnyEnvelope;
      if (topic === TOPICS.lifecycle) {
        queues.lifecycle.push(e);
        published.commands += 1;
      } else if (topic === TOPICS.events) {
        queues.events.push(e);
        published.facts += 1;
      } else if (topic === TOPICS.rollout) {
        queues.rollout.push(e);
        published.ticks += 1;
      }
      // Other topics (executor requests go through the simulated executor's port) have no listener here.
      return Promise.resolve(randomBytes(6).toString('hex'));
    },
  };
  const engine = input.engineFor(bus);
  const rollouts = createRollouts({ ...input.rolloutDeps, bus });
  const concurrency = input.concurrency ?? 16;

  const errors: string[] = [];
  /** A handler that throws gets the message again, as Pub/Sub redelivers an unacknowledged push. */
  const redelivered = async (queue: AnyEnvelope[], envelope: AnyEnvelope, deliver: () => Promise<unknown>) => {
    try {
      await deliver();
    } catch (error) {
      errors.push(`${envelope.type} ${envelope.eventId}: ${describeError(error)}`);
      queue.push(envelope);
    }
  };

  const pump = async (maxPasses = 20) => {
    for (let pass = 0; pass < maxPasses; pass += 1) {
      if (queues.lifecycle.length + queues.events.length + queues.rollout.length === 0) return;
      const commands = queues.lifecycle.splice(0);
      await inPool(commands, concurrency, (e) => redelivered(queues.lifecycle, e, () => deliver(engine.deps, lifecycleRoute(engine), pubSubCloudEvent(e, { topic: TOPICS.lifecycle }))));
      const facts = queues.events.splice(0);
      await inPool(facts, concurrency, (e) => redelivered(queues.events, e, () => deliver(rollouts.deps, rolloutEventsRoute(rollouts), pubSubCloudEvent(e, { topic: TOPICS.events }))));
      // Ticks arrive together, as pushes would: the transaction keeps them within the limits.
      const ticks = queues.rollout.splice(0);
      await inPool(ticks, concurrency, (e) => redelivered(queues.rollout, e, () => deliver(rollouts.deps, rolloutRoute(rollouts), pubSubCloudEvent(e, { topic: TOPICS.rollout }))));
    }
  };

  return {
    engine,
    bus,
    rollouts,
    published,
    errors,
    pump,
    async round() {
      const finished = await input.executor.finishDue();
      await inPool(finished, concurrency, async (run) => {
        const envelope = finishedEnvelope(run, 'system:executor-sim');
        for (let attempt = 0; attempt < 5; attempt += 1) {
          try {
            await deliver(engine.deps, executorResultsRoute(engine), pubSubCloudEvent(envelope, { topic: TOPICS.executorResults }));
            return;
          } catch (error) {
            errors.push(`${envelope.type} ${envelope.eventId}: ${describeError(error)}`);
          }
        }
      });
      await engine.reconcile({ limit: input.reconcileLimit ?? 1_000, concurrency, outboxGraceMs: 0 });
      await pump();
    },
  };
}

/** The highest number of upgrades of each wave in flight at once, replayed from the audit trail. */
export async function maxInFlightFromAudit(store: StateStore, rolloutId: string): Promise<{ recorded: Record<string, number>; engine: Record<string, number> }> {
  const audit = (await store.query<AuditRecord>({ collection: 'audit' })).map((d) => ({ id: d.id, ...d.data }));
  const progress = await store.query<InstanceProgress>({ collection: rolloutPaths.progressCollection(rolloutId) });
  const waveOfOperation = new Map<string, string>();
  // Every attempt's operation id is in the start records (a busy retry gets a new one).
  const starts = audit.filter((a) => a.action === 'rollout.upgrade-started' && (a as Record<string, unknown>).rolloutId === rolloutId);
  for (const s of starts) waveOfOperation.set(String(s.operationId), String((s.after as { wave: string }).wave));
  for (const p of progress) if (p.data.operationId) waveOfOperation.set(p.data.operationId, p.data.wave);

  // 1. What each start recorded, counted in its own transaction.
  const recorded: Record<string, number> = {};
  for (const s of starts) {
    const after = s.after as { wave: string; inFlight: number };
    recorded[after.wave] = Math.max(recorded[after.wave] ?? 0, after.inFlight);
  }
  // 2. The engine's own records: upgrade operations accepted and ended, as intervals [accepted, ended).
  const intervals = new Map<string, { wave: string; from: number; to: number }>();
  for (const a of audit) {
    const wave = waveOfOperation.get(String(a.operationId));
    if (wave === undefined) continue;
    const at = Date.parse(a.at);
    if (a.action === 'operation.accepted') intervals.set(String(a.operationId), { wave, from: at, to: Number.POSITIVE_INFINITY });
    if (a.action === 'operation.succeeded' || a.action === 'operation.failed') {
      const interval = intervals.get(String(a.operationId));
      if (interval) interval.to = at;
    }
  }
  const engine: Record<string, number> = {};
  const all = [...intervals.values()];
  for (const i of all) {
    const concurrent = all.filter((j) => j.wave === i.wave && j.from <= i.from && i.from < j.to).length;
    engine[i.wave] = Math.max(engine[i.wave] ?? 0, concurrent);
  }
  return { recorded, engine };
}


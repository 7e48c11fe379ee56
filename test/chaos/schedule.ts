/**
 * One chaos schedule, driven by a list of numbers (fast-check generates and shrinks them):
 * each number picks the next step among what is possible right now (let one pending port call
 * through, with or without a fault; deliver a message, or deliver it again; start a reconcile;
 * let the runner take a request or report; move the clock; take the runner down or up; abandon
 * a stuck operation). When the numbers run out the system is left to quiesce without faults,
 * and the end invariants are checked. The same numbers replay the same schedule exactly.
 */
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import type { Firestore } from '@google-cloud/firestore';
import type { PubSub } from '@google-cloud/pubsub';
import type { OperationRecord } from '../../shared/domain/lifecycle/operations.js';
import { makeEnvelope, type AnyEnvelope, type LifecycleCommandType } from '../../shared/events/index.js';
import type { ClosableEventBus } from '../../shared/gcp/pubsub-bus.js';
import { TOPICS } from '../../shared/topology.js';
import { pubSubCloudEvent } from '../../harness/cloud-event.js';
import { FAULT_KINDS, type FaultKind, type PendingCall, type ReleaseFault } from './gate.js';
import { checkEnd, checkStep } from './invariants.js';
import { createWorld, MAX_DELIVERY_ATTEMPTS, timeoutOf, type ExecutorKind, type Message, type World } from './world.js';
import type { BuildScript } from '../../shared/sim/cloud-build.js';
import { deliver, type MessageRoute } from '../../shared/edge.js';
import { buildNotificationsRoute, executorResultsRoute, lifecycleRoute } from '../../shared/routes.js';

/** What Cloud Build may do to a build, by its own word: a step fails, it never starts (EXPIRED), it is cut off part-way. */
const BUILD_FAULTS: BuildScript[] = [
  { kind: 'fail-step', step: 'migrate-database', detail: 'migration failed (chaos)' },
  { kind: 'never-start' },
  { kind: 'interrupt', status: 'TIMEOUT', step: 'deploy-workloads' },
  { kind: 'interrupt', status: 'CANCELLED' },
  { kind: 'interrupt', status: 'INTERNAL_ERROR', step: 'fetch-source' },
  { kind: 'hang', step: 'rollout-status' },
];

/** What a schedule did, for the figures. */
export interface ScheduleStats {
  steps: number;
  calls: number;
  commands: number;
  deliveries: number;
  duplicateDeliveries: number;
  deadLetters: number;
  reconciles: number;
  abandons: number;
  runnerOutages: number;
  deadlineJumps: number;
  sqlQueueing: boolean;
  /** The executor the schedule ran on. */
  executor: ExecutorKind;
  /** Cloud Build notifications published, and lost (never delivered). */
  notifications: number;
  notificationsLost: number;
  faults: Record<FaultKind, number>;
}

/** A schedule's figures before it has done anything (also those of a schedule that threw). */
export function emptyStats(sqlQueueing = false, executor: ExecutorKind = 'runner'): ScheduleStats {
  return {
    steps: 0,
    calls: 0,
    commands: 0,
    deliveries: 0,
    duplicateDeliveries: 0,
    deadLetters: 0,
    reconciles: 0,
    abandons: 0,
    runnerOutages: 0,
    deadlineJumps: 0,
    sqlQueueing,
    executor,
    notifications: 0,
    notificationsLost: 0,
    faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>,
  };
}

export interface ScheduleResult {
  violations: string[];
  trace: string[];
  stats: ScheduleStats;
}

export interface ChaosContext {
  firestore: Firestore;
  pubsub: PubSub;
  bus: ClosableEventBus;
  /** Empties the project's Firestore data before a schedule. */
  wipe(): Promise<void>;
}

/** Mostly the seconds a step takes; now and then past a claim, a pickup window, a deadline. */
const CLOCK_STEPS_MS = [
  ...Array.from({ length: 6 }, () => 1_000),
  ...Array.from({ length: 5 }, () => 5_000),
  ...Array.from({ length: 4 }, () => 30_000),
  120_000,
  120_000,
  11 * 60_000,
  3_600_000,
  5 * 3_600_000,
];

/** Reads the schedule's numbers; `undefined` once they run out. */
class Choices {
  private index = 0;
  constructor(private readonly values: readonly number[]) {}
  next(n: number): number | undefined {
    if (this.index >= this.values.length) return undefined;
    const value = this.values[this.index] ?? 0;
    this.index += 1;
    return n <= 1 ? 0 : value % n;
  }
}

/** Event ids and other UUIDs from a generator seeded by the schedule: a replay sees the same ones. */
function seedUuids(values: readonly number[]): void {
  let state = values.reduce((h, v) => (Math.imul(h ^ v, 2654435761) >>> 0) + 1, 0x9e3779b9) >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  (crypto as { randomUUID: () => string }).randomUUID = () => `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[Math.floor(random() * 4)]}${hex(3)}-${hex(12)}`;
  syncBuiltinESMExports();
}

/**
 * About one call in twelve fails: before it is made, after it took effect, or its process
 * crashes. Calls that change a simulated service (where a lost answer or a crash matters most)
 * fail two times in five, mostly after taking effect.
 */
const FAULT_OF_EFFECT: Array<ReleaseFault | undefined> = [
  ...Array.from({ length: 12 }, () => undefined),
  'refused',
  'error-before',
  'error-after',
  'error-after',
  'error-after',
  'crash-after',
  'crash-after',
  'crash-after',
];
const FAULT_OF: Array<ReleaseFault | undefined> = [
  ...Array.from({ length: 91 }, () => undefined),
  'refused',
  'error-before',
  'error-before',
  'error-after',
  'error-after',
  'error-after',
  'crash-before',
  'crash-after',
  'crash-after',
];

function commandsOf(choices: Choices, world: World): AnyEnvelope[] {
  const count = 2 + (choices.next(4) ?? 0);
  const envelopes: AnyEnvelope[] = [];
  const kinds: LifecycleCommandType[] = ['instance.backup', 'instance.upgrade', 'instance.restore', 'instance.check'];
  for (let i = 0; i < count; i += 1) {
    const instance = world.instances[choices.next(world.instances.length) ?? 0];
    const type = kinds[choices.next(kinds.length) ?? 0];
    if (instance === undefined || type === undefined) continue;
    const base = { instanceId: instance.id, actor: 'oncall@example.com', reason: 'chaos', issuedAt: world.clock.now().toISOString() };
    if (type === 'instance.upgrade') {
      // A rollback is taken once an earlier upgrade of the schedule has run (else refused: nothing to roll back).
      const pick = choices.next(3) ?? 0;
      envelopes.push(makeEnvelope({ ...base, type, payload: pick === 2 ? { rollback: true } : { targetVersion: pick === 0 ? '5.5.0' : '5.6.0' } }));
    } else if (type === 'instance.restore') {
      envelopes.push(
        makeEnvelope({
          ...base,
          type,
          payload: { source: { kind: 'backup', cloudSqlBackupRunId: world.seededRuns[instance.id] ?? '', gkeBackup: `${instance.resources.backupPlan}/backups/seed-${instance.id}` } },
        }),
      );
    } else if (type === 'instance.check') {
      // Read-only, yet it holds the lease like any operation: nothing else may run beside it.
      envelopes.push(makeEnvelope({ ...base, type, payload: {} }));
    } else {
      envelopes.push(makeEnvelope({ ...base, type: 'instance.backup', payload: {} }));
    }
  }
  return envelopes;
}

export async function runSchedule(values: readonly number[], context: ChaosContext): Promise<ScheduleResult> {
  seedUuids(values);
  await context.wipe();
  const choices = new Choices(values);
  const sqlQueueing = (choices.next(2) ?? 0) === 1;
  const restoreMs = [60_000, 2 * 3_600_000, 6 * 3_600_000][choices.next(3) ?? 0] ?? 60_000;
  const executorRunMs = [60_000, 60_000, 3 * 3_600_000, 6 * 3_600_000][choices.next(4) ?? 0] ?? 60_000;
  const gkeRestoresFail = (choices.next(2) ?? 1) === 0;
  /** Maintenance that outlasts an operation's deadline keeps work queued (PENDING) past it. */
  const maintenanceMs = [2 * 3_600_000, 6 * 3_600_000][choices.next(2) ?? 0] ?? 2 * 3_600_000;
  // The deployed executor (Cloud Build) two schedules in three; the external runner's contract in the others.
  const executorKind: ExecutorKind = (choices.next(3) ?? 1) === 0 ? 'runner' : 'cloud-build';
  const world = await createWorld({
    executor: executorKind,
    firestore: context.firestore,
    pubsub: context.pubsub,
    bus: context.bus,
    sqlWhileBusy: sqlQueueing ? 'queue' : 'refuse',
    instances: 2,
    restoreMs,
    executorRunMs,
    gkeRestoresFail,
  });
  const { gate, clock } = world;
  const trace: string[] = [];
  const violations: string[] = [];
  const stats = emptyStats(sqlQueueing, executorKind);
  const at = () => `${((clock.now().getTime() - Date.parse('2026-11-26T10:00:00.000Z')) / 1000).toFixed(0)}s`;
  const note = (line: string) => trace.push(`${String(trace.length).padStart(4)} ${at().padStart(7)}  ${line}`);
  note(`Cloud SQL ${stats.sqlQueueing ? 'queues' : 'refuses'} work on a busy instance; restores take ${restoreMs / 1000}s, executor runs ${executorRunMs / 1000}s on ${executorKind === 'cloud-build' ? 'Cloud Build' : 'the external runner'}${gkeRestoresFail ? '; GKE restores fail' : ''}`);

  // The operator's commands, all published at once; some twice (a publisher's retry), one unreadable.
  for (const envelope of commandsOf(choices, world)) {
    const data = Buffer.from(JSON.stringify(envelope)).toString('base64');
    world.publish(TOPICS.lifecycle, data, envelope.eventId);
    stats.commands += 1;
    note(`published ${envelope.type} ${envelope.instanceId ?? ''} ${envelope.eventId}`);
    if ((choices.next(4) ?? 1) === 0) {
      world.publish(TOPICS.lifecycle, data, envelope.eventId);
      note(`published it again (a publisher retry: a new message id)`);
    }
  }
  if ((choices.next(4) ?? 1) === 0) {
    world.publish(TOPICS.lifecycle, Buffer.from('{"eventId": ').toString('base64'), (messageId) => `msg-${messageId}`);
    note('published a message that is not JSON');
  }

  const check = async () => {
    for (const v of await checkStep(world)) if (!violations.includes(v)) violations.push(v);
  };

  const deliverMessage = (message: Message, duplicate: boolean) => {
    message.inFlight += 1;
    message.deliveries += 1;
    stats.deliveries += 1;
    if (duplicate) stats.duplicateDeliveries += 1;
    const fn = message.topic === TOPICS.lifecycle ? 'lifecycle' : message.topic === TOPICS.buildNotifications ? 'buildNotifications' : 'executorResults';
    const route: MessageRoute<unknown> = fn === 'lifecycle' ? lifecycleRoute(world.engine) : fn === 'buildNotifications' ? buildNotificationsRoute(world.engine) : executorResultsRoute(world.engine);
    const cloudEvent = pubSubCloudEvent({ raw: message.data }, { topic: message.topic, message: { messageId: message.messageId, ...(message.attributes === undefined ? {} : { attributes: message.attributes }) } });
    const proc = gate.spawn(
      `${fn}#${message.messageId}`,
      timeoutOf(fn),
      () => deliver(world.engine.deps, route, cloudEvent),
      ({ ok, crashed }) => {
        message.inFlight -= 1;
        // A crashed function never answers the push: Pub/Sub delivers the message again.
        if (ok && !crashed) message.acked = true;
        else if (!message.acked && message.deliveries >= MAX_DELIVERY_ATTEMPTS) {
          message.deadLettered = true;
          stats.deadLetters += 1;
        }
      },
    );
    note(`deliver ${message.topic} message ${message.messageId}${duplicate ? ' again' : ''} -> process ${proc.id}`);
  };

  const reconcile = () => {
    stats.reconciles += 1;
    const proc = gate.spawn('reconcile', timeoutOf('reconcile'), () => world.engine.reconcile({ outboxGraceMs: 5_000 }), () => undefined);
    note(`reconcile -> process ${proc.id}`);
  };

  const release = async (call: PendingCall, fault: ReleaseFault | undefined) => {
    const outcome = await gate.release(call, fault);
    stats.calls += 1;
    note(`process ${call.proc.id} ${call.label}${fault ? ` [${fault}]` : ''}${outcome.landed ? '' : ' (no effect)'}`);
    if (outcome.changes) await check();
  };

  const stuckOperations = async (): Promise<OperationRecord[]> =>
    (await world.store.query<OperationRecord>({ collection: 'operations', where: [{ field: 'status', op: '==', value: 'stuck' }] })).map((d) => d.data);

  // The schedule proper.
  for (;;) {
    await gate.settle();
    const pick = choices.next(100);
    if (pick === undefined) break;
    stats.steps += 1;
    const pending = gate.pending;
    if (pick < 60 && pending.length > 0) {
      const call = pending[choices.next(pending.length) ?? 0];
      const effect = call !== undefined && call.changes && /^(cloudsql|gkebackup)\./.test(call.label);
      const fault = effect ? FAULT_OF_EFFECT[choices.next(FAULT_OF_EFFECT.length) ?? 0] : FAULT_OF[choices.next(100) ?? 0];
      if (call) await release(call, fault);
    } else if (pick < 74) {
      const waiting = world.messages.filter((m) => !m.acked && !m.deadLettered && m.inFlight === 0);
      const message = waiting[choices.next(waiting.length) ?? 0];
      if (message) deliverMessage(message, false);
    } else if (pick < 78) {
      const seen = world.messages.filter((m) => m.deliveries > 0 && !m.deadLettered);
      const message = seen[choices.next(seen.length) ?? 0];
      if (message) deliverMessage(message, true);
    } else if (pick < 85) {
      if (gate.alive().filter((p) => p.name === 'reconcile').length < 2) reconcile();
    } else if (pick < 91) {
      if (world.executorKind === 'cloud-build') {
        // Cloud Build publishes what changed; one notification in three is lost on the way.
        if (world.runnerUp) {
          const sent = await world.notifyBuilds(() => (choices.next(3) ?? 1) === 0);
          stats.notifications += sent.published;
          stats.notificationsLost += sent.lost;
          if (sent.published + sent.lost > 0) note(`Cloud Build notifies ${sent.published} status change(s)${sent.lost > 0 ? `, ${sent.lost} lost` : ''}`);
        }
      } else if (world.runnerUp && world.runnerQueue.length > 0 && (choices.next(2) ?? 0) === 0) {
        await world.runnerTake(choices.next(world.runnerQueue.length) ?? 0);
        note('the runner takes a request');
        await check();
      } else if (world.runnerUp) {
        const reported = await world.runnerReport();
        if (reported > 0) note(`the runner reports ${reported} finished run(s)`);
      }
    } else if (pick < 95) {
      const ms = CLOCK_STEPS_MS[choices.next(CLOCK_STEPS_MS.length) ?? 0] ?? 1_000;
      clock.advance(ms);
      if (ms >= 3_600_000) stats.deadlineJumps += 1;
      note(`the clock moves ${ms / 1000}s`);
    } else if (pick < 97) {
      // A service fails the next piece of work of an instance, by its own word.
      const instance = world.instances[choices.next(world.instances.length) ?? 0];
      const which = choices.next(5) ?? 0;
      if (instance) {
        const { project, sqlInstance, backupPlan } = instance.resources;
        if (which === 0) world.fleet.cloudSql.scriptBackupOutcome(project, sqlInstance, 'FAILED', 'disk full (chaos)');
        else if (which === 1) world.fleet.gkeBackup.scriptBackupOutcome(backupPlan, 'FAILED', 'volume snapshot failed (chaos)');
        else if (which === 2 && world.executorKind === 'runner') world.fleet.executor.scriptOutcome({ instanceId: instance.id }, 'failed', 'migration failed (chaos)');
        else if (which === 2) world.fleet.cloudBuild.script({ instanceId: instance.id }, BUILD_FAULTS[choices.next(BUILD_FAULTS.length) ?? 0] ?? { kind: 'never-start' });
        // The application answers its health checks badly for a few probes (either gate's).
        else if (which === 4) world.fleet.applications.failNow(instance.domain, (choices.next(2) ?? 0) === 0 ? 'unhealthy' : 'timeout', 1 + (choices.next(8) ?? 0));
        // Maintenance: work sent meanwhile is refused (409) or queued (PENDING) for hours.
        else world.fleet.cloudSql.startOperation(project, sqlInstance, { operationType: 'UPDATE', durationMs: maintenanceMs });
        gate.faults['service-failure'] += 1;
        note(['Cloud SQL will fail the next backup run', 'Backup for GKE will fail the next backup', 'the executor will fail (or lose, or never start) the next run', `Cloud SQL starts ${maintenanceMs / 3_600_000} h of maintenance`, 'the application will fail its next health probes'][which] + ` of ${instance.id}`);
      }
    } else if (pick < 98) {
      const stuck = await stuckOperations();
      const op = stuck[choices.next(stuck.length) ?? 0];
      if (op) {
        stats.abandons += 1;
        const proc = gate.spawn('abandon', timeoutOf('commands'), () => world.engine.abandon(op.id, 'oncall@example.com', 'chaos: given up'), () => undefined);
        note(`an operator abandons ${op.id} -> process ${proc.id}`);
      }
    } else {
      world.runnerUp = !world.runnerUp;
      if (!world.runnerUp) stats.runnerOutages += 1;
      note(world.executorKind === 'cloud-build' ? `Cloud Build notifications ${world.runnerUp ? 'resume' : 'stop'}` : `the runner goes ${world.runnerUp ? 'up' : 'down'}`);
    }
  }

  // Quiesce: no more faults; the runner up; every message delivered until acknowledged; the
  // reconciler and the clock move until every operation has ended (or is stuck holding its lease).
  note('-- quiesce --');
  world.runnerUp = true;
  const drain = async () => {
    for (let guard = 0; guard < 10_000; guard += 1) {
      await gate.settle();
      const next = gate.pending[0];
      if (next === undefined) return;
      await release(next, undefined);
    }
  };
  let quiesceNotifications = 0;
  for (let round = 0; round < 400; round += 1) {
    await drain();
    while (world.runnerQueue.length > 0) await world.runnerTake(0);
    await world.runnerReport();
    if (world.executorKind === 'cloud-build') {
      // Every other notification is still lost (the first among them): the reconciler must end the builds' steps without them.
      const sent = await world.notifyBuilds(() => (quiesceNotifications += 1) % 2 === 1);
      stats.notifications += sent.published;
      stats.notificationsLost += sent.lost;
    }
    await check();
    const waiting = world.messages.filter((m) => !m.acked && !m.deadLettered && m.inFlight === 0);
    for (const message of waiting) deliverMessage(message, false);
    await drain();
    if (waiting.length === 0 && gate.alive().length === 0) {
      const active = (await world.store.query<OperationRecord>({ collection: 'operations', where: [{ field: 'status', op: 'in', value: ['accepted', 'running'] }] })).length;
      if (active === 0 && (await stuckOperations()).length === 0) break;
    }
    reconcile();
    await drain();
    // Polls at first; then longer strides, so hours-long runs end and deadlines pass.
    clock.advance(round < 20 ? 30_000 : round < 40 ? 10 * 60_000 : 3_600_000);
  }
  for (const v of await checkEnd(world)) violations.push(v);
  for (const kind of FAULT_KINDS) stats.faults[kind] = gate.faults[kind];
  return { violations, trace, stats };
}

/**
 * Rollouts on the store and the bus: starting one, operators' controls, ticks (plan the next
 * upgrades and publish them through the outbox), and recording the outcome of each upgrade
 * from the engine's facts. The decisions are the pure planner's; this file reads, writes and
 * publishes.
 *
 * The in-flight limit holds under concurrent ticks because every tick that writes does so in
 * one transaction that reads and writes the rollout document (so ticks are serialized: a
 * second one retries and sees the first's `revision`) and counts the wave's in-flight
 * progress documents with an aggregation inside that transaction. Only ticks add in-flight
 * upgrades; recording an outcome only removes them, so a count can only be too high, never
 * too low. The rollout document is the only shared document written, at most once per tick
 * and at most once per second: a tick within a second of the last one is deferred, and a tick
 * issued before the last one started planning is dropped (that tick saw its cause already).
 */
import { randomBytes } from 'node:crypto';
import semver from 'semver';
import { operationIdFor } from '../domain/lifecycle/operations.js';
import {
  ACTIVE_ROLLOUT_STATUSES,
  controlRollout,
  newRollout,
  planNextUpgrades,
  type Calendar,
  type FleetInstance,
  type InstanceProgress,
  type RolloutAction,
  type RolloutRecord,
  type WaveSpec,
} from '../domain/rollout/index.js';
import { appendAudit, enqueue, type OutboxEntry } from '../store/records.js';
import { publishOutbox } from '../store/outbox.js';
import { describeError } from '../errors.js';
import {
  makeEnvelope,
  type AnyEnvelope,
  type Envelope,
  type InstanceRecord,
  type RolloutPayloads,
} from '../events/index.js';
import { silentLogger, type Logger } from '../log.js';
import type { Clock, EventBus, StateStore, StoreTransaction } from '../ports.js';
import { TOPICS } from '../topology.js';
import { ROLLOUT_ACTOR } from './actor.js';
import { COLLECTIONS, rolloutPaths } from '../store/collections.js';

export interface RolloutDeps {
  store: StateStore;
  bus: EventBus;
  clock: Clock;
  log?: Logger;
  /** Ticks of one rollout write at most this often (default 1 s). */
  minTickIntervalMs?: number;
  /** How a deferred tick waits in the function (default: a timer). */
  sleep?: (ms: number) => Promise<void>;
  /** At most this many upgrades start per tick (default 100: a transaction holds 500 writes). */
  maxStartsPerTick?: number;
}

export type TickOutcome =
  | { kind: 'ticked'; started: string[]; wrote: boolean; status: RolloutRecord['status'] }
  | { kind: 'coalesced' }
  | { kind: 'deferred'; retryInMs: number }
  | { kind: 'idle'; status: RolloutRecord['status'] }
  | { kind: 'missing' };

export type FactOutcome =
  | { kind: 'recorded'; rolloutId: string; instanceId: string; state: InstanceProgress['state'] }
  | { kind: 'ignored'; reason: string };

export type StartOutcome = { kind: 'started'; rollout: RolloutRecord } | { kind: 'refused'; message: string };
export type ControlOutcome = { kind: 'changed'; rollout: RolloutRecord; detail: string } | { kind: 'refused'; message: string };

// At most one summary write per second, with room for one commit taking longer than the next:
// the spacing is measured between the moments each write was decided, not when it landed.
const DEFAULT_MIN_TICK_INTERVAL_MS = 1_200;

/** What a transaction that lost to a concurrent one fails with. */
const CONTENTION = /transaction is invalid or closed|aborted|too much contention/i;

/** A rollout id that sorts by creation time: ro-YYYYMMDD-HHMMSS-xxxx. */
export function newRolloutId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15).toLowerCase();
  return `ro-${stamp}-${randomBytes(2).toString('hex')}`;
}

function fleetView(record: InstanceRecord): FleetInstance {
  return {
    id: record.id,
    environment: record.environment,
    tier: record.tier,
    version: record.version,
    status: record.status,
    lease: record.lease,
    ...(record.maintenanceWindow === undefined ? {} : { maintenanceWindow: record.maintenanceWindow }),
  };
}

/** The rollouts service, wired to its ports. */
export function createRollouts(deps: RolloutDeps) {
  const log = deps.log ?? silentLogger;
  const minInterval = deps.minTickIntervalMs ?? DEFAULT_MIN_TICK_INTERVAL_MS;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  /** Publishes a tick now (not through the outbox: a lost tick only delays, and the schedule ticks anyway). */
  async function publishTick(rolloutId: string, cause: RolloutPayloads['rollout.tick']['cause']): Promise<void> {
    try {
      await deps.bus.publish(
        TOPICS.rollout,
        makeEnvelope({ type: 'rollout.tick', payload: { rolloutId, cause }, actor: ROLLOUT_ACTOR, reason: `tick (${cause})`, issuedAt: deps.clock.now().toISOString() }),
      );
    } catch (error) {
      log.warn('could not publish a rollout tick; the schedule will tick', { rolloutId, cause, error: describeError(error) });
    }
  }

  async function readCalendar(): Promise<Calendar> {
    const doc = await deps.store.get<Partial<Calendar>>(rolloutPaths.calendar);
    return { freezes: Array.isArray(doc?.freezes) ? doc.freezes : [] };
  }

  async function activeRollouts(): Promise<RolloutRecord[]> {
    const docs = await deps.store.query<RolloutRecord>({
      collection: COLLECTIONS.rollouts,
      where: [{ field: 'status', op: 'in', value: [...ACTIVE_ROLLOUT_STATUSES, 'aborted'] }],
    });
    return docs.map((d) => d.data);
  }

  /**
   * Runs the tick's transaction. Ticks arriving together contend on the rollout document: the
   * loser is aborted (the emulator invalidates it, production answers ABORTED once the client's
   * retries are spent) and plans again, as a tick that raced.
   */
  async function writeTick<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T | { kind: 'raced' }> {
    try {
      return await deps.store.transaction(work);
    } catch (error) {
      if (CONTENTION.test(describeError(error))) {
        log.info('a rollout tick lost a race for the rollout document; it plans again', { error: describeError(error) });
        return { kind: 'raced' };
      }
      throw error;
    }
  }

  /** Plans and starts the next upgrades of one rollout; `issuedAt` is when the tick was asked for. */
  async function tick(rolloutId: string, issuedAt?: string): Promise<TickOutcome> {
    const t0 = deps.clock.now();
    const rollout = await deps.store.get<RolloutRecord>(rolloutPaths.rollout(rolloutId));
    if (rollout === undefined) return { kind: 'missing' };
    if (issuedAt !== undefined && rollout.lastTickAt !== null && Date.parse(rollout.lastTickAt) > Date.parse(issuedAt)) return { kind: 'coalesced' };
    if (rollout.status !== 'running') return { kind: 'idle', status: rollout.status };
    const lastWrite = rollout.lastWriteAt ?? rollout.lastTickAt;
    if (lastWrite !== null) {
      const since = t0.getTime() - Date.parse(lastWrite);
      if (since < minInterval) return { kind: 'deferred', retryInMs: minInterval - Math.max(0, since) };
    }
    const [instanceDocs, progressDocs, calendar] = await Promise.all([
      deps.store.query<InstanceRecord>({ collection: COLLECTIONS.instances }),
      deps.store.query<InstanceProgress>({ collection: rolloutPaths.progressCollection(rolloutId) }),
      readCalendar(),
    ]);
    const plan = planNextUpgrades(
      rollout,
      instanceDocs.map((d) => fleetView(d.data)),
      progressDocs.map((d) => d.data),
      t0,
      calendar,
      deps.maxStartsPerTick === undefined ? {} : { maxStartsPerTick: deps.maxStartsPerTick },
    );
    const changed =
      plan.start.length > 0 ||
      plan.notes.length > 0 ||
      JSON.stringify(plan.rollout.summary) !== JSON.stringify(rollout.summary);

    const result = await writeTick(async (tx) => {
      const now = deps.clock.now();
      const current = await tx.get<RolloutRecord>(rolloutPaths.rollout(rolloutId));
      if (current === undefined) return { kind: 'missing' as const };
      if (current.revision !== rollout.revision) {
        // Another tick or an operator wrote since we read: whoever ticked after our cause covers it.
        if (issuedAt !== undefined && current.lastTickAt !== null && Date.parse(current.lastTickAt) > Date.parse(issuedAt)) return { kind: 'coalesced' as const };
        return { kind: 'raced' as const };
      }
      if (!changed) return { kind: 'unchanged' as const };
      // The spacing that counts is between writes, so it is checked again at write time: a
      // previous tick whose transaction ran long may have written later than it began.
      const lastWritten = current.lastWriteAt ?? current.lastTickAt;
      const sinceWrite = lastWritten === null ? Number.POSITIVE_INFINITY : now.getTime() - Date.parse(lastWritten);
      if (sinceWrite < minInterval) return { kind: 'too-soon' as const, retryInMs: minInterval - Math.max(0, sinceWrite) };
      // Reads first (Firestore wants every read before the first write).
      const waves = [...new Set(plan.start.map((s) => s.wave))];
      const inFlight = new Map<string, number>();
      for (const wave of waves) {
        inFlight.set(
          wave,
          await tx.count({
            collection: rolloutPaths.progressCollection(rolloutId),
            where: [
              { field: 'wave', op: '==', value: wave },
              { field: 'state', op: '==', value: 'in-flight' },
            ],
          }),
        );
      }
      const recorded = await tx.getAll<InstanceProgress>(plan.start.map((s) => rolloutPaths.progress(rolloutId, s.instanceId)));
      const outbox: OutboxEntry[] = [];
      const started: string[] = [];
      let trimmed = 0;
      plan.start.forEach((candidate, i) => {
        const before = recorded[i];
        const spec = current.waves.find((w) => w.name === candidate.wave) as WaveSpec;
        const running = inFlight.get(candidate.wave) ?? 0;
        // Re-checked here, whatever the plan read: never more than the wave's limit in flight.
        if ((before !== undefined && before.state !== 'waiting') || running >= spec.maxInFlight) {
          trimmed += 1;
          return;
        }
        inFlight.set(candidate.wave, running + 1);
        const entry = enqueue(
          tx,
          {
            type: 'instance.upgrade',
            instanceId: candidate.instanceId,
            payload: { targetVersion: current.targetVersion },
            actor: ROLLOUT_ACTOR,
            reason: `rollout ${rolloutId}, wave ${candidate.wave}`,
          },
          now,
          TOPICS.lifecycle,
        );
        const eventId = entry.envelope.eventId;
        const progress: InstanceProgress = {
          instanceId: candidate.instanceId,
          wave: candidate.wave,
          state: 'in-flight',
          eventId,
          operationId: operationIdFor(eventId),
          attempts: (before?.attempts ?? 0) + 1,
          startedAt: now.toISOString(),
          finishedAt: null,
          retryAfter: null,
          detail: null,
          updatedAt: now.toISOString(),
        };
        tx.set(rolloutPaths.progress(rolloutId, candidate.instanceId), progress);
        appendAudit(
          tx,
          {
            actor: ROLLOUT_ACTOR,
            action: 'rollout.upgrade-started',
            instanceId: candidate.instanceId,
            operationId: progress.operationId,
            before: { state: before?.state ?? 'pending' },
            after: { state: 'in-flight', wave: candidate.wave, inFlight: running + 1, maxInFlight: spec.maxInFlight },
            causeEventId: eventId,
            rolloutId,
          },
          now,
        );
        outbox.push(entry);
        started.push(candidate.instanceId);
      });
      for (const note of plan.notes) {
        appendAudit(
          tx,
          {
            actor: ROLLOUT_ACTOR,
            action: `rollout.${note.action}`,
            instanceId: null,
            operationId: null,
            before: { status: current.status },
            after: { status: plan.rollout.status, wave: note.wave },
            causeEventId: null,
            rolloutId,
            detail: note.detail,
          },
          now,
        );
        if (note.action === 'halted') {
          outbox.push(
            enqueue(
              tx,
              {
                type: 'alert',
                payload: { severity: 'critical', summary: `rollout ${rolloutId} to ${current.targetVersion} halted: ${note.detail}`, details: { rolloutId, wave: note.wave, failed: plan.rollout.halt?.failed ?? [] } },
                actor: ROLLOUT_ACTOR,
                reason: note.detail,
              },
              now,
            ),
          );
        }
      }
      const summary = plan.rollout.summary.map((s) => {
        const planned = plan.start.filter((p) => p.wave === s.wave).length;
        const made = started.filter((id) => plan.members[id] === s.wave).length;
        return { ...s, inFlight: s.inFlight - (planned - made), waiting: s.waiting + (planned - made) };
      });
      const next: RolloutRecord = {
        ...plan.rollout,
        summary,
        lastTickAt: t0.toISOString(),
        // When this write is decided (not when the tick began), so the next one keeps its distance.
        lastWriteAt: now.toISOString(),
        tickSeq: current.tickSeq + 1,
        revision: current.revision + 1,
        updatedAt: now.toISOString(),
      };
      tx.set(rolloutPaths.rollout(rolloutId), next);
      return { kind: 'ticked' as const, outbox, started, trimmed, status: next.status };
    });

    switch (result.kind) {
      case 'missing':
      case 'coalesced':
        return result;
      case 'raced':
        return { kind: 'deferred', retryInMs: 0 };
      case 'too-soon':
        return { kind: 'deferred', retryInMs: result.retryInMs };
      case 'unchanged':
        return { kind: 'ticked', started: [], wrote: false, status: rollout.status };
      case 'ticked':
        await publishOutbox({ store: deps.store, bus: deps.bus, log }, result.outbox);
        if (result.trimmed > 0) log.info('rollout tick trimmed its plan to the in-flight limit', { rolloutId, trimmed: result.trimmed });
        return { kind: 'ticked', started: result.started, wrote: true, status: result.status };
    }
  }

  /** Ticks until the tick is done, waiting out deferrals (at most a few seconds). */
  async function tickPatiently(rolloutId: string, issuedAt?: string, attempts = 5): Promise<TickOutcome> {
    let outcome = await tick(rolloutId, issuedAt);
    for (let i = 1; i < attempts && outcome.kind === 'deferred'; i += 1) {
      await sleep(outcome.retryInMs);
      outcome = await tick(rolloutId, issuedAt);
    }
    return outcome;
  }

  /** Matches an upgrade's fact to the rollout that started it and records the outcome. */
  async function recordFact(envelope: AnyEnvelope): Promise<FactOutcome> {
    const instanceId = envelope.instanceId;
    if (instanceId === undefined) return { kind: 'ignored', reason: 'names no instance' };
    let eventId: string;
    let state: InstanceProgress['state'];
    let detail: string | null = null;
    let retry = false;
    switch (envelope.type) {
      case 'operation.succeeded':
      case 'operation.failed':
      case 'operation.abandoned': {
        if (envelope.payload.operationType !== 'upgrade' || !envelope.payload.operationId.startsWith('op-')) return { kind: 'ignored', reason: 'not an upgrade' };
        eventId = envelope.payload.operationId.slice(3);
        state = envelope.type === 'operation.succeeded' ? 'succeeded' : 'failed';
        if (envelope.type === 'operation.failed') detail = `step ${envelope.payload.failedStep}: ${envelope.payload.reason}`;
        if (envelope.type === 'operation.abandoned') detail = `abandoned by ${envelope.payload.by}: ${envelope.payload.why}`;
        break;
      }
      case 'operation.rejected': {
        if (envelope.payload.causeType !== 'instance.upgrade') return { kind: 'ignored', reason: 'not an upgrade' };
        eventId = envelope.payload.causeEventId;
        detail = `${envelope.payload.code}: ${envelope.payload.message}`;
        // Busy is never a failure: the instance is tried again later. An instance already on
        // (or past) the target, gone, or not active is skipped; anything else is a failure.
        if (envelope.payload.code === 'busy') {
          state = 'waiting';
          retry = true;
        } else if (['not-newer', 'unknown-instance', 'not-active'].includes(envelope.payload.code)) state = 'skipped';
        else state = 'failed';
        break;
      }
      default:
        return { kind: 'ignored', reason: `${envelope.type} is not an upgrade's outcome` };
    }
    const rollouts = await activeRollouts();
    if (rollouts.length === 0) return { kind: 'ignored', reason: 'no active rollout' };
    const candidates = await deps.store.transaction(async (tx) => {
      const now = deps.clock.now();
      const docs = await tx.getAll<InstanceProgress>(rollouts.map((r) => rolloutPaths.progress(r.id, instanceId)));
      const index = docs.findIndex((d) => d !== undefined && d.eventId === eventId);
      const match = docs[index];
      const rollout = rollouts[index];
      if (match === undefined || rollout === undefined) return { kind: 'ignored' as const, reason: `no rollout started ${eventId}` };
      if (match.state !== 'in-flight') return { kind: 'ignored' as const, reason: `already recorded as ${match.state}` };
      const after: InstanceProgress = {
        ...match,
        state,
        eventId: retry ? null : match.eventId,
        finishedAt: retry ? null : now.toISOString(),
        retryAfter: retry ? new Date(now.getTime() + rollout.busyRetryMs).toISOString() : null,
        detail,
        updatedAt: now.toISOString(),
      };
      tx.set(rolloutPaths.progress(rollout.id, instanceId), after);
      appendAudit(
        tx,
        {
          actor: ROLLOUT_ACTOR,
          action: 'rollout.upgrade-finished',
          instanceId,
          operationId: match.operationId,
          before: { state: match.state, wave: match.wave },
          after: { state, wave: match.wave, detail },
          causeEventId: envelope.eventId,
          rolloutId: rollout.id,
        },
        now,
      );
      return { kind: 'recorded' as const, rolloutId: rollout.id, instanceId, state };
    });
    if (candidates.kind === 'recorded') await publishTick(candidates.rolloutId, 'upgrade-finished');
    return candidates;
  }

  return {
    /** Its ports, as the Pub/Sub edge records through them. */
    deps: { store: deps.store, bus: deps.bus, clock: deps.clock, log },
    tick,
    tickPatiently,
    recordFact,
    publishTick,

    /** Ticks every running rollout (the schedule). */
    async tickAll(): Promise<Record<string, TickOutcome>> {
      const running = await deps.store.query<RolloutRecord>({ collection: COLLECTIONS.rollouts, where: [{ field: 'status', op: '==', value: 'running' }] });
      const outcomes: Record<string, TickOutcome> = {};
      for (const doc of running) outcomes[doc.id] = await tickPatiently(doc.id);
      return outcomes;
    },

    /** A `rollout.tick` on `mi-rollout` (through the edge): tick that rollout. */
    async onTick(envelope: Envelope<'rollout.tick'>): Promise<Record<string, TickOutcome>> {
      return { [envelope.payload.rolloutId]: await tickPatiently(envelope.payload.rolloutId, envelope.issuedAt) };
    },

    /** Starts a rollout to `targetVersion`; refused while another is active. */
    async start(input: { targetVersion: string; waves: readonly WaveSpec[]; actor: string; reason: string; busyRetryMs?: number }): Promise<StartOutcome> {
      if (semver.valid(input.targetVersion) !== input.targetVersion) return { kind: 'refused', message: `${input.targetVersion} is not a semantic version such as 5.5.0` };
      const active = (await activeRollouts()).filter((r) => r.status !== 'aborted');
      const blocking = active[0];
      if (blocking !== undefined) {
        return { kind: 'refused', message: `rollout ${blocking.id} to ${blocking.targetVersion} is ${blocking.status}: finish, resume or abort it first (mi rollout status ${blocking.id})` };
      }
      const now = deps.clock.now();
      const rollout = newRollout({ id: newRolloutId(now), ...input, now });
      await deps.store.transaction(async (tx) => {
        tx.create(rolloutPaths.rollout(rollout.id), rollout);
        appendAudit(
          tx,
          { actor: input.actor, action: 'rollout.started', instanceId: null, operationId: null, before: null, after: { targetVersion: rollout.targetVersion, waves: rollout.waves }, causeEventId: null, rolloutId: rollout.id, reason: input.reason },
          now,
        );
        await Promise.resolve();
      });
      await publishTick(rollout.id, 'start');
      return { kind: 'started', rollout };
    },

    /** An operator's pause, resume, promote or abort; audited with who and why. */
    async control(rolloutId: string, action: RolloutAction, actor: string, reason: string): Promise<ControlOutcome> {
      const outcome = await deps.store.transaction(async (tx): Promise<ControlOutcome> => {
        const now = deps.clock.now();
        const rollout = await tx.get<RolloutRecord>(rolloutPaths.rollout(rolloutId));
        if (rollout === undefined) return { kind: 'refused', message: `no rollout ${rolloutId} (mi rollout status lists the latest)` };
        const haltedWave = rollout.halt?.wave;
        const failuresNow =
          action === 'resume' && rollout.status === 'halted' && haltedWave !== undefined
            ? await tx.count({
                collection: rolloutPaths.progressCollection(rolloutId),
                where: [
                  { field: 'wave', op: '==', value: haltedWave },
                  { field: 'state', op: '==', value: 'failed' },
                ],
              })
            : undefined;
        const decision = controlRollout(rollout, action, { actor, now, ...(failuresNow === undefined ? {} : { failuresNow }) });
        if (decision.kind === 'refused') return decision;
        const next = { ...decision.rollout, revision: rollout.revision + 1, lastWriteAt: now.toISOString() };
        tx.set(rolloutPaths.rollout(rolloutId), next);
        appendAudit(
          tx,
          {
            actor,
            action: `rollout.${action}`,
            instanceId: null,
            operationId: null,
            before: { status: rollout.status, halt: rollout.halt },
            after: { status: next.status, waveStates: next.waveStates },
            causeEventId: null,
            rolloutId,
            reason,
            detail: decision.detail,
          },
          now,
        );
        return { kind: 'changed', rollout: next, detail: decision.detail };
      });
      if (outcome.kind === 'changed' && outcome.rollout.status === 'running') await publishTick(rolloutId, 'control');
      return outcome;
    },
  };
}

export type Rollouts = ReturnType<typeof createRollouts>;

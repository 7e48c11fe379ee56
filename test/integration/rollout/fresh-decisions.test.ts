/**
 * What a rollout decides is decided on fresh data, on the emulator: a failure recorded while a
 * tick is under way halts the rollout instead of letting it start more (max=2, budget=0: the
 * race the issue reproduced); an upgrade counted in flight while a tick is under way uses up a
 * slot; an upgrade command decided before an abort is refused when it arrives after it
 * (rollout-halted); and an upgrade whose outcome never came back has its slot freed from the
 * ledger and the operations, with an alert.
 *
 * The interleaving is made deterministic by a store whose transactions run a hook right after
 * the tick's transaction read the rollout document, before it counts anything: what the hook
 * writes is what a concurrent function would have committed at that moment.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { parseWaves, type InstanceProgress, type RolloutRecord } from '../../../shared/domain/rollout/index.js';
import { makeEnvelope, type AnyEnvelope, type Envelope } from '../../../shared/events/index.js';
import type { EventBus, StateStore } from '../../../shared/ports.js';
import { createRollouts, type Rollouts } from '../../../shared/rollout/index.js';
import { paths, rolloutPaths } from '../../../shared/store/collections.js';
import { createEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { deliver } from '../../../shared/edge.js';
import { lifecycleRoute } from '../../../shared/routes.js';
import { pubSubCloudEvent } from '../../../harness/cloud-event.js';
import type { AuditRecord } from '../../../shared/engine/index.js';

// Each test has a project of its own: one rollout at a time covers the whole of a fleet.
let fx: EngineFixture;
const fixtures: EngineFixture[] = [];
let made = 0;

beforeEach(async () => {
  made += 1;
  fx = await createEngineFixture(import.meta.url, { suffix: `f${made}` });
  fixtures.push(fx);
  published = [];
});
afterAll(async () => {
  await Promise.all(fixtures.map((f) => f.close()));
});

/** A store whose next transaction that reads a rollout document runs `hook` right after that read. */
function interleaving(store: StateStore): { store: StateStore; once(hook: () => Promise<void>): void } {
  let pending: (() => Promise<void>) | undefined;
  return {
    once(hook) {
      pending = hook;
    },
    store: {
      ...store,
      transaction: (work) =>
        store.transaction((tx) =>
          work({
            ...tx,
            async get(path) {
              const found = await tx.get(path);
              const hook = pending;
              if (hook !== undefined && /^rollouts\/[^/]+$/.test(path)) {
                pending = undefined;
                await hook();
              }
              return found as never;
            },
          }),
        ),
    },
  };
}

/** What the rollouts and the engine publish in these tests (upgrade commands, facts), besides the emulator. */
let published: AnyEnvelope[] = [];
const bus: EventBus = {
  publish(topic, envelope, options) {
    published.push(envelope as AnyEnvelope);
    return fx.bus.publish(topic, envelope, options);
  },
};

function rolloutsOn(store: StateStore): Rollouts {
  return createRollouts({ store, bus, clock: fx.clock, minTickIntervalMs: 0 });
}

function upgradeCommandOf(instanceId: string): Envelope<'instance.upgrade'> | undefined {
  return published.find((e): e is Envelope<'instance.upgrade'> => e.type === 'instance.upgrade' && e.instanceId === instanceId);
}

async function devFleet(n: number): Promise<string[]> {
  return (await Promise.all(Array.from({ length: n }, () => fx.seedInstance({ environment: 'dev', tier: 'internal', maintenanceWindow: undefined })))).map((i) => i.id);
}

async function member(rolloutId: string, instanceId: string): Promise<InstanceProgress | undefined> {
  return fx.store.get<InstanceProgress>(rolloutPaths.progress(rolloutId, instanceId));
}

/** The fact the engine publishes when the upgrade a member is in flight for ends. */
async function ended(rolloutId: string, instanceId: string, how: 'succeeded' | 'failed'): Promise<AnyEnvelope> {
  const m = await member(rolloutId, instanceId);
  const ref = { operationId: m?.operationId ?? '', operationType: 'upgrade', rolloutId };
  return (how === 'succeeded'
    ? makeEnvelope({ type: 'operation.succeeded', instanceId, payload: { ...ref, result: {} }, actor: 'system:engine', reason: 'test' })
    : makeEnvelope({ type: 'operation.failed', instanceId, payload: { ...ref, failedStep: 'health-after', reason: 'GET /healthz → 503' }, actor: 'system:engine', reason: 'test' }));
}

async function startedIn(rolloutId: string): Promise<string[]> {
  const audit = await fx.store.query<AuditRecord>({ collection: 'audit', where: [{ field: 'action', op: '==', value: 'rollout.upgrade-started' }] });
  return audit.filter((a) => (a.data as Record<string, unknown>).rolloutId === rolloutId).map((a) => String(a.data.instanceId)).sort();
}

describe('a rollout decides on fresh data', () => {
  it('a failure recorded while a tick is under way halts the rollout (max=2, budget=0); the tick starts nothing after it', async () => {
    const ids = (await devFleet(4)).sort();
    const race = interleaving(fx.store);
    const rollouts = rolloutsOn(race.store);
    const started = await rollouts.start({ targetVersion: '5.5.0', waves: parseWaves('dev:max=2:budget=0:soak=0'), actor: 'alice@example.com', reason: 'race' });
    if (started.kind !== 'started') throw new Error(started.message);
    const id = started.rollout.id;
    const first = await rollouts.tick(id);
    expect(first).toMatchObject({ kind: 'ticked', started: ids.slice(0, 2) });
    // One upgrade succeeds: a slot is free, and a tick comes to fill it...
    expect(await rollouts.recordFact(await ended(id, ids[0] ?? '', 'succeeded'))).toMatchObject({ kind: 'recorded', state: 'succeeded' });
    // ...while the other's failure is committed after the tick read the rollout, before it counted.
    const failure = await ended(id, ids[1] ?? '', 'failed');
    race.once(async () => {
      expect(await rolloutsOn(fx.store).recordFact(failure)).toMatchObject({ kind: 'recorded', state: 'failed' });
    });
    const racing = await rollouts.tick(id);
    expect(racing).toMatchObject({ kind: 'ticked', started: [], status: 'halted' });
    const after = await fx.store.get<RolloutRecord>(rolloutPaths.rollout(id));
    expect([after?.status, after?.halt?.failed]).toEqual(['halted', [ids[1]]]);
    expect(await startedIn(id)).toEqual(ids.slice(0, 2));
  });

  it('an upgrade counted in flight while a tick is under way uses up its slot: the tick starts only what the limit leaves', async () => {
    const ids = (await devFleet(5)).sort();
    const race = interleaving(fx.store);
    const rollouts = rolloutsOn(race.store);
    const started = await rollouts.start({ targetVersion: '5.5.0', waves: parseWaves('dev:max=2:soak=0'), actor: 'alice@example.com', reason: 'limit' });
    if (started.kind !== 'started') throw new Error(started.message);
    const id = started.rollout.id;
    // Before the tick counts, another member is committed in flight (as a concurrent tick would have started it).
    race.once(async () => {
      const last = ids[4] ?? '';
      const m = await member(id, last);
      await fx.store.set(rolloutPaths.progress(id, last), { ...m, state: 'in-flight', eligibleAt: null, startedAt: fx.clock.now().toISOString(), eventId: 'e', operationId: 'op-e' });
    });
    const tick = await rollouts.tick(id);
    expect(tick).toMatchObject({ kind: 'ticked', started: [ids[0]] });
    const inFlight = await fx.store.count({ collection: rolloutPaths.progressCollection(id), where: [{ field: 'state', op: '==', value: 'in-flight' }] });
    expect(inFlight).toBe(2);
  });

  it('an upgrade command decided before an abort is refused when it arrives after it (rollout-halted), and its member waits, not failed', async () => {
    const [instanceId = ''] = await devFleet(1);
    const rollouts = rolloutsOn(fx.store);
    const started = await rollouts.start({ targetVersion: '5.5.0', waves: parseWaves('dev:soak=0'), actor: 'alice@example.com', reason: 'late' });
    if (started.kind !== 'started') throw new Error(started.message);
    const id = started.rollout.id;
    expect(await rollouts.tick(id)).toMatchObject({ kind: 'ticked', started: [instanceId] });
    const command = upgradeCommandOf(instanceId);
    expect(command?.payload).toMatchObject({ targetVersion: '5.5.0', rolloutId: id });
    expect(await rollouts.control(id, 'abort', 'bob@example.com', 'bad release')).toMatchObject({ kind: 'changed' });

    // The command, published late by the outbox drain, reaches the engine after the abort.
    const engine = fx.engineWith({ bus });
    const outcome = await deliver(engine.deps, lifecycleRoute(engine), pubSubCloudEvent(command as AnyEnvelope, { topic: 'mi-lifecycle' }));
    expect(outcome).toMatchObject({ kind: 'rejected', code: 'rollout-halted' });
    expect(await fx.store.get<{ status: string; lease: unknown }>(paths.instance(instanceId))).toMatchObject({ status: 'active', lease: null });
    const fact = published.find((e) => e.type === 'operation.rejected' && e.payload.causeEventId === command?.eventId);
    expect(fact?.payload).toMatchObject({ code: 'rollout-halted', rolloutId: id });
    expect(await rollouts.recordFact(fact as AnyEnvelope)).toMatchObject({ kind: 'recorded', state: 'waiting' });
    expect(await member(id, instanceId)).toMatchObject({ state: 'waiting', eventId: null });
  });

  it('an upgrade whose command never arrived, and one whose fact was lost, are recorded from the ledger and operations on the schedule, with an alert, freeing their slots', async () => {
    const ids = (await devFleet(3)).sort();
    const rollouts = rolloutsOn(fx.store);
    const started = await rollouts.start({ targetVersion: '5.5.0', waves: parseWaves('dev:max=2:budget=5:soak=0'), actor: 'alice@example.com', reason: 'leaks' });
    if (started.kind !== 'started') throw new Error(started.message);
    const id = started.rollout.id;
    expect(await rollouts.tick(id)).toMatchObject({ kind: 'ticked', started: ids.slice(0, 2) });
    const startedAt = Date.parse((await member(id, ids[0] ?? ''))?.startedAt ?? '');
    const at = (minutes: number) => fx.clock.set(new Date(startedAt + minutes * 60_000));
    // The first upgrade's command is accepted and its operation fails, but the fact never reaches the rollout.
    fx.fleet.executor.scriptOutcome({ instanceId: ids[0] ?? '', action: 'upgrade' }, 'failed', 'helm upgrade: readiness probe failed');
    const first = upgradeCommandOf(ids[0] ?? '');
    expect(await deliver(fx.engine.deps, lifecycleRoute(fx.engine), pubSubCloudEvent(first as AnyEnvelope, { topic: 'mi-lifecycle' }))).toMatchObject({ kind: 'accepted' });
    const operationId = (await member(id, ids[0] ?? ''))?.operationId ?? '';
    expect((await fx.driveToEnd(operationId, { stepMs: 5_000 })).status).toBe('failed');
    // The second's command was dead-lettered: no ledger entry, no operation.

    // Within the bounds nothing is touched; the wave stays full.
    at(14);
    await rollouts.tickAll();
    expect([(await member(id, ids[0] ?? ''))?.state, (await member(id, ids[1] ?? ''))?.state]).toEqual(['in-flight', 'in-flight']);
    // Past the check bound the ended operation is recorded; past the acceptance bound the lost command too.
    at(16);
    await rollouts.tickAll();
    expect(await member(id, ids[0] ?? '')).toMatchObject({ state: 'failed', detail: expect.stringContaining('recorded from its operation') as unknown });
    expect((await member(id, ids[1] ?? ''))?.state).toBe('in-flight');
    at(121);
    await rollouts.tickAll();
    expect(await member(id, ids[1] ?? '')).toMatchObject({ state: 'failed', detail: expect.stringContaining('never accepted within 120 min') as unknown });
    // The slots are free: the third member started, and each reconciled member raised an alert.
    expect((await member(id, ids[2] ?? ''))?.state).toBe('in-flight');
    const alerts = published.filter((e) => e.type === 'alert' && (e.payload as { details: { rolloutId?: string } }).details.rolloutId === id);
    expect(alerts.map((a) => a.instanceId).sort()).toEqual(ids.slice(0, 2));
    const reconciled = await fx.store.query<AuditRecord>({ collection: 'audit', where: [{ field: 'action', op: '==', value: 'rollout.upgrade-reconciled' }] });
    expect(reconciled.filter((a) => (a.data as Record<string, unknown>).rolloutId === id)).toHaveLength(2);
  });

  it('a rollout started before members were recorded is not ticked (it says to abort and start again), and nothing is written', async () => {
    await devFleet(1);
    const rollouts = rolloutsOn(fx.store);
    const started = await rollouts.start({ targetVersion: '5.5.0', waves: parseWaves('dev:soak=0'), actor: 'alice@example.com', reason: 'legacy' });
    if (started.kind !== 'started') throw new Error(started.message);
    const legacy = Object.fromEntries(Object.entries(started.rollout).filter(([key]) => key !== 'membership'));
    await fx.store.set(rolloutPaths.rollout(started.rollout.id), legacy);
    fx.clock.advance(5_000);
    expect(await rollouts.tick(started.rollout.id)).toEqual({ kind: 'idle', status: 'running' });
    expect(await fx.store.get(rolloutPaths.rollout(started.rollout.id))).toEqual(legacy);
  });
});

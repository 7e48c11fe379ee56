import { afterAll, describe, expect, it } from 'vitest';
import { canaryMembers, parseWaves, type InstanceProgress } from '../../../shared/domain/rollout/index.js';
import { mi } from '../cli/support.js';
import { createRolloutWorld, type RolloutWorld } from './support.js';
import { rolloutPaths } from '../../../shared/store/collections.js';

// Large limits and no soak so 200 upgrades pass in a few dozen simulated rounds.
const WAVES = 'dev:max=50:soak=0,internal:max=50:soak=0,canary:budget=2:max=50:soak=0,customers:max=200';
const FLEET = { dev: 10, internal: 10, customers: 180 };

async function rolloutWithCanaryFailures(world: RolloutWorld, failures: number) {
  const started = await world.driver.rollouts.start({ targetVersion: '5.5.0', waves: parseWaves(WAVES), actor: 'alice@example.com', reason: 'monthly release' });
  if (started.kind !== 'started') throw new Error(started.message);
  const canary = [...canaryMembers(started.rollout.id, world.instances, 5)].sort();
  const failing = canary.slice(0, failures);
  for (const instanceId of failing) world.fixture.fleet.executor.scriptOutcome({ instanceId, action: 'upgrade' }, 'failed', 'helm upgrade: readiness probe failed');
  return { id: started.rollout.id, canary, failing };
}

describe('a rollout of 200 instances with the canary budget set to 2', () => {
  const worlds: RolloutWorld[] = [];
  afterAll(async () => {
    await Promise.all(worlds.map((w) => w.close()));
  });

  it('halts before the customer wave with 3 canary failures, and mi rollout status says why', async () => {
    const world = await createRolloutWorld(import.meta.url, 'h3', FLEET);
    worlds.push(world);
    const { id, canary, failing } = await rolloutWithCanaryFailures(world, 3);
    expect(canary).toHaveLength(9);
    const rollout = await world.driveUntil(id, (r) => r.status !== 'running');
    expect(rollout.status).toBe('halted');
    expect(rollout.halt?.wave).toBe('canary');
    expect(rollout.halt?.failed.sort()).toEqual(failing);
    expect(rollout.waveStates.map((w) => w.status)).toEqual(['done', 'done', 'halted', 'pending']);
    // Not one customer outside the canary was touched: all 171 members are still pending, never started.
    const customers = await world.fixture.store.query<InstanceProgress>({ collection: rolloutPaths.progressCollection(id), where: [{ field: 'wave', op: '==', value: 'customers' }] });
    expect([customers.length, customers.filter((c) => c.data.state !== 'pending' || c.data.startedAt !== null).length]).toEqual([171, 0]);
    // The rest of the canary finished; nothing is left in flight.
    await world.driveUntil(id, () => false, 6);
    const progress = await world.fixture.store.query<InstanceProgress>({ collection: rolloutPaths.progressCollection(id), where: [{ field: 'wave', op: '==', value: 'canary' }] });
    expect(progress.map((p) => p.data.state).sort()).toEqual([...Array<string>(3).fill('failed'), ...Array<string>(6).fill('succeeded')]);

    const status = await mi(world.fixture.projectId, ['rollout', 'status', id]);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain('HALTED in wave canary');
    expect(status.stdout).toContain('3 upgrade(s) failed');
    expect(status.stdout).toContain('failure budget of 2');
    for (const instanceId of failing) expect(status.stdout).toContain(instanceId);
    expect(status.stdout).toContain('readiness probe failed');
    expect(status.stdout).toMatch(/customers\s+\[-+\]\s+0\/171/);
  }, 90_000);

  it('carries on through the customer wave with 2 canary failures', async () => {
    const world = await createRolloutWorld(import.meta.url, 'h2', FLEET);
    worlds.push(world);
    const { id, failing } = await rolloutWithCanaryFailures(world, 2);
    const rollout = await world.driveUntil(id, (r) => r.status !== 'running');
    expect(rollout.status).toBe('completed');
    expect(rollout.waveStates.map((w) => w.status)).toEqual(['done', 'done', 'done', 'done']);
    const failed = await world.fixture.store.query<InstanceProgress>({ collection: rolloutPaths.progressCollection(id), where: [{ field: 'state', op: '==', value: 'failed' }] });
    expect(failed.map((d) => d.id).sort()).toEqual(failing);
    const upgraded = await world.fixture.store.count({ collection: 'instances', where: [{ field: 'version', op: '==', value: '5.5.0' }] });
    expect(upgraded).toBe(198);
    const status = await mi(world.fixture.projectId, ['rollout', 'status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('COMPLETED');
    expect(status.stdout).toMatch(/customers\s+\[#+\]\s+171\/171/);
  }, 120_000);
});

describe('a rollout whose new version fails its health gate on one instance', () => {
  let world: RolloutWorld | undefined;
  afterAll(async () => {
    await world?.close();
  });

  it('with a failure budget of 0, the failed gate halts the rollout with its reason, and the degraded instance is skipped by the next', async () => {
    world = await createRolloutWorld(import.meta.url, 'hg', { dev: 4, internal: 2, customers: 2 });
    const broken = world.instances.find((i) => i.environment === 'dev');
    if (broken === undefined) throw new Error('no dev instance');
    world.fixture.fleet.applications.breakVersion(broken.domain, '5.5.0', 'unhealthy');
    const started = await world.driver.rollouts.start({ targetVersion: '5.5.0', waves: parseWaves('dev:budget=0:max=4:soak=0,internal:max=4:soak=0,customers:max=4'), actor: 'alice@example.com', reason: 'monthly release' });
    if (started.kind !== 'started') throw new Error(started.message);
    const rollout = await world.driveUntil(started.rollout.id, (r) => r.status !== 'running');
    expect(rollout).toMatchObject({ status: 'halted', halt: { wave: 'dev', failed: [broken.id] } });
    expect((await world.fixture.instance(broken.id))?.status).toBe('degraded');
    const status = await mi(world.fixture.projectId, ['rollout', 'status', started.rollout.id]);
    expect(status.stdout).toContain('HALTED in wave dev');
    expect(status.stdout).toContain('the health gate after the rollout of 5.5.0');

    // The next rollout leaves the degraded instance alone: skipped, not failed.
    await world.driver.rollouts.control(started.rollout.id, 'abort', 'alice@example.com', 'broken release');
    const next = await world.driver.rollouts.start({ targetVersion: '5.5.1', waves: parseWaves('dev:budget=0:max=4:soak=0,internal:max=4:soak=0,customers:max=4'), actor: 'alice@example.com', reason: 'fixed release' });
    if (next.kind !== 'started') throw new Error(next.message);
    const second = await world.driveUntil(next.rollout.id, (r) => r.status !== 'running');
    expect(second.status).toBe('completed');
    const progress = await world.fixture.store.get<InstanceProgress>(rolloutPaths.progress(next.rollout.id, broken.id));
    expect(progress).toMatchObject({ state: 'skipped' });
    expect(progress?.detail).toContain('degraded');
  }, 120_000);
});

import { afterAll, describe, expect, it } from 'vitest';
import { parseWaves, type WaveName } from '../../../shared/domain/rollout/index.js';
import { maxInFlightFromAudit } from '../../../harness/rollout-driver.js';
import { createRolloutWorld, type RolloutWorld } from './support.js';
import { rolloutPaths } from '../../../shared/store/collections.js';
import { deliver } from '../../../shared/edge.js';
import { lifecycleRoute } from '../../../shared/routes.js';

const LIMITS: Record<WaveName, number> = { dev: 4, internal: 3, canary: 3, customers: 25 };
const WAVES = `dev:max=4:soak=0,internal:max=3:soak=0,canary:max=3:soak=0,customers:max=25`;

describe('the in-flight limit', () => {
  let world: RolloutWorld;
  afterAll(async () => {
    await world.close();
  });

  it('is never exceeded by a rollout of 150 instances, checked from the audit trail', async () => {
    world = await createRolloutWorld(import.meta.url, 'lim', { dev: 12, internal: 8, customers: 130 });
    // Two instances are busy with a backup when the rollout reaches them: tried again, not failed.
    const busy = [world.instances[0], world.instances[13]].map((i) => i?.id ?? '');
    for (const id of busy) {
      await deliver(world.fixture.engine.deps, lifecycleRoute(world.fixture.engine), 
        (await import('../../support/engine-fixture.js')).lifecycleDelivery(world.fixture.command('instance.backup', id, {})),
      );
    }
    const started = await world.driver.rollouts.start({ targetVersion: '5.5.0', waves: parseWaves(WAVES), actor: 'alice@example.com', reason: 'monthly release', busyRetryMs: 60_000 });
    if (started.kind !== 'started') throw new Error(started.message);
    const rollout = await world.driveUntil(started.rollout.id, (r) => r.status !== 'running', 300, 45_000);
    expect(rollout.status).toBe('completed');
    const upgraded = await world.fixture.store.count({ collection: 'instances', where: [{ field: 'version', op: '==', value: '5.5.0' }] });
    expect(upgraded).toBe(150);

    const { recorded, engine } = await maxInFlightFromAudit(world.fixture.store, started.rollout.id);
    for (const wave of ['dev', 'internal', 'canary', 'customers'] as const) {
      expect(recorded[wave], wave).toBeLessThanOrEqual(LIMITS[wave]);
      expect(engine[wave], wave).toBeLessThanOrEqual(LIMITS[wave]);
    }
    // The limit was actually reached, so the check means something.
    expect(recorded.customers).toBe(LIMITS.customers);
    // Busy instances were tried again and counted as upgraded, never as failures.
    const failed = await world.fixture.store.count({ collection: rolloutPaths.progressCollection(started.rollout.id), where: [{ field: 'state', op: '==', value: 'failed' }] });
    expect(failed).toBe(0);
    expect(world.driver.published.ticks).toBeGreaterThan(150);
  }, 120_000);
});

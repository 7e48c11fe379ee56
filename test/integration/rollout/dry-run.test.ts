/**
 * `mi rollout start --dry-run` on the emulator: the fleet read as a start would read it, the
 * members per wave and when each customer's window opens, an expected finish, and nothing
 * started (no rollout, no member recorded, no command sent).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RolloutForecast } from '../../../shared/domain/rollout/index.js';
import { COLLECTIONS } from '../../../shared/store/collections.js';
import { createEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { mi } from '../cli/support.js';

let fx: EngineFixture;

beforeAll(async () => {
  fx = await createEngineFixture(import.meta.url);
});
afterAll(async () => {
  await fx.close();
});

describe('mi rollout start --dry-run', () => {
  it('prints the members per wave, their windows and an expected finish, and starts nothing', async () => {
    const dev = await Promise.all([1, 2, 3].map(() => fx.seedInstance({ environment: 'dev', tier: 'internal', maintenanceWindow: undefined })));
    const onTarget = await fx.seedInstance({ environment: 'dev', tier: 'internal', maintenanceWindow: undefined, version: '5.5.0' });
    const saturday = { days: ['sat' as const], start: '02:00', hours: 4, timeZone: 'America/New_York' };
    const customers = await Promise.all([1, 2].map(() => fx.seedInstance({ environment: 'prod', tier: 'customer', maintenanceWindow: saturday })));

    const text = await mi(fx.projectId, ['rollout', 'start', '--to', '5.5.0', '--waves', 'dev:max=2:soak=1h,customers:max=5', '--dry-run', '--upgrade-time', '20m']);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('dry run: a rollout to 5.5.0 would cover 6 instance(s); nothing was started');
    expect(text.stdout).toMatch(/dev\s+4\s+3\s+1\s+2\s+1/);
    expect(text.stdout).toMatch(/customers\s+2\s+2\s+0\s+5\s+1/);
    expect(text.stdout).toContain('every upgrade takes 20 min and none fails');

    const json = await mi(fx.projectId, ['rollout', 'start', '--to', '5.5.0', '--waves', 'dev:max=2:soak=1h,customers:max=5', '--dry-run', '--upgrade-time', '20m', '--json']);
    const forecast = JSON.parse(json.stdout) as RolloutForecast;
    const [devWave, customerWave] = forecast.waves;
    // Three dev upgrades two at a time take two rounds of 20 minutes; the customers wait an hour's soak, then their window.
    expect(Date.parse(devWave?.finishesAt ?? '') - Date.parse(devWave?.startsAt ?? '')).toBe(40 * 60_000);
    expect(Date.parse(customerWave?.startsAt ?? '')).toBe(Date.parse(devWave?.finishesAt ?? '') + 60 * 60_000);
    const opening = customerWave?.firstEligibleAt ?? '';
    expect(new Date(opening).getUTCDay()).toBe(6);
    expect(Date.parse(customerWave?.finishesAt ?? '')).toBe(Date.parse(opening) + 20 * 60_000);
    expect(forecast.members.map((m) => [m.instanceId, m.state]).sort()).toEqual(
      [...dev.map((i) => [i.id, 'pending']), [onTarget.id, 'skipped'], ...customers.map((i) => [i.id, 'pending'])].sort(),
    );
    // Nothing started: no rollout, no command.
    expect(await fx.store.count({ collection: COLLECTIONS.rollouts })).toBe(0);
  });
});

describe('mi workflow run --dry-run', () => {
  it('prints the members per wave at the concurrency, windows only for a change, an expected finish, and starts nothing', async () => {
    const nightly = { days: ['mon' as const, 'tue' as const, 'wed' as const, 'thu' as const, 'fri' as const, 'sat' as const, 'sun' as const], start: '03:00', hours: 2, timeZone: 'Etc/UTC' };
    await fx.seedInstance({ environment: 'prod', tier: 'internal', maintenanceWindow: undefined });
    await Promise.all([1, 2, 3].map(() => fx.seedInstance({ environment: 'prod', tier: 'customer', maintenanceWindow: nightly })));
    // With the test's before: five customers in all.
    const customers = (await fx.store.query<{ id: string }>({ collection: COLLECTIONS.instances, where: [{ field: 'tier', op: '==', value: 'customer' }] })).map((d) => d.data);
    expect(customers).toHaveLength(5);

    const text = await mi(fx.projectId, ['workflow', 'run', 'backup', '-e', 'prod', '--filter', 'tier=customer', '--concurrency', '2', '--budget', '1', '--dry-run', '--run-time', '15m']);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('dry run: a backup workflow in prod would cover 5 instance(s); nothing was started');
    // WAVE MEMBERS TO RUN ON-TARGET MAX BUDGET: a backup keeps to no window, so it starts now.
    expect(text.stdout).toMatch(/customers\s+5\s+5\s+0\s+2\s+1/);
    expect(text.stdout).toContain('each instance takes 15 min and none fails');
    const forecast = JSON.parse((await mi(fx.projectId, ['workflow', 'run', 'backup', '-e', 'prod', '--filter', 'tier=customer', '--concurrency', '2', '--dry-run', '--run-time', '15m', '--json'])).stdout) as RolloutForecast;
    expect(forecast.members.map((m) => m.instanceId).sort()).toEqual(customers.map((c) => c.id).sort());
    // Five at two at a time: three rounds of 15 minutes, from now (a backup waits for no window).
    const [wave] = forecast.waves;
    expect(Date.parse(wave?.finishesAt ?? '') - Date.parse(wave?.startsAt ?? '')).toBe(45 * 60_000);
    expect(forecast.members.every((m) => m.window === undefined)).toBe(true);
    expect(await fx.store.count({ collection: COLLECTIONS.rollouts })).toBe(0);
  });

  it('names the flag at fault, exit 2, and sends nothing', async () => {
    const bad = await mi(fx.projectId, ['workflow', 'run', 'backup', '-e', 'prod', '--filter', 'owner=bob', '--concurrency', '2', '--dry-run']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--filter "owner=bob": expected key=value with a key of id, slug, tier, version, region, status');
    const zero = await mi(fx.projectId, ['workflow', 'run', 'backup', '-e', 'prod', '--concurrency', '0', '--dry-run']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('--concurrency: expected at least 1');
    const action = await mi(fx.projectId, ['workflow', 'run', 'destroy', '-e', 'prod', '--concurrency', '1', '--dry-run']);
    expect(action.code).toBe(2);
    expect(action.stderr).toContain('<action>: expected an action: plan, apply, backup');
    const env = await mi(fx.projectId, ['workflow', 'run', 'plan', '-e', 'staging', '--concurrency', '1', '--dry-run']);
    expect(env.stderr).toContain('-e/--environment: expected an environment: dev, prod');
  });
});

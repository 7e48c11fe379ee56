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

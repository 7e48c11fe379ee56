/**
 * The engine's guarantees as properties: random schedules of concurrent and duplicated
 * lifecycle commands, crashes and lost answers around any port call, Cloud SQL queueing, the
 * executor on Cloud Build (notifications lost, repeated, out of order; builds that expire in the
 * queue, fail, time out or are cancelled; builds.get failing) or on the external runner (down
 * and back), deadlines passing and operators abandoning, on the real
 * emulators and the simulators. CI runs MI_CHAOS_RUNS schedules (200 by default);
 * `npm run chaos -- --runs N` runs more and writes its figures to bench/chaos.json.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChaosContext } from './context.js';
import { checkChaos, describeFailure } from './property.js';

const RUNS = Number(process.env.MI_CHAOS_RUNS ?? 200);
let context: Awaited<ReturnType<typeof createChaosContext>>;

beforeAll(async () => {
  context = await createChaosContext(import.meta.url);
});
afterAll(async () => {
  await context.close();
});

describe('the engine under chaos', () => {
  it(`keeps one operation per instance, every side effect under its lease and started once, every operation ended or stuck holding its lease, and one ledger entry per delivered message (${RUNS} schedules)`, async () => {
    const figures = await checkChaos(context, { runs: RUNS });
    if (figures.failure) expect.fail(describeFailure(figures.failure));
    expect(figures.schedules).toBe(RUNS);
    // The schedules did hunt: faults of every kind were injected.
    for (const [kind, count] of Object.entries(figures.faultsInjected)) expect(count, `faults injected: ${kind}`).toBeGreaterThan(0);
    // Both executors were exercised, and Cloud Build's notifications were lost as well as delivered.
    expect(figures.events.cloudBuildSchedules).toBeGreaterThan(0);
    expect(figures.events.cloudBuildSchedules).toBeLessThan(RUNS);
    expect(figures.events.buildNotificationsLost).toBeGreaterThan(0);
  }, 3_600_000);
});

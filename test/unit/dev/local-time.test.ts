/**
 * The local stack's clock, declared once (cli/dev/local-time.ts): soaks and the restore drill's
 * week shrink by one factor, and the pieces that use them (the rollout's start, the local
 * clock's schedules) are given the shrunk values.
 */
import { describe, expect, it } from 'vitest';
import { LOCAL_SOAK_SCALE, LOCAL_TIME_SPEEDUP, localSchedules } from '../../../cli/dev/local-time.js';
import { DEFAULT_WAVES, scaleSoaks } from '../../../shared/domain/rollout/index.js';
import { SCHEDULES } from '../../../shared/topology.js';

describe('the local clock', () => {
  it('runs the weekly restore drill once per cloud week on the local clock, and leaves every other schedule as the topology says', () => {
    const local = localSchedules();
    const drill = local.find((s) => s.name === 'restore-drill');
    expect(drill?.cron).toBe('0 4 * * 1');
    expect(drill?.localEverySeconds).toBe((7 * 86_400) / LOCAL_TIME_SPEEDUP);
    expect(drill?.localEverySeconds).toBeLessThan(SCHEDULES.find((s) => s.name === 'restore-drill')?.localEverySeconds ?? 0);
    for (const schedule of local.filter((s) => s.name !== 'restore-drill')) {
      expect(schedule).toEqual(SCHEDULES.find((s) => s.name === schedule.name));
    }
  });

  it('shrinks every soak of the default waves by the same factor, and no other setting of a wave', () => {
    const scaled = scaleSoaks(DEFAULT_WAVES, LOCAL_SOAK_SCALE);
    expect(scaled.map((w) => w.soakMs)).toEqual(DEFAULT_WAVES.map((w) => Math.round(w.soakMs / LOCAL_TIME_SPEEDUP)));
    // The day-long canary soak takes seconds, not hours.
    expect(scaled.find((w) => w.name === 'canary')?.soakMs).toBe(Math.round(86_400_000 / LOCAL_TIME_SPEEDUP));
    expect(scaled.map(({ soakMs: _, ...rest }) => rest)).toEqual(DEFAULT_WAVES.map(({ soakMs: _, ...rest }) => rest));
    // The defaults themselves are untouched (the cloud's waves).
    expect(DEFAULT_WAVES.find((w) => w.name === 'dev')?.soakMs).toBe(3_600_000);
  });

  it('refuses a scale that is not a positive number', () => {
    expect(() => scaleSoaks(DEFAULT_WAVES, 0)).toThrow(/positive/);
    expect(() => scaleSoaks(DEFAULT_WAVES, Number.NaN)).toThrow(/positive/);
  });
});

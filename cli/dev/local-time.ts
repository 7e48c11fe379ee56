/**
 * The local stack's time, declared once: how much faster than the cloud `mi dev` runs what
 * people only wait on rather than work on. A rollout's soaks (an hour, two, a day) and the
 * weekly restore drill shrink by this factor, so a full rollout and a passing compliance run
 * (whose schedules control wants the drill to have run) are reached in minutes. The other
 * schedules keep their own `localEverySeconds` (the reconciler every 3 s, not every 12 ms).
 */
import type { WindowClock } from '../../shared/domain/rollout/index.js';
import { SCHEDULES, type Schedule } from '../../shared/topology.js';

/** A cloud week passes in two local minutes (a day in about 17 s, an hour in 0.7 s). */
export const LOCAL_TIME_SPEEDUP = 5_040;

/** What a soak of the waves lasts on the local stack, as a fraction of what they ask. */
export const LOCAL_SOAK_SCALE = 1 / LOCAL_TIME_SPEEDUP;

/**
 * The calendar customers' maintenance windows are read on locally: a week in ten minutes. Slower
 * than the soaks' clock so that the shortest window of the seed (two hours, seven seconds here)
 * still holds a tick of the rollout schedule (every five): at 5,040 it would last 1.4 s and be
 * missed. Fixed epoch (a Monday): a restarted `mi dev` reads windows as the one before it did.
 */
export const LOCAL_WINDOW_CLOCK: WindowClock = { speedup: 1_008, epochMs: Date.UTC(2026, 0, 5) };

/** The schedules whose local interval is their cloud period on the local clock: the restore drill, weekly. */
const SCALED_SCHEDULES: Readonly<Partial<Record<Schedule['name'], number>>> = { 'restore-drill': 7 * 86_400 };

/** The topology's schedules as the local clock runs them: the drill every week / LOCAL_TIME_SPEEDUP. */
export function localSchedules(schedules: readonly Schedule[] = SCHEDULES): Schedule[] {
  return schedules.map((schedule) => {
    const periodSeconds = SCALED_SCHEDULES[schedule.name];
    return periodSeconds === undefined ? { ...schedule } : { ...schedule, localEverySeconds: periodSeconds / LOCAL_TIME_SPEEDUP };
  });
}

/** How old a record must be before anchor-records links it locally: no local function runs for minutes. */
export const LOCAL_SEAL_SETTLE_MS = 60_000;

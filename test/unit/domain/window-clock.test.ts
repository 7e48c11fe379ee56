/**
 * Maintenance windows on a calendar that runs faster than the clock (mi dev's): every window of
 * a week opens within a week / speedup of any moment, is open at the moment said, and was not
 * open just before; at speedup 1 it is the real calendar.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inMaintenanceWindow, nextWindowOpening, windowCalendar } from '../../../shared/domain/rollout/index.js';
import type { MaintenanceWindow } from '../../../shared/events/index.js';

const WINDOWS: MaintenanceWindow[] = [
  { days: ['sat', 'sun'], start: '02:00', hours: 4, timeZone: 'America/New_York' },
  { days: ['wed'], start: '23:30', hours: 2, timeZone: 'Australia/Sydney' },
  { days: ['tue', 'thu'], start: '22:00', hours: 3, timeZone: 'America/Los_Angeles' },
];
const CLOCK = { speedup: 1_008, epochMs: Date.UTC(2026, 0, 5) };
const WEEK_MS = 7 * 86_400_000;

describe('windows on a faster calendar', () => {
  it('open within a week / speedup of any moment, open then, and shut a moment before (unless open already)', () => {
    const windows = windowCalendar(CLOCK);
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2026, 0, 1), max: Date.UTC(2028, 0, 1) }), fc.constantFrom(...WINDOWS), (at, window) => {
        const now = new Date(at);
        const next = windows.nextOpening(window, now);
        expect(next.getTime()).toBeGreaterThanOrEqual(at);
        expect(next.getTime() - at).toBeLessThanOrEqual(WEEK_MS / CLOCK.speedup + 1);
        expect(windows.isOpen(window, next)).toBe(true);
        if (next.getTime() > at) expect(windows.isOpen(window, new Date(next.getTime() - 1))).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('a window of two hours lasts seven seconds on the clock', () => {
    const windows = windowCalendar(CLOCK);
    const window = WINDOWS[1];
    const opens = windows.nextOpening(window, new Date(Date.UTC(2026, 5, 1))).getTime();
    let open = 0;
    for (let t = opens; t < opens + 20_000; t += 100) if (windows.isOpen(window, new Date(t))) open += 100;
    expect(Math.abs(open - (2 * 3_600_000) / CLOCK.speedup)).toBeLessThanOrEqual(200);
  });

  it('at speedup 1, or without a clock, is the real calendar', () => {
    for (const clock of [undefined, { speedup: 1, epochMs: 0 }]) {
      const windows = windowCalendar(clock);
      const now = new Date(Date.UTC(2026, 10, 30, 12));
      for (const window of WINDOWS) {
        expect(windows.nextOpening(window, now)).toEqual(nextWindowOpening(window, now));
        expect(windows.isOpen(window, now)).toBe(inMaintenanceWindow(window, now));
      }
    }
  });
});

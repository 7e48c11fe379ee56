/**
 * Maintenance windows and change freezes: when automated work may start. Pure; time zones
 * through the Intl API (IANA names), windows may cross midnight.
 */
import type { MaintenanceWindow, Weekday } from '../../events/index.js';
import type { Calendar, ChangeFreeze, WindowClock } from './types.js';

const WEEKDAY_INDEX: Record<Weekday, number> = { mon: 0, tue: 1, wed: 2, thu: 3, fri: 4, sat: 5, sun: 6 };
const SHORT_WEEKDAY: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The weekday (mon = 0) and minute of the day of `at` on the wall clock of `timeZone`. */
export function wallClock(at: Date, timeZone: string): { weekday: number; minute: number } {
  const parts = formatterFor(timeZone).formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const weekday = SHORT_WEEKDAY[get('weekday')];
  if (weekday === undefined) throw new Error(`cannot read the weekday of ${at.toISOString()} in ${timeZone}`);
  return { weekday, minute: Number(get('hour')) * 60 + Number(get('minute')) };
}

/**
 * True when `at` falls in the window: it opens on each listed day at `start` (local time) and
 * stays open `hours` hours, into the next day when it crosses midnight. Measured on the wall
 * clock, so a window spanning a DST change is an hour longer or shorter in real time.
 */
export function inMaintenanceWindow(window: MaintenanceWindow, at: Date): boolean {
  const { weekday, minute } = wallClock(at, window.timeZone);
  const [h = '0', m = '0'] = window.start.split(':');
  const startMinute = Number(h) * 60 + Number(m);
  return window.days.some((day) => {
    const daysAgo = (weekday - WEEKDAY_INDEX[day] + 7) % 7;
    const elapsed = daysAgo * 1440 + minute - startMinute;
    return elapsed >= 0 && elapsed < window.hours * 60;
  });
}

/**
 * When the window next lets work start at or after `after`: `after` itself when it is open,
 * else its next opening (a minute precision, on the wall clock of its time zone). An opening
 * that falls in a daylight-saving gap opens when the clock lands after it.
 */
export function nextWindowOpening(window: MaintenanceWindow, after: Date): Date {
  if (inMaintenanceWindow(window, after)) return after;
  const [h = '0', m = '0'] = window.start.split(':');
  const startMinute = Number(h) * 60 + Number(m);
  const base = Math.floor(after.getTime() / 60_000) * 60_000;
  const here = wallClock(new Date(base), window.timeZone);
  let best: number | undefined;
  // Two weeks: a window whose every hour falls in a daylight-saving gap (Sun 02:00 for 1 h in
  // Berlin on the spring change) does not open that day, and opens the week after.
  for (let ahead = 0; ahead <= 14; ahead += 1) {
    const weekday = (here.weekday + ahead) % 7;
    if (!window.days.some((d) => WEEKDAY_INDEX[d] === weekday)) continue;
    // The wall-clock distance, then corrected for any offset change between here and there.
    let guess = base + (ahead * 1440 + startMinute - here.minute) * 60_000;
    for (let i = 0; i < 2; i += 1) {
      const there = wallClock(new Date(guess), window.timeZone);
      let off = ((weekday - there.weekday + 7) % 7) * 1440 + startMinute - there.minute;
      if (off > 3.5 * 1440) off -= 7 * 1440;
      guess += off * 60_000;
    }
    // In a gap (the clock skips the opening), the window opens once the clock is past it.
    for (let step = 0; step < 120 && !inMaintenanceWindow(window, new Date(guess)); step += 1) guess += 60_000;
    if (guess > after.getTime() && inMaintenanceWindow(window, new Date(guess)) && (best === undefined || guess < best)) best = guess;
  }
  return new Date(best ?? after.getTime() + 14 * 86_400_000);
}

/** The freeze in force at `at`, if any. */
export function activeFreeze(calendar: Calendar, at: Date): ChangeFreeze | undefined {
  const t = at.getTime();
  return calendar.freezes.find((f) => Date.parse(f.from) <= t && t < Date.parse(f.to));
}

export interface WindowCalendar {
  isOpen(window: MaintenanceWindow, now: Date): boolean;
  /** When the window next lets work start at or after `now`, on the clock (not the calendar). */
  nextOpening(window: MaintenanceWindow, now: Date): Date;
}

/** Windows read on this clock (the real calendar when undefined or at speedup 1). */
export function windowCalendar(clock: WindowClock | undefined): WindowCalendar {
  if (clock === undefined || clock.speedup === 1) return { isOpen: inMaintenanceWindow, nextOpening: nextWindowOpening };
  const { speedup, epochMs } = clock;
  const onCalendar = (now: Date) => new Date(epochMs + (now.getTime() - epochMs) * speedup);
  // Rounded up: the moment on the clock is never before the opening on the calendar.
  const onClock = (at: Date) => new Date(epochMs + Math.ceil((at.getTime() - epochMs) / speedup));
  return {
    isOpen: (window, now) => inMaintenanceWindow(window, onCalendar(now)),
    nextOpening: (window, now) => (inMaintenanceWindow(window, onCalendar(now)) ? now : onClock(nextWindowOpening(window, onCalendar(now)))),
  };
}

import type { Clock } from '../ports.js';

/** A clock that moves only when told to, so tests decide when simulated work finishes. */
export class ManualClock implements Clock {
  private current: number;

  constructor(start: Date | string = '2026-01-05T12:00:00Z') {
    this.current = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  /** Moves time forward; a negative step would let finished work un-finish, so it is refused. */
  advance(ms: number): Date {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance(ms) needs a finite, non-negative step, got ${ms}`);
    this.current += ms;
    return this.now();
  }

  /** Jumps to a moment (forward or back: tests of "clock skew" may want both). */
  set(date: Date | string): void {
    const next = new Date(date).getTime();
    if (Number.isNaN(next)) throw new RangeError(`set(date) needs a valid date, got ${String(date)}`);
    this.current = next;
  }
}

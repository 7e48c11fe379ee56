import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../shared/sim/clock.js';

describe('manual clock', () => {
  it('moves only when told to', () => {
    const clock = new ManualClock('2026-01-01T00:00:00Z');
    expect(clock.now().toISOString()).toBe('2026-01-01T00:00:00.000Z');
    clock.advance(90_000);
    expect(clock.now().toISOString()).toBe('2026-01-01T00:01:30.000Z');
    clock.set('2025-12-31T00:00:00Z');
    expect(clock.now().toISOString()).toBe('2025-12-31T00:00:00.000Z');
  });

  it('refuses to step backwards with advance', () => {
    expect(() => new ManualClock().advance(-1)).toThrow(RangeError);
  });
});

import { describe, expect, it } from 'vitest';
import { compare, interleavedOrder, percentile, round, summarize } from '../../../bench/stats.js';

describe('percentile', () => {
  it('interpolates between the two nearest ranks', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([10, 20, 30, 40, 50], 90)).toBe(46);
    expect(percentile([1, 2, 3], 50)).toBe(2);
  });

  it('gives the extremes at 0 and 100, and the value itself for one sample', () => {
    expect(percentile([3, 5, 9], 0)).toBe(3);
    expect(percentile([3, 5, 9], 100)).toBe(9);
    expect(percentile([7], 90)).toBe(7);
  });

  it('refuses no samples and percentiles out of range', () => {
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });
});

describe('summarize', () => {
  it('sorts a copy and reports p50, p90, mean, min and max', () => {
    const samples = [5, 1, 4, 2, 3];
    expect(summarize(samples)).toEqual({ n: 5, p50: 3, p90: 4.6, mean: 3, min: 1, max: 5 });
    expect(samples).toEqual([5, 1, 4, 2, 3]);
  });

  it('refuses no samples', () => {
    expect(() => summarize([])).toThrow(RangeError);
  });
});

describe('interleavedOrder', () => {
  it('alternates which side goes first in each pair', () => {
    expect(interleavedOrder(3)).toEqual(['a', 'b', 'b', 'a', 'a', 'b']);
  });

  it('runs each side the same number of times and never more than twice in a row', () => {
    const order = interleavedOrder(201);
    expect(order.filter((s) => s === 'a')).toHaveLength(201);
    expect(order.filter((s) => s === 'b')).toHaveLength(201);
    expect(order.join('')).not.toMatch(/aaa|bbb/);
  });

  it('refuses a count that is not a whole number', () => {
    expect(() => interleavedOrder(-1)).toThrow(RangeError);
    expect(() => interleavedOrder(1.5)).toThrow(RangeError);
  });
});

describe('compare', () => {
  const b = summarize([10, 10, 10]);

  it('passes when the ratio of p50s is at most the target', () => {
    expect(compare(summarize([13, 13, 13]), b, 1.3)).toEqual({ ratio: { p50: 1.3, mean: 1.3 }, pass: true });
    expect(compare(summarize([14, 14, 14]), b, 1.3).pass).toBe(false);
  });

  it('refuses a baseline that took no time', () => {
    expect(() => compare(b, summarize([0, 0]), 1.3)).toThrow(RangeError);
  });
});

describe('round', () => {
  it('keeps two decimals unless told otherwise', () => {
    expect(round(1.23456)).toBe(1.23);
    expect(round(1.23456, 3)).toBe(1.235);
  });
});

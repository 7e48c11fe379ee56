import { describe, expect, it } from 'vitest';
import { addCounts, countsBetween, emptyCounts, perEvent } from '../../../bench/counts.js';

const snapshot = (reads: number, writes: number, calls: Record<string, number>) => ({ ...emptyCounts(), reads, writes, commits: writes > 0 ? 1 : 0, calls });

describe('operation count arithmetic', () => {
  it('takes the difference of two snapshots, dropping methods not called in between', () => {
    const before = snapshot(2, 5, { BatchGetDocuments: 1, Commit: 1 });
    const after = snapshot(5, 10, { BatchGetDocuments: 3, Commit: 2, RunQuery: 1 });
    expect(countsBetween(before, before).calls).toEqual({});
    expect(countsBetween(before, after)).toMatchObject({ reads: 3, writes: 5, calls: { BatchGetDocuments: 2, Commit: 1, RunQuery: 1 } });
  });

  it('sums stretches and averages them per event', () => {
    const total = addCounts(snapshot(2, 5, { Commit: 1 }), snapshot(3, 5, { Commit: 2 }));
    expect(total).toMatchObject({ reads: 5, writes: 10, calls: { Commit: 3 } });
    expect(perEvent(total, 2)).toMatchObject({ reads: 2.5, writes: 5, calls: { Commit: 1.5 } });
  });

  it('refuses to average over no events', () => {
    expect(() => perEvent(emptyCounts(), 0)).toThrow(RangeError);
  });
});

/**
 * Arithmetic on the Firestore operation counter's snapshots: what one stretch of work cost
 * (the difference of two snapshots), sums over many, and the average per event.
 */
import type { FirestoreOperationCounts } from '../shared/gcp/firestore-counting.js';

export function emptyCounts(): FirestoreOperationCounts {
  return { reads: 0, writes: 0, writesAttempted: 0, aggregations: 0, commits: 0, failedCommits: 0, calls: {} };
}

function combine(x: FirestoreOperationCounts, y: FirestoreOperationCounts, sign: 1 | -1): FirestoreOperationCounts {
  const calls: Record<string, number> = { ...x.calls };
  for (const [method, n] of Object.entries(y.calls)) calls[method] = (calls[method] ?? 0) + sign * n;
  for (const [method, n] of Object.entries(calls)) if (n === 0) delete calls[method];
  return {
    reads: x.reads + sign * y.reads,
    writes: x.writes + sign * y.writes,
    writesAttempted: x.writesAttempted + sign * y.writesAttempted,
    aggregations: x.aggregations + sign * y.aggregations,
    commits: x.commits + sign * y.commits,
    failedCommits: x.failedCommits + sign * y.failedCommits,
    calls,
  };
}

/** What happened between two snapshots of one counter. */
export function countsBetween(before: FirestoreOperationCounts, after: FirestoreOperationCounts): FirestoreOperationCounts {
  return combine(after, before, -1);
}

export function addCounts(x: FirestoreOperationCounts, y: FirestoreOperationCounts): FirestoreOperationCounts {
  return combine(x, y, 1);
}

/** Counts per event, as the average over `events` events (rounded to hundredths). */
export function perEvent(total: FirestoreOperationCounts, events: number): FirestoreOperationCounts {
  if (!Number.isInteger(events) || events <= 0) throw new RangeError(`events must be a positive whole number, got ${events}`);
  const each = (n: number) => Math.round((n / events) * 100) / 100;
  return {
    reads: each(total.reads),
    writes: each(total.writes),
    writesAttempted: each(total.writesAttempted),
    aggregations: each(total.aggregations),
    commits: each(total.commits),
    failedCommits: each(total.failedCommits),
    calls: Object.fromEntries(Object.entries(total.calls).map(([method, n]) => [method, each(n)])),
  };
}

/**
 * The pure arithmetic of the benchmarks: percentiles, summaries, the interleaved order of the
 * two sides, and the comparison against a target. No I/O, so it is unit-tested on its own.
 */

/** p50, p90 and mean of a set of samples, in the samples' unit. */
export interface Summary {
  n: number;
  p50: number;
  p90: number;
  mean: number;
  min: number;
  max: number;
}

/**
 * The p-th percentile (0..100) of samples already sorted ascending, interpolating linearly
 * between the two nearest ranks (the "type 7" estimator of R and NumPy's default), so p50 of
 * an even count is the mean of the middle two.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of no samples');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be between 0 and 100, got ${p}`);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  const lowValue = sorted[low];
  const highValue = sorted[high];
  return lowValue + (highValue - lowValue) * (rank - low);
}

/** Summarizes samples (any order). */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new RangeError('cannot summarize no samples');
  const sorted = [...samples].sort((x, y) => x - y);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    mean: sum / sorted.length,
    min: sorted[0],
    max: sorted[sorted.length - 1],
  };
}

export type Side = 'a' | 'b';

/**
 * The order in which to run `pairs` samples of each side: A B, B A, A B, B A... Each side goes
 * first in half the pairs, so a drift in the machine's load, or a side that warms a cache for
 * the next, favours neither.
 */
export function interleavedOrder(pairs: number): Side[] {
  if (!Number.isInteger(pairs) || pairs < 0) throw new RangeError(`pairs must be a whole number, got ${pairs}`);
  const order: Side[] = [];
  for (let i = 0; i < pairs; i += 1) order.push(...(i % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)));
  return order;
}

/** Rounds for display and for the results file: milliseconds to the hundredth. */
export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** How side A compares to side B: the ratios of p50s and of means, and whether p50's meets the target. */
export function compare(a: Summary, b: Summary, maxRatio: number): { ratio: { p50: number; mean: number }; pass: boolean } {
  if (b.p50 <= 0 || b.mean <= 0) throw new RangeError('the baseline side must take some time');
  const ratio = { p50: a.p50 / b.p50, mean: a.mean / b.mean };
  return { ratio, pass: ratio.p50 <= maxRatio };
}

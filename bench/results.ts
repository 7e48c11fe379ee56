/**
 * The shape of bench/results.json and the human summary printed beside it.
 */
import type { FirestoreOperationCounts } from '../shared/gcp/firestore-counting.js';
import { compare, round, summarize, type Summary } from './stats.js';

/** One side of a comparison, in milliseconds. */
export interface SideResult {
  label: string;
  p50: number;
  p90: number;
  mean: number;
  min: number;
  max: number;
}

export interface BenchmarkResult {
  name: string;
  /** What was timed, from where to where. */
  measures: string;
  /** Timed samples of EACH side (warm-up samples excluded). */
  samples: number;
  warmup: number;
  unit: 'ms';
  a: SideResult;
  b: SideResult;
  /** a / b. */
  ratio: { p50: number; mean: number };
  /** Largest acceptable ratio of p50s. */
  target: number;
  /** ratio.p50 <= target. */
  pass: boolean;
  /** ratio.mean <= target (the mean is more exposed to the shared machine's hiccups). */
  passOnMean: boolean;
  /** Where side A's time went, phase by phase, when the benchmark can tell. */
  breakdown?: Record<string, SideResult>;
}

export interface CountsResult {
  /** Accepted events the averages are over. */
  events: number;
  /** The accepting transaction alone: invocation to commit (retries included). */
  acceptance: FirestoreOperationCounts;
  /** The whole handleLifecycleMessage: acceptance, outbox publish, first steps. */
  handler: FirestoreOperationCounts;
  /** The raw transaction of benchmark (a), per transaction: it should match `acceptance`. */
  rawTransaction: FirestoreOperationCounts;
  note: string;
}

export interface BenchResults {
  generatedAt: string;
  machine: { cpus: number; cpuModel: string; node: string; platform: string; loadAverage: number[] };
  emulators: { firestore: string; pubsub: string; reused: string[] };
  durationSeconds: number;
  benchmarks: BenchmarkResult[];
  /** Comparisons that explain the figures (not the required ones): their targets are for reference. */
  diagnostics: BenchmarkResult[];
  counts: CountsResult;
  engineWarnings: string[];
}

export function sideResult(label: string, summary: Summary): SideResult {
  return { label, p50: round(summary.p50), p90: round(summary.p90), mean: round(summary.mean), min: round(summary.min), max: round(summary.max) };
}

/** Summarizes both sides' samples and compares them against the target. */
export function benchmarkResult(input: {
  name: string;
  measures: string;
  warmup: number;
  target: number;
  a: { label: string; samples: readonly number[] };
  b: { label: string; samples: readonly number[] };
  breakdown?: Record<string, readonly number[]>;
}): BenchmarkResult {
  const a = summarize(input.a.samples);
  const b = summarize(input.b.samples);
  const { ratio, pass } = compare(a, b, input.target);
  return {
    name: input.name,
    measures: input.measures,
    samples: Math.min(a.n, b.n),
    warmup: input.warmup,
    unit: 'ms',
    a: sideResult(input.a.label, a),
    b: sideResult(input.b.label, b),
    ratio: { p50: round(ratio.p50, 3), mean: round(ratio.mean, 3) },
    target: input.target,
    pass,
    passOnMean: ratio.mean <= input.target,
    ...(input.breakdown === undefined
      ? {}
      : { breakdown: Object.fromEntries(Object.entries(input.breakdown).map(([label, samples]) => [label, sideResult(label, summarize(samples))])) }),
  };
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  '));
}

const ms = (value: number) => value.toFixed(2);

/** The summary a person reads; the JSON file holds the same figures and more. */
export function formatSummary(results: BenchResults, file: string): string[] {
  const lines: string[] = [
    `Benchmarks (${results.machine.cpus} CPUs, Node ${results.machine.node}, ${results.durationSeconds} s; times in ms)`,
    '',
  ];
  for (const b of [...results.benchmarks, ...results.diagnostics]) {
    lines.push(`${b.name}: ${b.measures}`);
    lines.push(`  ${b.samples} samples per side after ${b.warmup} warm-up, interleaved`);
    const rows = [
      ['', 'p50', 'p90', 'mean', 'min', 'max'],
      ...[b.a, b.b].map((s) => [s.label, ms(s.p50), ms(s.p90), ms(s.mean), ms(s.min), ms(s.max)]),
    ];
    for (const line of table(rows)) lines.push(`    ${line}`);
    lines.push(
      `  ratio p50 ${b.ratio.p50.toFixed(3)}, mean ${b.ratio.mean.toFixed(3)}; target <= ${b.target}: ${b.pass ? 'PASS' : 'FAIL'}` +
        (b.pass === b.passOnMean ? '' : ` (on the mean: ${b.passOnMean ? 'pass' : 'fail'})`),
    );
    if (b.breakdown !== undefined) {
      lines.push('  where side A went (from the same samples):');
      const rows2 = [['', 'p50', 'p90', 'mean'], ...Object.values(b.breakdown).map((s) => [s.label, ms(s.p50), ms(s.p90), ms(s.mean)])];
      for (const line of table(rows2)) lines.push(`    ${line}`);
    }
    lines.push('');
  }
  const c = results.counts;
  lines.push(`(b) Firestore operations per accepted event, counted on the wire (gRPC), over ${c.events} events:`);
  const calls = (counts: FirestoreOperationCounts) =>
    Object.entries(counts.calls)
      .sort(([x], [y]) => x.localeCompare(y))
      .map(([method, n]) => `${method} ${n}`)
      .join(', ');
  const rows = [
    ['', 'reads', 'writes', 'commits', 'failed commits', 'calls'],
    ...(
      [
        ['accepting transaction', c.acceptance],
        ['whole handler', c.handler],
        ['raw transaction (a)', c.rawTransaction],
      ] as const
    ).map(([label, counts]) => [label, String(counts.reads), String(counts.writes), String(counts.commits), String(counts.failedCommits), calls(counts)]),
  ];
  for (const line of table(rows)) lines.push(`    ${line}`);
  lines.push(`  ${c.note}`);
  if (results.engineWarnings.length > 0) {
    lines.push('', `The engine logged ${results.engineWarnings.length} warning(s); first: ${results.engineWarnings[0] ?? ''}`);
  }
  lines.push('', `Written to ${file}`);
  return lines;
}

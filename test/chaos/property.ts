/**
 * The chaos property: for every schedule fast-check generates, no invariant is violated. On a
 * failure fast-check shrinks the schedule; the shrunk one is replayed to print its trace, with
 * the seed and path that replay it (`npm run chaos -- --seed S --path P`).
 */
import fc from 'fast-check';
import { FAULT_KINDS, type FaultKind } from './gate.js';
import { emptyStats, runSchedule, type ChaosContext, type ScheduleResult } from './schedule.js';


export interface ChaosFigures {
  schedules: number;
  /** Schedules run while shrinking a failure (not counted in `schedules`). */
  shrinkRuns: number;
  violations: number;
  secondsPerSchedule: number;
  seconds: number;
  seed: number;
  faultsInjected: Record<FaultKind, number>;
  events: { commands: number; deliveries: number; duplicateDeliveries: number; deadLetters: number; reconciles: number; abandons: number; runnerOutages: number; deadlineJumps: number; sqlQueueingSchedules: number; portCalls: number; cloudBuildSchedules: number; buildNotifications: number; buildNotificationsLost: number };
  failure?: { seed: number; path: string; violations: string[]; trace: string[] };
}

/** A schedule's numbers: each picks the next step among what is possible then. */
export const scheduleArbitrary = fc.array(fc.nat({ max: 999_999 }), { minLength: 150, maxLength: 600, size: 'max' });

export interface ChaosOptions {
  runs: number;
  seed?: number;
  path?: string;
  /** How long shrinking a failure may take before the smallest schedule found so far is reported. */
  shrinkSeconds?: number;
  /** After each schedule (not the shrinking runs), with the figures so far (counted up to and including it). */
  onSchedule?: (index: number, result: ScheduleResult, figures: Readonly<ChaosFigures>) => void;
}

export async function checkChaos(context: ChaosContext, options: ChaosOptions): Promise<ChaosFigures> {
  const figures: ChaosFigures = {
    schedules: 0,
    shrinkRuns: 0,
    violations: 0,
    secondsPerSchedule: 0,
    seconds: 0,
    seed: options.seed ?? Date.now() % 2_147_483_647,
    faultsInjected: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>,
    events: { commands: 0, deliveries: 0, duplicateDeliveries: 0, deadLetters: 0, reconciles: 0, abandons: 0, runnerOutages: 0, deadlineJumps: 0, sqlQueueingSchedules: 0, portCalls: 0, cloudBuildSchedules: 0, buildNotifications: 0, buildNotificationsLost: 0 },
  };
  const started = performance.now();
  let last: { values: readonly number[]; result: ScheduleResult } | undefined;
  let firstFailureAt: number | undefined;
  const shrinkMs = (options.shrinkSeconds ?? 300) * 1000;
  const result = await fc.check(
    fc.asyncProperty(scheduleArbitrary, async (values) => {
      // Past the shrinking budget, candidates are let pass: the smallest failure so far stands.
      if (firstFailureAt !== undefined && performance.now() - firstFailureAt > shrinkMs) return true;
      // A schedule that throws (a harness or emulator error) is a failure like a violation, named,
      // so that it is shrunk within the budget and reported, never counted as a schedule that passed.
      const outcome = await runSchedule(values, context).catch((error: unknown): ScheduleResult => ({
        violations: [`the schedule threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`],
        trace: [],
        stats: emptyStats(),
      }));
      if (firstFailureAt !== undefined) {
        figures.shrinkRuns += 1;
        if (outcome.violations.length > 0) last = { values, result: outcome };
        return outcome.violations.length === 0;
      }
      figures.schedules += 1;

      const s = outcome.stats;
      for (const kind of FAULT_KINDS) figures.faultsInjected[kind] += s.faults[kind];
      figures.events.commands += s.commands;
      figures.events.deliveries += s.deliveries;
      figures.events.duplicateDeliveries += s.duplicateDeliveries;
      figures.events.deadLetters += s.deadLetters;
      figures.events.reconciles += s.reconciles;
      figures.events.abandons += s.abandons;
      figures.events.runnerOutages += s.runnerOutages;
      figures.events.deadlineJumps += s.deadlineJumps;
      figures.events.sqlQueueingSchedules += s.sqlQueueing ? 1 : 0;
      figures.events.cloudBuildSchedules += s.executor === 'cloud-build' ? 1 : 0;
      figures.events.buildNotifications += s.notifications;
      figures.events.buildNotificationsLost += s.notificationsLost;
      figures.events.portCalls += s.calls;
      figures.seconds = (performance.now() - started) / 1000;
      options.onSchedule?.(figures.schedules, outcome, figures);
      if (outcome.violations.length > 0) {
        figures.violations += 1;
        firstFailureAt = performance.now();
        last = { values, result: outcome };
        return false;
      }
      return true;
    }),
    { numRuns: options.runs, seed: figures.seed, ...(options.path === undefined ? {} : { path: options.path }), endOnFailure: false, verbose: 0 },
  );
  figures.seconds = (performance.now() - started) / 1000;
  figures.secondsPerSchedule = figures.schedules === 0 ? 0 : figures.seconds / figures.schedules;
  if (result.failed && result.counterexample !== null) {
    // Replayed, so the trace printed is the shrunk schedule's own.
    const [values] = result.counterexample;
    const replay = last !== undefined && last.values === values ? last.result : await runSchedule(values, context);
    figures.failure = { seed: result.seed, path: result.counterexamplePath ?? '', violations: replay.violations, trace: replay.trace };
  }
  return figures;
}

/** A failure as a person reads it: what broke, how to replay it, and the schedule step by step. */
export function describeFailure(failure: NonNullable<ChaosFigures['failure']>): string {
  return [
    `chaos: an invariant was violated (replay: npm run chaos -- --seed ${failure.seed} --path "${failure.path}")`,
    ...failure.violations.map((v) => `  - ${v}`),
    'the shrunk schedule:',
    ...failure.trace,
  ].join('\n');
}

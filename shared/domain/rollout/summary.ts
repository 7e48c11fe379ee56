/**
 * A rollout's counts per wave, as plain arithmetic: where an instance stands, a wave's summary
 * from its members' standings, the corrections a tick makes (its own starts counted in flight;
 * starts its transaction trimmed counted back as waiting), and the live counts `mi rollout
 * status` shows from the progress documents.
 */
import semver from 'semver';
import type { FleetInstance, InstanceProgress, WaveName, WaveSpec, WaveSummary } from './types.js';
import { failureBudgetOf } from './waves.js';

/** Where an instance stands in a rollout: its recorded progress, or pending or skipped before it has any. */
export type Standing = 'pending' | 'waiting' | 'in-flight' | 'succeeded' | 'failed' | 'skipped';

/** An instance's standing; one already on (or past) the target, or gone, is skipped. */
export function standingOf(instance: FleetInstance | undefined, progress: InstanceProgress | undefined, targetVersion: string): Standing {
  if (progress !== undefined) return progress.state;
  if (instance === undefined) return 'skipped';
  // Already there (upgraded by hand, or created on the new version): nothing to do.
  if (semver.valid(instance.version) !== null && semver.gte(instance.version, targetVersion)) return 'skipped';
  return 'pending';
}

/** The counts of one wave from the standings of its members. */
export function summarizeWave(wave: WaveSpec, standings: readonly Standing[]): WaveSummary {
  const count = (s: Standing) => standings.filter((x) => x === s).length;
  return {
    wave: wave.name,
    total: standings.length,
    succeeded: count('succeeded'),
    failed: count('failed'),
    inFlight: count('in-flight'),
    skipped: count('skipped'),
    waiting: count('pending') + count('waiting'),
    budget: failureBudgetOf(wave, standings.length),
  };
}

/** The summary with a tick's planned starts counted as in flight. */
export function countStartsInFlight(summary: readonly WaveSummary[], starts: ReadonlyArray<{ wave: WaveName }>): WaveSummary[] {
  return summary.map((s) => {
    const started = starts.filter((p) => p.wave === s.wave).length;
    return { ...s, inFlight: s.inFlight + started, waiting: s.waiting - started };
  });
}

/**
 * The summary of a plan whose starts the tick's transaction trimmed (its re-check of the
 * in-flight limit): planned starts that were not made are waiting again, not in flight.
 */
export function uncountTrimmedStarts(
  summary: readonly WaveSummary[],
  planned: ReadonlyArray<{ wave: WaveName }>,
  started: readonly string[],
  members: Readonly<Record<string, WaveName>>,
): WaveSummary[] {
  return summary.map((s) => {
    const plannedInWave = planned.filter((p) => p.wave === s.wave).length;
    const made = started.filter((id) => members[id] === s.wave).length;
    return { ...s, inFlight: s.inFlight - (plannedInWave - made), waiting: s.waiting + (plannedInWave - made) };
  });
}

/** How many progress documents of one wave are in each state (counted live). */
export interface ProgressCounts {
  inFlight: number;
  succeeded: number;
  failed: number;
  skipped: number;
  /** Waiting to try a busy instance again. */
  waiting: number;
}

/**
 * A wave's live counts from its progress documents and the summary its last tick left. The
 * planner decides the members (its last tick's total), and instances skipped because they were
 * already on the target have no progress document: those two come from the summary.
 */
export function liveWaveSummary(wave: WaveName, counts: ProgressCounts, last: WaveSummary | undefined): WaveSummary {
  const { inFlight, succeeded, failed } = counts;
  const total = Math.max(last?.total ?? 0, inFlight + succeeded + failed + counts.skipped + counts.waiting);
  const noDocSkips = Math.max(0, (last?.skipped ?? 0) - counts.skipped);
  const skipped = counts.skipped + noDocSkips;
  return {
    wave,
    total,
    succeeded,
    failed,
    inFlight,
    skipped,
    waiting: Math.max(0, total - succeeded - failed - inFlight - skipped),
    budget: last?.budget ?? 0,
  };
}

/**
 * A rollout's counts per wave as `mi rollout status` shows them: live, from aggregations over
 * the members' progress documents, with the total the membership recorded.
 */
import type { WaveName, WaveSummary } from './types.js';

/** How many progress documents of one wave are in each state (counted live). */
export interface ProgressCounts {
  inFlight: number;
  succeeded: number;
  failed: number;
  skipped: number;
  /** Not started yet (pending), or to be tried again (waiting). */
  waiting: number;
}

/** A wave's live counts from its members' progress documents; its total and budget from the membership (the summary). */
export function liveWaveSummary(wave: WaveName, counts: ProgressCounts, last: WaveSummary | undefined): WaveSummary {
  const { inFlight, succeeded, failed, skipped } = counts;
  const total = Math.max(last?.total ?? 0, inFlight + succeeded + failed + skipped + counts.waiting);
  return { wave, total, succeeded, failed, inFlight, skipped, waiting: Math.max(0, total - succeeded - failed - inFlight - skipped), budget: last?.budget ?? 0 };
}

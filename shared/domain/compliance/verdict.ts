/**
 * The one verdict at the top of a report, from the same facts every section shows: it passes
 * only when the run is complete, every planned instance was checked and passed, the schedules
 * passed, the access control passed, and every commit applied in the period passed CC8.1. Each reason names the section that shows it, so the
 * verdict and the sections can never disagree.
 */

export interface VerdictFacts {
  complete: boolean;
  problems: readonly string[];
  instanceFailures: number;
  notChecked: number;
  notPlanned: number;
  schedules: 'pass' | 'fail' | 'missing';
  failingSchedules: readonly string[];
  access: 'pass' | 'fail';
  /** The restore drills of the period: none, all succeeded, or one failed. */
  drills: 'pass' | 'fail' | 'none';
  /** The restore drills of the control plane's own database in the period (none: said as a gap). */
  databaseDrills: 'pass' | 'fail' | 'none';
  /** What is not tested at all, said beside the verdict rather than hidden (GKE restores). */
  gaps: readonly string[];
  /** Days of the trend with no verify-backups run. */
  daysWithoutRun: readonly string[];
  /** CC8.1: the commits applied in the period whose change review failed (or could not be read), by commit id. */
  failingCommits: readonly string[];
}

export interface Verdict {
  outcome: 'pass' | 'fail';
  /** Why it fails, each naming its section; [] when it passes. */
  reasons: string[];
  /** Known gaps in what the controls cover, listed with the verdict whatever it is. */
  gaps: string[];
}

export function verdictOf(facts: VerdictFacts): Verdict {
  const reasons: string[] = [];
  if (!facts.complete) reasons.push(`the run is incomplete (Status): ${facts.problems.join('; ') || 'not every planned instance was checked'}`);
  if (facts.instanceFailures > 0) reasons.push(`${facts.instanceFailures} instance(s) failed a control (Failures)`);
  if (facts.notChecked > 0) reasons.push(`${facts.notChecked} planned instance(s) were not checked (Coverage, Failures)`);
  if (facts.notPlanned > 0) reasons.push(`${facts.notPlanned} instance(s) were checked but not planned (Coverage)`);
  if (facts.schedules === 'missing') reasons.push('the schedules were not checked (Schedules)');
  else if (facts.schedules === 'fail') reasons.push(`the schedules control failed: ${facts.failingSchedules.join(', ') || 'see Schedules'} (Schedules, Failures)`);
  if (facts.access === 'fail') reasons.push('the access control failed (Access, Failures)');
  if (facts.daysWithoutRun.length > 0) reasons.push(`${facts.daysWithoutRun.length} day(s) had no verify-backups run: ${facts.daysWithoutRun.slice(0, 5).join(', ')}${facts.daysWithoutRun.length > 5 ? ', …' : ''} (Trend)`);
  if (facts.failingCommits.length > 0) {
    const shown = facts.failingCommits.slice(0, 5).map((c) => c.slice(0, 12));
    reasons.push(`CC8.1: ${facts.failingCommits.length} applied commit(s) without a reviewed, approved and protected merge: ${shown.join(', ')}${facts.failingCommits.length > 5 ? ', …' : ''} (Changes, Failures)`);
  }
  if (facts.drills === 'fail') reasons.push('a restore drill of the last 30 days failed (Restore drills, Failures)');
  else if (facts.drills === 'none') reasons.push('no restore drill finished in the last 30 days (Restore drills)');
  if (facts.databaseDrills === 'fail') reasons.push("a restore drill of the control plane's own database in the last 30 days failed (Restore drills, Failures)");
  return { outcome: reasons.length === 0 ? 'pass' : 'fail', reasons, gaps: [...facts.gaps] };
}

/** The report's one verdict: it passes exactly when every section it summarises passes, and each reason names its section. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHANGE_CONTROL, criteriaOf, daysWithoutRun, INSTANCE_CONTROL_IDS, verdictOf, type VerdictFacts } from '../../../shared/domain/compliance/index.js';

const facts = fc.record<VerdictFacts>({
  complete: fc.boolean(),
  problems: fc.array(fc.string({ minLength: 1, maxLength: 20 }), { maxLength: 2 }),
  instanceFailures: fc.nat(5),
  notChecked: fc.nat(3),
  notPlanned: fc.nat(3),
  schedules: fc.constantFrom('pass', 'fail', 'missing'),
  failingSchedules: fc.array(fc.constantFrom('schedule.restore-drill', 'schedule.reconcile'), { maxLength: 2 }),
  access: fc.constantFrom('pass', 'fail'),
  drills: fc.constantFrom('pass', 'fail', 'none'),
  databaseDrills: fc.constantFrom('pass', 'fail', 'none'),
  gaps: fc.array(fc.constantFrom('GKE restores are not drilled'), { maxLength: 1 }),
  daysWithoutRun: fc.array(fc.constantFrom('2026-11-02', '2026-11-03'), { maxLength: 2 }),
  failingCommits: fc.array(fc.constantFrom('a'.repeat(40), 'b'.repeat(40)), { maxLength: 2 }),
});

describe('the verdict', () => {
  it('passes exactly when the run is complete and every count, the schedules, access and the drills are clean (a database never drilled is a gap, not a reason)', () => {
    fc.assert(
      fc.property(facts, (f) => {
        const clean = f.complete && f.instanceFailures === 0 && f.notChecked === 0 && f.notPlanned === 0 && f.schedules === 'pass' && f.access === 'pass' && f.drills === 'pass' && f.databaseDrills !== 'fail' && f.daysWithoutRun.length === 0 && f.failingCommits.length === 0;
        const verdict = verdictOf(f);
        expect(verdict.outcome).toBe(clean ? 'pass' : 'fail');
        expect(verdict.reasons.length === 0).toBe(clean);
        // Every reason points at the section that shows it.
        for (const reason of verdict.reasons) expect(reason).toMatch(/\((Status|Failures|Coverage|Schedules|Access|Restore drills|Trend|Changes)[^)]*\)/);
        // A known gap is said whatever the verdict, and never passes for a reason.
        expect(verdict.gaps).toEqual(f.gaps);
      }),
    );
  });

  it('names CC8.1 and each commit whose change review failed', () => {
    const verdict = verdictOf({ complete: true, problems: [], instanceFailures: 0, notChecked: 0, notPlanned: 0, schedules: 'pass', failingSchedules: [], access: 'pass', drills: 'pass', databaseDrills: 'pass', gaps: [], daysWithoutRun: [], failingCommits: ['c'.repeat(40)] });
    expect(verdict).toEqual({ outcome: 'fail', reasons: [`CC8.1: 1 applied commit(s) without a reviewed, approved and protected merge: ${'c'.repeat(12)} (Changes, Failures)`], gaps: [] });
  });

  it('names the failing schedules', () => {
    const verdict = verdictOf({ complete: true, problems: [], instanceFailures: 0, notChecked: 0, notPlanned: 0, schedules: 'fail', failingSchedules: ['schedule.restore-drill'], access: 'pass', drills: 'pass', databaseDrills: 'pass', gaps: [], daysWithoutRun: [], failingCommits: [] });
    expect(verdict).toEqual({ outcome: 'fail', reasons: ['the schedules control failed: schedule.restore-drill (Schedules, Failures)'], gaps: [] });
  });

  it('finds every day without a run, from the first run through the reported day', () => {
    expect(daysWithoutRun(['2026-11-01T02:00:00.000Z', '2026-11-03T02:00:00.000Z', '2026-11-03T14:00:00.000Z', '2026-11-06T02:00:00.000Z'], new Date('2026-11-06T02:00:00Z'))).toEqual(['2026-11-02', '2026-11-04', '2026-11-05']);
    expect(daysWithoutRun([], new Date('2026-11-06T02:00:00Z'))).toEqual([]);
    // A day before the first run is before the control existed; the reported day counts.
    expect(daysWithoutRun(['2026-11-05T02:00:00.000Z'], new Date('2026-11-07T00:00:00Z'))).toEqual(['2026-11-06', '2026-11-07']);
  });

  it('maps every instance control to a criterion', () => {
    for (const control of INSTANCE_CONTROL_IDS) expect(criteriaOf(control).soc2.length + criteriaOf(control).tsc.length, control).toBeGreaterThan(0);
    expect(criteriaOf('schedule.restore-drill').tsc).toEqual(['A1.3']);
    expect(criteriaOf(CHANGE_CONTROL).tsc).toEqual(['CC8.1']);
  });
});

/** The drill of the control plane's database, its decisions without I/O: when to start, which backup, what counts as equal. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chooseBackup,
  compareRecords,
  comparisonProblems,
  comparisonWindow,
  drillIdentity,
  nextDrillStep,
  DATABASE_DRILL_EVERY_MS,
  DATABASE_DRILL_RETRY_MS,
  DATABASE_RESTORE_TIMEOUT_MS,
  type ComparedRecord,
  type DatabaseDrill,
} from '../../../shared/domain/compliance/database-drill.js';
import type { DatabaseBackup } from '../../../shared/ports.js';
import { auditId, auditIdTime } from '../../../shared/store/records.js';

const NOW = new Date('2026-12-03T04:00:00.000Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

function drill(overrides: Partial<DatabaseDrill>): DatabaseDrill {
  return { drillId: 'db-1', startedBy: 'run', startedAt: ago(3_600_000), phase: 'done', backup: null, databaseId: 'drill-1', restoreOperation: null, deleteOperation: null, outcome: null, deletedAt: null, updatedAt: ago(0), ...overrides };
}

function backup(id: string, overrides: Partial<DatabaseBackup> = {}): DatabaseBackup {
  return { name: `projects/p/locations/nam5/backups/${id}`, database: 'projects/p/databases/(default)', snapshotTime: ago(3_600_000), expireTime: new Date(NOW.getTime() + 86_400_000).toISOString(), state: 'READY', ...overrides };
}

describe('when a drill of the database starts and moves on', () => {
  it('starts when there has been none, a week after a pass, a day after a failure', () => {
    expect(nextDrillStep(undefined, NOW).kind).toBe('start');
    const passed = { result: 'pass' as const, at: ago(0), problems: [], compared: null, restoreSeconds: 60 };
    expect(nextDrillStep(drill({ startedAt: ago(DATABASE_DRILL_EVERY_MS - 60_000), outcome: passed }), NOW).kind).toBe('wait');
    expect(nextDrillStep(drill({ startedAt: ago(DATABASE_DRILL_EVERY_MS), outcome: passed }), NOW).kind).toBe('start');
    const failed = { ...passed, result: 'fail' as const, problems: ['x'] };
    expect(nextDrillStep(drill({ startedAt: ago(DATABASE_DRILL_RETRY_MS - 60_000), outcome: failed }), NOW).kind).toBe('wait');
    expect(nextDrillStep(drill({ startedAt: ago(DATABASE_DRILL_RETRY_MS), outcome: failed }), NOW).kind).toBe('start');
  });

  it('follows a restore until its deadline, then gives up; a drill being deleted is deleted, never started over', () => {
    expect(nextDrillStep(drill({ phase: 'restoring', startedAt: ago(DATABASE_RESTORE_TIMEOUT_MS) }), NOW).kind).toBe('follow-restore');
    expect(nextDrillStep(drill({ phase: 'restoring', startedAt: ago(DATABASE_RESTORE_TIMEOUT_MS + 1) }), NOW)).toMatchObject({ kind: 'give-up', problem: expect.stringContaining('did not finish') as unknown });
    expect(nextDrillStep(drill({ phase: 'deleting', startedAt: ago(30 * DATABASE_DRILL_EVERY_MS) }), NOW).kind).toBe('delete');
  });

  it('names scratch databases as databases.restore requires, with the prefix the delete grant is conditioned on', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('2000-01-01'), max: new Date('2999-12-31'), noInvalidDate: true }), (at) => {
        const { drillId, databaseId } = drillIdentity(at);
        expect(databaseId).toMatch(/^drill-[a-z0-9-]{2,57}[a-z0-9]$/);
        expect(databaseId.length).toBeLessThanOrEqual(63);
        expect(drillId).not.toBe(databaseId);
      }),
    );
  });
});

describe("a database's first record, from its audit id", () => {
  it('an audit id gives back the moment it was made at; anything else none', () => {
    fc.assert(fc.property(fc.date({ min: new Date('2000-01-01'), max: new Date('2999-12-31'), noInvalidDate: true }), (at) => {
        expect(auditIdTime(auditId(at))?.toISOString()).toBe(at.toISOString());
      }),
    );
    expect(auditIdTime('not-an-audit-id')).toBeNull();
  });
});

describe('which backup a drill restores', () => {
  it('the newest ready, unexpired backup of the default database', () => {
    const chosen = chooseBackup(
      [
        backup('old', { snapshotTime: ago(2 * 86_400_000) }),
        backup('new', { snapshotTime: ago(3_600_000) }),
        backup('newest-creating', { snapshotTime: ago(60_000), state: 'CREATING' }),
        backup('other-db', { snapshotTime: ago(1_000), database: 'projects/p/databases/drill-x' }),
        backup('expired', { snapshotTime: ago(30_000), expireTime: ago(1) }),
      ],
      'p',
      NOW,
    );
    expect(chosen).toEqual({ backup: expect.objectContaining({ name: 'projects/p/locations/nam5/backups/new' }) as unknown });
  });

  it('waits while the only backup is being taken; says so when there is none or none usable', () => {
    expect(chooseBackup([backup('b', { state: 'CREATING' })], 'p', NOW)).toMatchObject({ wait: expect.stringContaining('being taken') as unknown });
    // No backup is a failure once the first daily one was due: a day after the database's first record.
    expect(chooseBackup([], 'p', NOW, new Date(NOW.getTime() - 24 * 3_600_000))).toMatchObject({ wait: expect.stringContaining('not due') as unknown });
    expect(chooseBackup([], 'p', NOW, null)).toMatchObject({ wait: expect.stringContaining('holds none') as unknown });
    expect(chooseBackup([], 'p', NOW, new Date(NOW.getTime() - 26 * 3_600_000))).toMatchObject({ problem: expect.stringContaining('not being taken') as unknown });
    expect(chooseBackup([backup('b', { state: 'NOT_AVAILABLE' })], 'p', NOW)).toMatchObject({ problem: expect.stringContaining('b is NOT_AVAILABLE') as unknown });
  });
});

describe('what the drill compares', () => {
  it('24 hours that ended a settle time before the snapshot', () => {
    expect(comparisonWindow('2026-12-03T02:00:00.000Z', 15 * 60_000)).toEqual({ from: '2026-12-02T01:45:00.000Z', to: '2026-12-03T01:45:00.000Z' });
  });

  const record = fc.record({ path: fc.stringMatching(/^audit\/[a-z0-9]{1,6}$/), digest: fc.option(fc.stringMatching(/^[a-f0-9]{4}$/), { nil: null }) });
  const records = fc.uniqueArray(record, { selector: (r) => r.path, maxLength: 30 });
  const window = { from: ago(86_400_000), to: ago(0) };

  it('a restored set equal to the live one passes; every record lost, deleted since, or edited since is counted and named', () => {
    fc.assert(
      fc.property(records, fc.nat(), fc.nat(), fc.nat(), (live, lose, extra, edit) => {
        fc.pre(live.length > 0);
        expect(comparisonProblems(compareRecords(window, { audit: live }, { audit: live }))).toEqual([]);
        const lost = live[lose % live.length];
        if (lost === undefined) return;
        const restored: ComparedRecord[] = live.filter((r) => r !== lost);
        const gone: ComparedRecord = { path: `audit/deleted-${extra}`, digest: 'dead' };
        restored.push(gone);
        const changed = live.find((r) => r !== lost && r.digest !== null && (edit % 2 === 0 || live.length === 1));
        const restoredEdited = restored.map((r) => (r === changed ? { ...r, digest: `${r.digest ?? ''}x` } : r));
        const result = compareRecords(window, { audit: live }, { audit: restoredEdited });
        expect([result.missing, result.missingCount]).toEqual([[lost.path], 1]);
        expect([result.extra, result.extraCount]).toEqual([[gone.path], 1]);
        expect(result.differingCount).toBe(changed === undefined ? 0 : 1);
        expect(result.counts.audit).toEqual({ live: live.length, restored: live.length });
        const problems = comparisonProblems(result).join(' ');
        expect(problems).toContain(lost.path);
        expect(problems).toContain(gone.path);
      }),
    );
  });

  it('a window with nothing in it is a failure: a drill that compares nothing proves nothing', () => {
    expect(comparisonProblems(compareRecords(window, { audit: [] }, { audit: [] }))).toEqual([expect.stringContaining('proves nothing') as unknown]);
  });
});

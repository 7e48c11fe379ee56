import { describe, expect, it } from 'vitest';
import { checkCloudSql, checkExpiry, checkGke, checkSchedules, outcomeOf } from '../../../shared/domain/compliance/checks.js';
import { compareIdSets, completenessProblems, cutPage, planGaps, unconfirmedWrites, verifyPlan, type IdRange } from '../../../shared/domain/compliance/plan.js';
import { compactTime, cronSlotContaining, deterministicEventId, manualRunId, scheduledRunId } from '../../../shared/domain/compliance/run-key.js';
import { decideRetention, extendedExpiry, rotatingSample } from '../../../shared/domain/compliance/retention.js';
import { remediatePlan, restoreDrillPlan } from '../../../shared/domain/lifecycle/plans.js';
import type { GkeBackup, GkeBackupPlan, SchedulerJob, SqlBackupRun, SqlInstance } from '../../../shared/ports.js';
import { SCHEDULES } from '../../../shared/topology.js';

const AS_OF = new Date('2026-11-26T10:00:00Z');
const hoursAgo = (h: number) => new Date(AS_OF.getTime() - h * 3_600_000).toISOString();

function sqlInstance(change: Partial<SqlInstance['settings']['backupConfiguration']> = {}): SqlInstance {
  return {
    name: 'x-db',
    project: 'mi-x',
    region: 'us-central1',
    databaseVersion: 'POSTGRES_16',
    state: 'RUNNABLE',
    settings: {
      tier: 'db-custom-2-7680',
      backupConfiguration: { enabled: true, startTime: '03:00', pointInTimeRecoveryEnabled: true, transactionLogRetentionDays: 7, backupRetentionSettings: { retentionUnit: 'COUNT', retainedBackups: 7 }, ...change },
    },
  };
}

function run(id: string, endHoursAgo: number, extra: Partial<SqlBackupRun> = {}): SqlBackupRun {
  return { kind: 'sql#backupRun', id, instance: 'x-db', status: 'SUCCESSFUL', type: 'AUTOMATED', enqueuedTime: hoursAgo(endHoursAgo + 1), endTime: hoursAgo(endHoursAgo), ...extra };
}

const failing = (results: ReturnType<typeof checkCloudSql>) => results.filter((r) => r.status === 'fail').map((r) => r.control);

describe('checkCloudSql: one verdict per control', () => {
  it.each([
    { name: 'compliant', change: {}, runs: [run('2', 6), run('1', 30)], failed: [] },
    { name: 'backups off', change: { enabled: false }, runs: [run('2', 6)], failed: ['sql.automated-backups'] },
    { name: 'PITR off', change: { pointInTimeRecoveryEnabled: false }, runs: [run('2', 6)], failed: ['sql.point-in-time-recovery'] },
    { name: '3 days of logs', change: { transactionLogRetentionDays: 3 }, runs: [run('2', 6)], failed: ['sql.log-retention'] },
    { name: '3 backups kept', change: { backupRetentionSettings: { retentionUnit: 'COUNT' as const, retainedBackups: 3 } }, runs: [run('2', 6)], failed: ['sql.retained-backups'] },
    { name: 'latest automated backup 27 h old', change: {}, runs: [run('2', 27)], failed: ['sql.recent-backup'] },
    { name: 'a recent on-demand backup does not count', change: {}, runs: [run('3', 1, { type: 'ON_DEMAND' }), run('2', 27)], failed: ['sql.recent-backup'] },
    { name: 'a recent failed automated run does not count', change: {}, runs: [run('3', 1, { status: 'FAILED' }), run('2', 30)], failed: ['sql.recent-backup'] },
    { name: 'no backups at all', change: {}, runs: [], failed: ['sql.recent-backup'] },
  ])('$name', ({ change, runs, failed }) => {
    expect(failing(checkCloudSql({ project: 'mi-x', instanceName: 'x-db', instance: sqlInstance(change), runs }, AS_OF))).toEqual(failed);
  });

  it('a missing instance fails once and blocks the rest', () => {
    const results = checkCloudSql({ project: 'mi-x', instanceName: 'x-db', instance: undefined, runs: [] }, AS_OF);
    expect(results.map((r) => r.status)).toEqual(['fail', 'blocked', 'blocked', 'blocked', 'blocked']);
    expect(outcomeOf(results)).toBe('fail');
  });

  it('records the fields read and the backup it judged', () => {
    const [, , , , recent] = checkCloudSql({ project: 'mi-x', instanceName: 'x-db', instance: sqlInstance(), runs: [run('42', 6)] }, AS_OF);
    expect(recent).toMatchObject({ control: 'sql.recent-backup', status: 'pass', evidence: { latestBackupRunId: '42', endTime: hoursAgo(6), ageHours: 6 } });
    expect(recent?.source).toBe('sqladmin backupRuns.list projects/mi-x/instances/x-db');
  });
});

const PLAN = 'projects/mi-x/locations/us-east1/backupPlans/x-daily';
function plan(change: Partial<GkeBackupPlan> = {}): GkeBackupPlan {
  return {
    name: PLAN,
    uid: 'u',
    cluster: 'projects/mi-x/locations/us-central1/clusters/x',
    state: 'READY',
    backupSchedule: { cronSchedule: '0 3 * * *', paused: false },
    retentionPolicy: { backupRetainDays: 90 },
    backupConfig: { allNamespaces: true, includeVolumeData: true, includeSecrets: true },
    ...change,
  };
}
function backup(createdHoursAgo: number, state: GkeBackup['state'] = 'SUCCEEDED'): GkeBackup {
  return { name: `${PLAN}/backups/b${createdHoursAgo}`, uid: 'u', state, manual: false, createTime: hoursAgo(createdHoursAgo), completeTime: hoursAgo(createdHoursAgo - 0.5) };
}

describe('checkGke: one verdict per control', () => {
  it.each([
    { name: 'compliant', plan: plan(), backups: [backup(30), backup(7)], failed: [] },
    { name: 'deactivated', plan: plan({ deactivated: true }), backups: [backup(7)], failed: ['gke.plan-active'] },
    { name: 'weekly', plan: plan({ backupSchedule: { cronSchedule: '0 3 * * 0' } }), backups: [backup(7)], failed: ['gke.daily-schedule'] },
    { name: 'paused', plan: plan({ backupSchedule: { cronSchedule: '0 3 * * *', paused: true } }), backups: [backup(7)], failed: ['gke.daily-schedule'] },
    { name: '30 days kept', plan: plan({ retentionPolicy: { backupRetainDays: 30 } }), backups: [backup(7)], failed: ['gke.retention'] },
    { name: 'no secrets', plan: plan({ backupConfig: { allNamespaces: true, includeVolumeData: true, includeSecrets: false } }), backups: [backup(7)], failed: ['gke.scope'] },
    { name: "in the instance's region", plan: plan({ name: 'projects/mi-x/locations/us-central1/backupPlans/x-daily' }), backups: [backup(7)], failed: ['gke.offsite'] },
    { name: 'last backup failed', plan: plan(), backups: [backup(30), backup(7, 'FAILED')], failed: ['gke.recent-backup'] },
    { name: 'last success 27 h ago', plan: plan(), backups: [backup(28)], failed: ['gke.recent-backup'] },
    { name: 'one in progress does not hide the last finished', plan: plan(), backups: [backup(7), backup(1, 'IN_PROGRESS')], failed: [] },
  ])('$name', ({ plan: p, backups, failed }) => {
    expect(failing(checkGke({ planName: PLAN, plan: p, backups }, 'us-central1', AS_OF))).toEqual(failed);
  });

  it('a missing plan fails once and blocks what depends on it', () => {
    const results = checkGke({ planName: PLAN, plan: undefined, backups: [] }, 'us-central1', AS_OF);
    expect(results.filter((r) => r.status === 'fail').map((r) => r.control)).toEqual(['gke.plan-active']);
    expect(results.filter((r) => r.status === 'blocked')).toHaveLength(5);
  });
});

describe('checkExpiry', () => {
  it.each([
    { env: 'prod' as const, expiresAt: undefined, status: 'not-applicable' },
    { env: 'dev' as const, expiresAt: hoursAgo(-5), status: 'pass' },
    { env: 'dev' as const, expiresAt: hoursAgo(1), status: 'fail' },
    { env: 'dev' as const, expiresAt: undefined, status: 'fail' },
  ])('$env expiring $expiresAt: $status', ({ env, expiresAt, status }) => {
    expect(checkExpiry({ id: 'x', environment: env, ...(expiresAt === undefined ? {} : { expiresAt }) }, AS_OF).status).toBe(status);
  });
});

describe('checkSchedules', () => {
  const parent = 'projects/p/locations/us-central1';
  const jobs = (change: (job: SchedulerJob) => SchedulerJob = (j) => j): SchedulerJob[] =>
    SCHEDULES.map((s) => change({ name: `${parent}/jobs/${s.name}`, schedule: s.cron, timeZone: s.timeZone, state: 'ENABLED', lastAttemptTime: hoursAgo(0.01), status: { code: 0 } }));
  const failed = (list: SchedulerJob[]) => checkSchedules(SCHEDULES, list, parent, AS_OF).filter((r) => r.status === 'fail').map((r) => r.control);

  it('every job present, enabled, recently successful: all pass', () => expect(failed(jobs())).toEqual([]));
  it('a missing job fails', () => expect(failed(jobs().filter((j) => !j.name.endsWith('/verify-backups')))).toEqual(['schedule.verify-backups']));
  it('a paused job fails', () => expect(failed(jobs((j) => (j.name.endsWith('/check-retention') ? { ...j, state: 'PAUSED' } : j)))).toEqual(['schedule.check-retention']));
  it('a failed last attempt fails', () => expect(failed(jobs((j) => (j.name.endsWith('/reconcile') ? { ...j, status: { code: 13, message: 'boom' } } : j)))).toEqual(['schedule.reconcile']));
  it('a job that silently stopped (no run for two periods) fails', () => expect(failed(jobs((j) => (j.name.endsWith('/reconcile') ? { ...j, lastAttemptTime: hoursAgo(1) } : j)))).toEqual(['schedule.reconcile']));
  it('a job that never ran fails', () => {
    const list = jobs((j) => (j.name.endsWith('/restore-drill') ? { name: j.name, schedule: j.schedule, timeZone: j.timeZone, state: 'ENABLED' } : j));
    expect(failed(list)).toEqual(['schedule.restore-drill']);
  });

  // The job's cron and time zone are held to the topology's, and "ran recently" is judged by the topology's cron.
  const edited = (name: string, change: Partial<SchedulerJob>) => jobs((j) => (j.name.endsWith(`/${name}`) ? { ...j, ...change } : j));
  it.each([
    { name: 'cron edited to once a year, ran minutes ago', jobs: edited('verify-backups', { schedule: '0 0 1 1 *' }), failed: ['schedule.verify-backups'] },
    { name: 'cron edited to once a year, last ran on Jan 1 (on time by its own cron)', jobs: edited('verify-backups', { schedule: '0 0 1 1 *', lastAttemptTime: '2026-01-01T00:00:00Z' }), failed: ['schedule.verify-backups'] },
    { name: 'hourly job made daily', jobs: edited('check-retention', { schedule: '15 3 * * *' }), failed: ['schedule.check-retention'] },
    { name: 'time zone moved', jobs: edited('compliance-report', { timeZone: 'America/New_York' }), failed: ['schedule.compliance-report'] },
    { name: 'an unknown time zone', jobs: edited('compliance-report', { timeZone: 'Mars/Olympus' }), failed: ['schedule.compliance-report'] },
    { name: 'the same cron spaced differently passes', jobs: edited('verify-backups', { schedule: ' 0  2 * * * ' }), failed: [] },
    { name: 'UTC spelled another way passes', jobs: edited('verify-backups', { timeZone: 'UTC' }), failed: [] },
  ])('$name', ({ jobs: list, failed: expected }) => expect(failed(list)).toEqual(expected));

  it('an edited cron fails with evidence naming the job, the required and the found values', () => {
    const results = checkSchedules(SCHEDULES, edited('verify-backups', { schedule: '0 0 1 1 *', timeZone: 'Europe/Paris' }), parent, AS_OF);
    const control = results.find((r) => r.control === 'schedule.verify-backups');
    expect(control).toMatchObject({
      status: 'fail',
      evidence: { name: `${parent}/jobs/verify-backups`, schedule: '0 0 1 1 *', 'required.schedule': '0 2 * * *', timeZone: 'Europe/Paris', 'required.timeZone': 'Etc/UTC' },
    });
    expect(control?.summary).toMatch(/verify-backups.*0 0 1 1 \*.*0 2 \* \* \*/);
    expect(control?.summary).toMatch(/Europe\/Paris.*Etc\/UTC/);
  });

  it('"ran recently" is judged against the topology\'s cron: a daily job two days silent fails whatever its own cron says', () => {
    const results = checkSchedules(SCHEDULES, edited('verify-backups', { schedule: '0 0 1 1 *', lastAttemptTime: hoursAgo(60) }), parent, AS_OF);
    expect(results.find((r) => r.control === 'schedule.verify-backups')).toMatchObject({ status: 'fail', evidence: { expectedSince: '2026-11-25T02:00:00.000Z' } });
  });
});

describe('plan coverage: the stretches of ids no page covers', () => {
  const page = (after: string | null, through: string | null, ids: string[] = []) => ({ after, through, ids });
  it.each<{ name: string; pages: Array<{ after?: string | null; through?: string | null; ids: string[] }>; gaps: IdRange[] }>([
    { name: 'no pages: everything', pages: [], gaps: [{ after: null, through: null }] },
    { name: 'one page covering all', pages: [page(null, null, ['a', 'b'])], gaps: [] },
    { name: 'a chain of pages', pages: [page(null, 'd'), page('d', 'h'), page('h', null)], gaps: [] },
    { name: 'the chain, stored in any order', pages: [page('h', null), page(null, 'd'), page('d', 'h')], gaps: [] },
    { name: 'a crashed run: only the first page', pages: [page(null, 'd')], gaps: [{ after: 'd', through: null }] },
    { name: 'a lost page in the middle', pages: [page(null, 'd'), page('h', 'm'), page('m', null)], gaps: [{ after: 'd', through: 'h' }] },
    { name: 'a lost middle page and a missing end', pages: [page(null, 'd'), page('h', 'm')], gaps: [{ after: 'd', through: 'h' }, { after: 'm', through: null }] },
    { name: 'the first page lost', pages: [page('d', null)], gaps: [{ after: null, through: 'd' }] },
    { name: 'overlapping pages of two workers', pages: [page(null, 'f'), page('d', 'k'), page('k', null)], gaps: [] },
    { name: 'a page inside another', pages: [page(null, 'z'), page('c', 'e'), page('z', null)], gaps: [] },
    { name: 'a page of an older version covers nothing', pages: [{ ids: ['a', 'b'] }, page('d', null)], gaps: [{ after: null, through: 'd' }] },
    { name: 'an inverted page covers nothing', pages: [page(null, 'd'), page('k', 'e'), page('k', null)], gaps: [{ after: 'd', through: 'k' }] },
  ])('$name', ({ pages, gaps }) => {
    expect(planGaps(pages)).toEqual(gaps);
  });

  it.each<{ name: string; gap: IdRange; ids: string[]; page: IdRange & { ids: string[] }; rest: IdRange | null }>([
    { name: 'a full page leaves the rest of an open gap', gap: { after: null, through: null }, ids: ['a', 'b', 'c'], page: { after: null, through: 'c', ids: ['a', 'b', 'c'] }, rest: { after: 'c', through: null } },
    { name: 'a short page closes an open gap', gap: { after: 'c', through: null }, ids: ['d'], page: { after: 'c', through: null, ids: ['d'] }, rest: null },
    { name: 'nothing left: an empty page closes the gap', gap: { after: 'c', through: null }, ids: [], page: { after: 'c', through: null, ids: [] }, rest: null },
    { name: 'a page that runs past a bounded gap is cut at its bound', gap: { after: 'b', through: 'e' }, ids: ['c', 'e', 'f'], page: { after: 'b', through: 'e', ids: ['c', 'e'] }, rest: null },
    { name: 'a full page inside a bounded gap leaves the rest', gap: { after: 'b', through: 'k' }, ids: ['c', 'd', 'e'], page: { after: 'b', through: 'e', ids: ['c', 'd', 'e'] }, rest: { after: 'e', through: 'k' } },
    { name: 'a full page ending on the bound closes it', gap: { after: 'b', through: 'e' }, ids: ['c', 'd', 'e'], page: { after: 'b', through: 'e', ids: ['c', 'd', 'e'] }, rest: null },
    { name: 'instances deleted since: the gap closes empty', gap: { after: 'b', through: 'e' }, ids: ['x', 'y', 'z'], page: { after: 'b', through: 'e', ids: [] }, rest: null },
  ])('cutPage: $name', ({ gap, ids, page, rest }) => {
    expect(cutPage(gap, ids, 3)).toEqual({ page, rest });
  });

  it('pages cut from a gap, one after another, cover it exactly', () => {
    const all = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const pages = [];
    let rest: IdRange | null = { after: null, through: null };
    while (rest !== null) {
      const from: string | null = rest.after;
      const cut = cutPage(rest, all.filter((id) => from === null || id > from).slice(0, 3), 3);
      pages.push(cut.page);
      rest = cut.rest;
    }
    expect(pages.map((p) => p.ids)).toEqual([['a', 'b', 'c'], ['d', 'e', 'f'], ['g']]);
    expect(verifyPlan(pages)).toEqual({ ids: all, gaps: [], covered: true });
  });

  it('a plan is the union of its pages, each id once', () => {
    expect(verifyPlan([page(null, 'c', ['a', 'c']), page('b', null, ['c', 'd'])])).toEqual({ ids: ['a', 'c', 'd'], gaps: [], covered: true });
  });

  it('a page that did not read back as written is unconfirmed; one rewritten by another worker is theirs', () => {
    const written = [
      { path: 'p/first', ids: ['a', 'b'] },
      { path: 'p/after-b', ids: ['c', 'd'] },
      { path: 'p/after-d', ids: ['e'] },
      { path: 'p/after-e', ids: ['f'] },
    ];
    const readBack = new Map([
      ['p/first', { ids: ['a', 'b'], plannedBy: 'me' }],
      ['p/after-b', { ids: ['c'], plannedBy: 'me' }],
      ['p/after-d', { ids: ['e', 'e2'], plannedBy: 'other' }],
    ]);
    expect(unconfirmedWrites(written, readBack, 'me')).toEqual(['p/after-b', 'p/after-e']);
  });
});

describe('coverage: the planned and checked id sets', () => {
  it.each([
    { name: 'equal sets', planned: ['a', 'b', 'c'], checked: ['c', 'b', 'a'], notChecked: [], notPlanned: [], matches: true },
    { name: 'one never checked', planned: ['a', 'b', 'c'], checked: ['a', 'c'], notChecked: ['b'], notPlanned: [], matches: false },
    { name: 'one checked, never planned', planned: ['a', 'b'], checked: ['a', 'b', 'z'], notChecked: [], notPlanned: ['z'], matches: false },
    { name: 'equal counts, different sets (what counting missed)', planned: ['a', 'b', 'c'], checked: ['a', 'c', 'z'], notChecked: ['b'], notPlanned: ['z'], matches: false },
    { name: 'nothing planned, nothing checked', planned: [], checked: [], notChecked: [], notPlanned: [], matches: true },
    { name: 'duplicates count once', planned: ['a', 'a', 'b'], checked: ['b', 'a', 'b'], notChecked: [], notPlanned: [], matches: true },
  ])('$name', ({ planned, checked, notChecked, notPlanned, matches }) => {
    expect(compareIdSets(planned, checked)).toMatchObject({ plannedNotChecked: notChecked, checkedNotPlanned: notPlanned, matches });
  });

  const plan = (ids: string[], covered = true) => ({ ids, gaps: covered ? [] : [{ after: 'b', through: 'd' }], covered });
  it.each([
    { name: 'done, covered, sets equal: complete', status: 'done' as const, recorded: 2, plan: plan(['a', 'b']), checked: ['a', 'b'], problems: [] },
    { name: 'still planning', status: 'planning' as const, recorded: null, plan: plan(['a', 'b']), checked: ['a', 'b'], problems: ['the run has not finished planning and fanning out'] },
    { name: 'a gap in the plan', status: 'done' as const, recorded: 2, plan: plan(['a', 'b'], false), checked: ['a', 'b'], problems: ['the plan leaves 1 stretch(es) of instance ids uncovered: (b, d]'] },
    { name: 'recorded count and pages disagree', status: 'done' as const, recorded: 3, plan: plan(['a', 'b']), checked: ['a', 'b'], problems: ['the run recorded 3 instances planned, its plan pages hold 2'] },
    {
      name: 'one unchecked, one unplanned',
      status: 'done' as const,
      recorded: 2,
      plan: plan(['a', 'b']),
      checked: ['a', 'z'],
      problems: ['1 planned instance(s) were never checked', '1 instance(s) were checked but not planned'],
    },
  ])('$name', ({ status, recorded, plan: p, checked, problems }) => {
    expect(completenessProblems({ status, recordedPlanned: recorded, plan: p, coverage: compareIdSets(p.ids, checked) })).toEqual(problems);
  });
});

describe('run keys: the cron slot containing the publish time', () => {
  it.each([
    { cron: '0 2 * * *', at: '2026-11-26T10:00:00Z', start: '2026-11-26T02:00:00.000Z', end: '2026-11-27T02:00:00.000Z' },
    { cron: '0 2 * * *', at: '2026-11-26T02:00:00Z', start: '2026-11-26T02:00:00.000Z', end: '2026-11-27T02:00:00.000Z' },
    { cron: '0 2 * * *', at: '2026-11-26T01:59:59Z', start: '2026-11-25T02:00:00.000Z', end: '2026-11-26T02:00:00.000Z' },
    { cron: '15 * * * *', at: '2026-11-26T10:14:00Z', start: '2026-11-26T09:15:00.000Z', end: '2026-11-26T10:15:00.000Z' },
    { cron: '0 4 * * 1', at: '2026-11-26T10:00:00Z', start: '2026-11-23T04:00:00.000Z', end: '2026-11-30T04:00:00.000Z' },
  ])('$cron at $at is the slot from $start', ({ cron, at, start, end }) => {
    const slot = cronSlotContaining(cron, 'Etc/UTC', new Date(at));
    expect(slot.start.toISOString()).toBe(start);
    expect(slot.end.toISOString()).toBe(end);
  });

  it('two triggers in one slot have one run id; the next slot another', () => {
    const a = scheduledRunId('verify-backups', cronSlotContaining('0 2 * * *', 'Etc/UTC', new Date('2026-11-26T02:00:03Z')));
    const b = scheduledRunId('verify-backups', cronSlotContaining('0 2 * * *', 'Etc/UTC', new Date('2026-11-26T02:09:00Z')));
    const c = scheduledRunId('verify-backups', cronSlotContaining('0 2 * * *', 'Etc/UTC', new Date('2026-11-27T02:00:01Z')));
    expect(a).toBe('verify-backups-20261126t0200z');
    expect(b).toBe(a);
    expect(c).toBe('verify-backups-20261127t0200z');
  });

  it('run ids and event ids are stable and well-formed', () => {
    expect(compactTime(new Date('2026-01-02T03:04:05.678Z'))).toBe('20260102t0304z');
    expect(manualRunId('verify-backups', '0B6D1A8E-3f43-4f4e-9d55-2f1c0d7a9b11')).toBe('verify-backups-manual-0b6d1a8e3f43');
    expect(deterministicEventId('k')).toBe(deterministicEventId('k'));
    expect(deterministicEventId('k')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(deterministicEventId('k')).not.toBe(deterministicEventId('l'));
  });
});

describe('retention decisions', () => {
  const now = AS_OF;
  it.each([
    { name: 'prod is never deleted', instance: { environment: 'prod' as const, status: 'active' as const, expiresAt: hoursAgo(1000) }, kind: 'none' },
    { name: 'dev with days left', instance: { environment: 'dev' as const, status: 'active' as const, expiresAt: hoursAgo(-48) }, kind: 'none' },
    { name: 'dev within 24 h: notice', instance: { environment: 'dev' as const, status: 'active' as const, expiresAt: hoursAgo(-10) }, kind: 'notify' },
    { name: 'dev just expired, within grace: notice', instance: { environment: 'dev' as const, status: 'active' as const, expiresAt: hoursAgo(2) }, kind: 'notify' },
    { name: 'dev past expiry and grace: delete', instance: { environment: 'dev' as const, status: 'active' as const, expiresAt: hoursAgo(25) }, kind: 'delete' },
    { name: 'dev already deleting', instance: { environment: 'dev' as const, status: 'deleting' as const, expiresAt: hoursAgo(25) }, kind: 'none' },
  ])('$name', ({ instance, kind }) => {
    expect(decideRetention(instance, now).kind).toBe(kind);
  });

  it('extends from the expiry, or from now once passed', () => {
    expect(extendedExpiry(hoursAgo(-5), 10, now)).toBe(hoursAgo(-15));
    expect(extendedExpiry(hoursAgo(5), 10, now)).toBe(hoursAgo(-10));
  });

  it('the drill sample rotates through every instance', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const seen = new Set([0, 1, 2].flatMap((week) => rotatingSample(ids, week, 2)));
    expect(rotatingSample(ids, 0, 2)).toEqual(['a', 'b']);
    expect(rotatingSample(ids, 1, 2)).toEqual(['c', 'd']);
    expect(rotatingSample(ids, 2, 2)).toEqual(['e', 'a']);
    expect(seen.size).toBe(5);
    expect(rotatingSample([], 3, 2)).toEqual([]);
  });
});

describe('plans of remediation and drill', () => {
  it('remediates only what drifted, then verifies', () => {
    expect(remediatePlan(['sql.point-in-time-recovery']).map((s) => s.kind)).toEqual(['sql-configure-backups', 'verify-backup-policy']);
    expect(remediatePlan(['gke.retention']).map((s) => s.kind)).toEqual(['gke-ensure-backup-plan', 'verify-backup-policy']);
  });
  it('a drill deletes its throwaway before the verdict, and touches nothing of the instance', () => {
    const steps = restoreDrillPlan('x-db-drill-1');
    expect(steps.map((s) => s.name)).toEqual(['create-throwaway', 'restore-latest-backup', 'sanity-check', 'delete-throwaway', 'verdict']);
    expect(steps.every((s) => s.destructive !== true)).toBe(true);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, renderReport, type Compliance, type ComplianceRun, type Finding } from '../../../shared/compliance/index.js';
import { DATABASE_NOT_DRILLED, GKE_NOT_DRILLED } from '../../../shared/compliance/report.js';
import { SQL_BACKUP_POLICY } from '../../../shared/domain/lifecycle/backup-policy.js';
import type { OperationRecord } from '../../../shared/domain/lifecycle/operations.js';
import { SCHEDULES, TOPICS } from '../../../shared/topology.js';
import { createEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { complianceOn, scheduleDelivery, seedWithFault, Tap, type Fault } from './support.js';
import { compliancePaths, paths } from '../../../shared/store/collections.js';
import { deliver } from '../../../shared/edge.js';
import { makeEnvelope } from '../../../shared/events/index.js';
import { manualRunId } from '../../../shared/domain/compliance/run-key.js';
import { pubSubCloudEvent } from '../../../harness/cloud-event.js';
import { complianceCheckRoute, complianceScheduleRoute, lifecycleRoute } from '../../../shared/routes.js';

const PARENT = 'projects/demo-compliance/locations/us-central1';

/** Each fault, and exactly the controls its finding must fail. */
const FAULTS: ReadonlyArray<{ id: string; fault: Fault; failed: string[]; blocked?: string[]; remediated?: boolean }> = [
  { id: 'ok-one', fault: 'healthy', failed: [] },
  { id: 'ok-two', fault: 'healthy', failed: [] },
  { id: 'f-backups-off', fault: 'backups-off', failed: ['sql.automated-backups'], remediated: true },
  { id: 'f-pitr-off', fault: 'pitr-off', failed: ['sql.point-in-time-recovery'], remediated: true },
  { id: 'f-stale-backup', fault: 'stale-backup', failed: ['sql.recent-backup'] },
  { id: 'f-wrong-retention', fault: 'wrong-retention', failed: ['sql.retained-backups'], remediated: true },
  {
    id: 'f-missing-plan',
    fault: 'missing-gke-plan',
    failed: ['gke.plan-active'],
    blocked: ['gke.daily-schedule', 'gke.retention', 'gke.scope', 'gke.offsite', 'gke.recent-backup'],
  },
  { id: 'f-own-region', fault: 'gke-own-region', failed: ['gke.offsite'] },
  { id: 'f-failed-gke', fault: 'failed-gke-backup', failed: ['gke.recent-backup'] },
  { id: 'f-expired-dev', fault: 'expired-dev', failed: ['dev.expiry'] },
];

describe('verify-backups: a fleet with one fault per instance, through the real check path', () => {
  let f: EngineFixture;
  let compliance: Compliance;
  let checks: Tap;
  let lifecycle: Tap;
  const runId = 'verify-backups-20261126t0200z';

  beforeAll(async () => {
    f = await createEngineFixture(import.meta.url);
    checks = await Tap.open(f, TOPICS.checks);
    lifecycle = await Tap.open(f, TOPICS.lifecycle);
    for (const { id, fault } of FAULTS) await seedWithFault(f, id, fault);
    // Every job of the topology, run recently and successfully, except one that was paused.
    f.fleet.scheduler.seedTopology('demo-compliance', 'us-central1');
    for (const s of SCHEDULES) f.fleet.scheduler.setLastAttempt(`${PARENT}/jobs/${s.name}`, { code: 0 }, new Date(f.clock.now().getTime() - 30_000));
    f.fleet.scheduler.pauseJob(`${PARENT}/jobs/restore-drill`);
    compliance = complianceOn(f, PARENT, { pageSize: 4 });
  });

  afterAll(async () => {
    await checks.close();
    await lifecycle.close();
    await f.close();
  });

  it('a duplicated trigger for the same slot gives one run, not two', async () => {
    const first = await deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'verify-backups', new Date('2026-11-26T10:00:00Z')));
    const second = await deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'verify-backups', new Date('2026-11-26T10:05:00Z')));
    expect(first).toMatchObject({ kind: 'fanned-out', result: { runId, planned: FAULTS.length, pages: 3 } });
    expect(second).toMatchObject({ kind: 'duplicate', runId });
    const runs = await f.store.query<ComplianceRun>({ collection: 'complianceRuns', where: [{ field: 'schedule', op: '==', value: 'verify-backups' }] });
    expect(runs.map((r) => r.id)).toEqual([runId]);
    expect(runs[0]?.data).toMatchObject({ status: 'done', planned: FAULTS.length, trigger: 'schedule', slotStart: '2026-11-26T02:00:00.000Z' });
  });

  it('publishes one message per instance and one for the schedules; a planned instance without a finding is reported as not checked', async () => {
    const delivered = await checks.take(FAULTS.length + 1);
    expect(delivered).toHaveLength(FAULTS.length + 1);
    // Deliver all but one, as the push subscription would, then look at the report.
    const held = delivered.find((e) => (JSON.parse(Buffer.from(e.data.message.data, 'base64').toString('utf8')) as { instanceId?: string }).instanceId === 'ok-two');
    for (const event of delivered) if (event !== held) expect((await deliver(compliance.deps, complianceCheckRoute(compliance), event)).kind).toBe('written');
    const run = await f.store.get<ComplianceRun>(compliancePaths.run(runId));
    if (run === undefined || held === undefined) throw new Error('no run');
    const partial = await buildReport(f.store, run, f.clock.now());
    expect(partial.summary).toMatchObject({ planned: FAULTS.length, checked: FAULTS.length - 1, notChecked: 1, complete: false });
    expect(partial.failures.find((x) => x.instanceId === 'ok-two')).toMatchObject({ notChecked: true });
    expect(renderReport(partial, 'md')).toContain('**ok-two**: NOT CHECKED');
    // The held message arrives, twice (a redelivery): one finding.
    expect((await deliver(compliance.deps, complianceCheckRoute(compliance), held)).kind).toBe('written');
    expect((await deliver(compliance.deps, complianceCheckRoute(compliance), held)).kind).toBe('duplicate');
  });

  it.each(FAULTS)('$id ($fault) gives exactly its failing controls, with evidence', async ({ id, failed, blocked, remediated }) => {
    const finding = await f.store.get<Finding>(compliancePaths.finding(runId, id));
    expect(finding?.outcome).toBe(failed.length === 0 ? 'pass' : 'fail');
    expect(finding?.failedControls).toEqual(failed);
    expect(finding?.blockedControls).toEqual(blocked ?? []);
    for (const control of finding?.controls ?? []) {
      expect(control.source, control.control).toMatch(/^(sqladmin|gkebackup|firestore) /);
      expect(Object.keys(control.evidence).length, control.control).toBeGreaterThan(0);
    }
    expect(finding?.remediation !== null).toBe(remediated === true);
  });

  it('records the API fields, backup ids and times read', async () => {
    const stale = await f.store.get<Finding>(compliancePaths.finding(runId, 'f-stale-backup'));
    const recent = stale?.controls.find((c) => c.control === 'sql.recent-backup');
    expect(recent?.evidence).toMatchObject({ type: 'AUTOMATED', status: 'SUCCESSFUL', endTime: '2026-11-25T04:00:00.000Z', ageHours: 30, maxAgeHours: 26 });
    expect(recent?.evidence.latestBackupRunId).toMatch(/^[0-9]+$/);
    const pitr = await f.store.get<Finding>(compliancePaths.finding(runId, 'f-pitr-off'));
    expect(pitr?.controls.find((c) => c.control === 'sql.point-in-time-recovery')?.evidence).toEqual({ 'settings.backupConfiguration.pointInTimeRecoveryEnabled': false });
    const gke = await f.store.get<Finding>(compliancePaths.finding(runId, 'f-failed-gke'));
    expect(gke?.controls.find((c) => c.control === 'gke.recent-backup')?.evidence).toMatchObject({ state: 'FAILED', createTime: '2026-11-26T03:00:00.000Z' });
    const region = await f.store.get<Finding>(compliancePaths.finding(runId, 'f-own-region'));
    expect(region?.controls.find((c) => c.control === 'gke.offsite')?.evidence).toMatchObject({ backupRegion: 'us-central1', instanceRegion: 'us-central1' });
  });

  it('the disabled schedule fails the schedules finding, and only its own control', async () => {
    const schedules = await f.store.get<Finding>(compliancePaths.finding(runId, '_schedules'));
    expect(schedules?.kind).toBe('schedules');
    expect(schedules?.failedControls).toEqual(['schedule.restore-drill']);
    expect(schedules?.controls.find((c) => c.control === 'schedule.restore-drill')?.evidence).toMatchObject({ state: 'PAUSED' });
  });

  it('the report: complete, per control, each failure with its evidence, the trend', async () => {
    const run = await f.store.get<ComplianceRun>(compliancePaths.run(runId));
    if (run === undefined) throw new Error('no run');
    const report = await buildReport(f.store, run, f.clock.now());
    expect(report.summary).toMatchObject({ planned: 10, checked: 10, passed: 2, failed: 8, notChecked: 0, complete: true, schedules: 'fail' });
    expect(report.controls.find((c) => c.control === 'sql.point-in-time-recovery')).toMatchObject({ checked: 10, failed: 1, passed: 9 });
    expect(report.controls.find((c) => c.control === 'dev.expiry')).toMatchObject({ checked: 1, failed: 1 });
    expect(report.failures.map((x) => x.instanceId)).toEqual(FAULTS.filter((x) => x.failed.length > 0).map((x) => x.id).sort());
    expect(report.trend.map((t) => t.runId)).toEqual([runId]);
    const md = renderReport(report, 'md');
    expect(md).toContain('`sql.recent-backup` FAIL');
    expect(md).toContain('`schedule.restore-drill` FAIL');
    expect(renderReport(report, 'html')).toContain('<h2>Failures</h2>');
    expect(JSON.parse(renderReport(report, 'json'))).toMatchObject({ summary: { failed: 8 } });
  });

  it('the report as an auditor reads it: one verdict that agrees with every section, criteria per control, and an identity whose digest is its JSON', async () => {
    const run = await f.store.get<ComplianceRun>(compliancePaths.run(runId));
    if (run === undefined) throw new Error('no run');
    const report = await buildReport(f.store, run, f.clock.now(), { version: '1.2.3', commit: 'a'.repeat(40), project: f.projectId });
    // Eight instances failed and the drill's schedule is paused: the verdict fails, and says both, naming their sections.
    expect(report.verdict.outcome).toBe('fail');
    expect(report.verdict.reasons).toEqual(expect.arrayContaining(['8 instance(s) failed a control (Failures)', 'the schedules control failed: schedule.restore-drill (Schedules, Failures)']));
    const md = renderReport(report, 'md');
    expect(md.split('\n').slice(0, 4).join('\n')).toContain('**Verdict: FAIL**');
    // The Failures section shows every exception the verdict counts: the paused schedule too.
    const failures = md.slice(md.indexOf('## Failures'), md.indexOf('## Trend'));
    expect(failures).toContain('`schedule.restore-drill` FAIL');
    expect(failures).not.toContain('None.');
    // Criteria: backups A1.2 and the seed's CI-79, the drill A1.3, dev expiry CI-100, access CC6.1-CC6.3.
    expect(report.controls.find((c) => c.control === 'sql.recent-backup')?.criteria).toEqual({ soc2: ['CI-79'], tsc: ['A1.2'] });
    expect(report.controls.find((c) => c.control === 'dev.expiry')?.criteria.soc2).toEqual(['CI-100']);
    expect(report.access.criteria.tsc).toEqual(['CC6.1', 'CC6.2', 'CC6.3']);
    expect(md).toContain('| `sql.recent-backup` | CI-79 · A1.2 |');
    expect(md).toContain('`schedule.restore-drill` (CI-79 · A1.3) FAIL');
    for (const c of report.controls) expect(c.criteria.soc2.length + c.criteria.tsc.length, c.control).toBeGreaterThan(0);
    // Identity: who made it, over when, and a digest anyone can check from the JSON form alone.
    const json = JSON.parse(renderReport(report, 'json')) as typeof report;
    expect(json.identity).toMatchObject({ tool: 'mi', version: '1.2.3', commit: 'a'.repeat(40), project: f.projectId, period: { from: run.slotStart, to: run.slotEnd } });
    const { createHash } = await import('node:crypto');
    const recomputed = createHash('sha256').update(JSON.stringify({ ...json, identity: { ...json.identity, digest: '' } })).digest('hex');
    expect(json.identity.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(recomputed).toBe(json.identity.digest);
    // One changed value and the digest no longer matches.
    const edited = { ...json, summary: { ...json.summary, failed: 7 } };
    expect(createHash('sha256').update(JSON.stringify({ ...edited, identity: { ...edited.identity, digest: '' } })).digest('hex')).not.toBe(json.identity.digest);
    expect(md).toContain(json.identity.digest);
    expect(renderReport(report, 'html')).toContain('Verdict: FAIL');
    // No drill ran in this world: the verdict says so, and GKE's untested restores are a known gap beside it.
    expect(report.verdict.reasons).toContain('no restore drill finished in the last 30 days (Restore drills)');
    expect(report.verdict.gaps).toEqual([GKE_NOT_DRILLED, DATABASE_NOT_DRILLED]);
    expect(md).toContain(`Known gap, not judged by any control: ${GKE_NOT_DRILLED}`);
    // The control plane's own database: backed up on schedule, its restores not drilled, said as a gap.
    expect(md).toContain(`Known gap, not judged by any control: ${DATABASE_NOT_DRILLED}`);
    expect(md).toContain('## Restore drills');
    expect(report.daysWithoutRun).toEqual([]);

    // A run two days earlier, and none the day between: that day is a finding, in the verdict and under Failures.
    const earlier = { ...run, runId: `${run.runId}-earlier`, slotStart: new Date(Date.parse(run.slotStart) - 2 * 86_400_000).toISOString(), slotEnd: new Date(Date.parse(run.slotEnd) - 2 * 86_400_000).toISOString() };
    await f.store.set(compliancePaths.run(earlier.runId), earlier);
    const gap = new Date(Date.parse(run.slotStart) - 86_400_000).toISOString().slice(0, 10);
    const withGap = await buildReport(f.store, run, f.clock.now());
    expect(withGap.daysWithoutRun).toEqual([gap]);
    expect(withGap.verdict.reasons).toContain(`1 day(s) had no verify-backups run: ${gap} (Trend)`);
    const gapMd = renderReport(withGap, 'md');
    expect(gapMd.slice(gapMd.indexOf('## Failures'), gapMd.indexOf('## Trend'))).toContain(`${gap}: no verify-backups run that day`);
    await f.store.delete(compliancePaths.run(earlier.runId));
    // The population: every planned instance, passes too, each with its controls' evidence and when.
    expect(report.population.map((p) => p.instanceId)).toEqual(FAULTS.map((x) => x.id).sort());
    for (const p of report.population) {
      expect(p.controls.length, p.instanceId).toBeGreaterThan(0);
      expect(Date.parse(p.checkedAt ?? ''), p.instanceId).not.toBeNaN();
      for (const c of p.controls) expect(c.source, `${p.instanceId} ${c.control}`).not.toBe('');
    }
    const passes = report.population.filter((p) => p.outcome === 'pass');
    expect(passes).toHaveLength(2);
    expect(md).toContain('## Population');
    for (const pass of passes) expect(md).toContain(`- **${pass.instanceId}**`);
  });

  it('drift safe to fix is remediated by a leased operation, recorded in the audit trail', async () => {
    const asked = await lifecycle.take(3);
    expect(asked).toHaveLength(3);
    const pitr = await f.store.get<Finding>(compliancePaths.finding(runId, 'f-pitr-off'));
    const operationId = pitr?.remediation?.operationId ?? '';
    for (const event of asked) await deliver(f.engine.deps, lifecycleRoute(f.engine), event);
    const op = await f.driveToEnd(operationId);
    expect(op).toMatchObject({ type: 'remediate', status: 'succeeded', actor: 'system:verify-backups' });
    expect(op.steps.map((s) => s.name)).toEqual(['configure-sql-backups', 'verify-backup-policy']);
    const sql = await f.fleet.cloudSql.getInstance(pitr?.controls[0]?.source.split('/')[1] ?? '', 'f-pitr-off-db');
    expect(sql?.settings.backupConfiguration).toMatchObject({ pointInTimeRecoveryEnabled: SQL_BACKUP_POLICY.pointInTimeRecoveryEnabled });
    const audit = await f.store.query<{ action: string; operationId: string }>({ collection: 'audit', where: [{ field: 'operationId', op: '==', value: operationId }] });
    expect(audit.map((a) => a.data.action)).toEqual(expect.arrayContaining(['operation.accepted', 'operation.succeeded']));
    expect((await f.instance('f-pitr-off'))?.lease).toBeNull();
    const remediations = await f.store.query<OperationRecord>({ collection: 'operations', where: [{ field: 'type', op: '==', value: 'remediate' }] });
    expect(remediations).toHaveLength(3);
    expect(await f.store.get(paths.instance('f-pitr-off'))).toMatchObject({ status: 'active' });
  });

  it('a request from `mi compliance run` in a slot already run is a run of its own, though mi labels it with the schedule', async () => {
    // What `mi compliance run` publishes: the envelope, with the schedule as an attribute.
    const envelope = makeEnvelope({ type: 'compliance.run-requested', payload: { schedule: 'verify-backups' }, actor: 'alice@example.com', reason: 'audit sample' });
    const asked = pubSubCloudEvent(envelope, { project: f.projectId, topic: TOPICS.compliance, message: { attributes: { schedule: 'verify-backups' }, publishTime: '2026-11-26T11:00:00.000Z' } });
    const outcome = await deliver(compliance.deps, complianceScheduleRoute(compliance), asked);
    const manual = manualRunId('verify-backups', envelope.eventId);
    expect(outcome).toMatchObject({ kind: 'fanned-out', result: { runId: manual, planned: FAULTS.length } });
    expect(await f.store.get<ComplianceRun>(compliancePaths.run(manual))).toMatchObject({ trigger: 'manual', requestedBy: 'alice@example.com' });
  });
});

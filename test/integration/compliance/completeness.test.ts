/**
 * A compliance run is complete only when every planned instance was checked and every checked
 * instance was planned: the plan is recorded (written, awaited, read back) before any check
 * message goes out, a resumed run fills every gap in it, the report compares the two id sets,
 * and the schedules control holds each Cloud Scheduler job to the topology's cron and time zone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompliance, buildReport, renderReport, type Compliance, type ComplianceRun, type Finding } from '../../../shared/compliance/index.js';
import { ControlPlaneError } from '../../../shared/errors.js';
import { makeEnvelope, type AnyEnvelope } from '../../../shared/events/index.js';
import type { StateStore } from '../../../shared/ports.js';
import { SCHEDULES, TOPICS } from '../../../shared/topology.js';
import { pubSubCloudEvent, type PubSubCloudEvent } from '../../../harness/cloud-event.js';
import { createEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { scheduleDelivery, seedWithFault, Tap } from './support.js';
import { compliancePaths } from '../../../shared/store/collections.js';
import { deliver } from '../../../shared/edge.js';
import { complianceCheckRoute, complianceScheduleRoute } from '../../../shared/routes.js';

const PARENT = 'projects/demo-completeness/locations/us-central1';
const RUN_ID = 'verify-backups-20261126t0200z';
const MINUTE = 60_000;

function envelopeOf(event: PubSubCloudEvent): AnyEnvelope {
  return JSON.parse(Buffer.from(event.data.message.data, 'base64').toString('utf8')) as AnyEnvelope;
}

/** The instance ids the check messages name (the schedules' own check names none). */
function instanceIdsOf(events: readonly PubSubCloudEvent[]): string[] {
  return events.map(envelopeOf).flatMap((e) => (e.instanceId === undefined ? [] : [e.instanceId])).sort();
}

/** Every id the stored plan pages of a run hold. */
async function plannedIds(store: StateStore, runId: string): Promise<string[]> {
  const pages = await store.query<{ ids: string[] }>({ collection: compliancePaths.planPages(runId) });
  return pages.flatMap((p) => p.data.ids).sort();
}

/**
 * The fixture's store, except that some writes of plan pages (counted from 1) are sabotaged:
 * `hang` never returns (the worker is stuck there, as a crashed one would be), `drop` returns
 * without having stored anything (a write lost on the way). Faults come from what the port
 * returns, never from a flag the code under test reads. `reached` settles at the first hang.
 */
function sabotagedPlanWrites(store: StateStore, faults: Record<number, 'hang' | 'drop'>): { store: StateStore; reached: Promise<void> } {
  let planWrites = 0;
  let markReached: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => {
    markReached = resolve;
  });
  const sabotaged: StateStore = {
    get: (path) => store.get(path),
    create: (path, data) => store.create(path, data),
    delete: (path) => store.delete(path),
    query: (spec) => store.query(spec),
    queryIds: (spec) => store.queryIds(spec),
    count: (spec) => store.count(spec),
    transaction: (work) => store.transaction(work),
    set(path, data) {
      if (!path.includes('/plan/')) return store.set(path, data);
      planWrites += 1;
      const fault = faults[planWrites];
      if (fault === 'hang') {
        markReached();
        return new Promise<void>(() => undefined);
      }
      return fault === 'drop' ? Promise.resolve() : store.set(path, data);
    },
  };
  return { store: sabotaged, reached };
}

function complianceOn(f: EngineFixture, store: StateStore = f.store): Compliance {
  return createCompliance({ store, bus: f.bus, cloudSql: f.fleet.cloudSql, gkeBackup: f.fleet.gkeBackup, scheduler: f.fleet.scheduler, clock: f.clock, schedulerParent: PARENT, pageSize: 4, remediate: false });
}

async function seedFleet(f: EngineFixture, prefix: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);
  for (const id of ids) await seedWithFault(f, id, 'healthy');
  f.fleet.scheduler.seedTopology('demo-completeness', 'us-central1');
  for (const s of SCHEDULES) f.fleet.scheduler.setLastAttempt(`${PARENT}/jobs/${s.name}`, { code: 0 }, new Date(f.clock.now().getTime() - 30_000));
  return ids;
}

describe('plan pages: written, awaited and read back before the fan-out; a resumed run fills every gap', () => {
  let f: EngineFixture;
  let checks: Tap;
  let ids: string[];

  beforeAll(async () => {
    f = await createEngineFixture(import.meta.url, { suffix: 'plan-hang' });
    checks = await Tap.open(f, TOPICS.checks);
    // 14 instances in pages of 4: four pages, the second of which is the one sabotaged.
    ids = await seedFleet(f, 'gap', 14);
  });

  afterAll(async () => {
    await checks.close();
    await f.close();
  });

  it('a worker whose second page was lost and which got stuck on its fourth has published nothing; the run resumed after its claim fills both gaps and checks every instance', async () => {
    // Pages 1 and 3 stored, page 2 lost, page 4 never returns: a gap in the middle of the plan and one at its end.
    const stuck = sabotagedPlanWrites(f.store, { 2: 'drop', 4: 'hang' });
    // Never settles: this worker is stuck on the write, as one that crashed there would be.
    void deliver(complianceOn(f, stuck.store).deps, complianceScheduleRoute(complianceOn(f, stuck.store)), scheduleDelivery(f, 'verify-backups', f.clock.now()));
    await stuck.reached;
    // Whatever the stuck worker could still do without its second page, it has done by now.
    const early = await checks.take(1, 1_500);
    expect(instanceIdsOf(early), 'check messages published before the plan was recorded').toEqual([]);

    const compliance = complianceOn(f);
    // While the stuck worker's claim holds, a redelivery is not acknowledged (it would leave the run unfinished): it is retried.
    await expect(deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'verify-backups', f.clock.now()))).rejects.toThrow(/under way/);
    f.clock.advance(6 * MINUTE);
    const resumed = await deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'verify-backups', f.clock.now()));
    expect(resumed).toMatchObject({ kind: 'fanned-out', result: { runId: RUN_ID, planned: ids.length } });
    expect(await plannedIds(f.store, RUN_ID)).toEqual(ids);
    if (resumed.kind === 'fanned-out') expect(resumed.result).toMatchObject({ resumed: true, gapsFilled: 2, pagesWritten: 2, published: ids.length });

    const delivered = await checks.take(ids.length + 1);
    expect(instanceIdsOf(delivered)).toEqual(ids);
    for (const event of delivered) expect(['written', 'duplicate']).toContain((await deliver(compliance.deps, complianceCheckRoute(compliance), event)).kind);
    const run = await f.store.get<ComplianceRun>(compliancePaths.run(RUN_ID));
    if (run === undefined) throw new Error('no run');
    const report = await buildReport(f.store, run, f.clock.now());
    expect(report.summary).toMatchObject({ planned: ids.length, checked: ids.length, notChecked: 0, complete: true });
  });
});

describe('plan pages: a page write that returned without storing anything is caught by the read-back', () => {
  let f: EngineFixture;
  let ids: string[];

  beforeAll(async () => {
    f = await createEngineFixture(import.meta.url, { suffix: 'plan-drop' });
    ids = await seedFleet(f, 'drop', 14);
  });

  afterAll(async () => {
    await f.close();
  });

  it('the run plans every instance, its recorded plan included', async () => {
    const lossy = sabotagedPlanWrites(f.store, { 2: 'drop' });
    const outcome = await deliver(complianceOn(f, lossy.store).deps, complianceScheduleRoute(complianceOn(f, lossy.store)), scheduleDelivery(f, 'verify-backups', f.clock.now()));
    expect(outcome).toMatchObject({ kind: 'fanned-out', result: { planned: ids.length } });
    expect(await plannedIds(f.store, RUN_ID)).toEqual(ids);
    // The whole id space, then the stretch the read-back found missing.
    if (outcome.kind === 'fanned-out') expect(outcome.result).toMatchObject({ gapsFilled: 2, pagesWritten: 5, pages: 4 });
    expect(await f.store.get<ComplianceRun>(compliancePaths.run(RUN_ID))).toMatchObject({ status: 'done', planned: ids.length });
  });
});

describe('a run whose worker failed is resumed by the redelivery at once', () => {
  let f: EngineFixture;
  let ids: string[];

  beforeAll(async () => {
    f = await createEngineFixture(import.meta.url, { suffix: 'released' });
    ids = await seedFleet(f, 'rel', 6);
  });

  afterAll(async () => {
    await f.close();
  });

  it('the failed worker releases its claim; the next delivery, with no time passed, resumes and completes the plan', async () => {
    let failures = 0;
    const flaky: StateStore = {
      ...f.store,
      queryIds(spec) {
        // The second page of instance ids fails once, as Firestore does when it is briefly unavailable.
        if (spec.collection === 'instances' && spec.startAfterId !== undefined && failures === 0) {
          failures += 1;
          return Promise.reject(new ControlPlaneError('unavailable', 'firestore unavailable (injected)'));
        }
        return f.store.queryIds(spec);
      },
    };
    const compliance = complianceOn(f, flaky);
    await expect(deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'verify-backups', f.clock.now()))).rejects.toThrow('injected');
    expect(await f.store.get<ComplianceRun>(compliancePaths.run(RUN_ID))).toMatchObject({ status: 'planning', claim: null });
    const resumed = await deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'verify-backups', f.clock.now()));
    expect(resumed).toMatchObject({ kind: 'fanned-out', result: { planned: ids.length, resumed: true, gapsFilled: 1 } });
    expect(await plannedIds(f.store, RUN_ID)).toEqual(ids);
  });
});

describe('the report compares the planned and checked id sets', () => {
  let f: EngineFixture;
  let compliance: Compliance;
  let checks: Tap;
  let events: Tap;
  let ids: string[];

  beforeAll(async () => {
    f = await createEngineFixture(import.meta.url, { suffix: 'report-sets' });
    checks = await Tap.open(f, TOPICS.checks);
    events = await Tap.open(f, TOPICS.events);
    ids = await seedFleet(f, 'set', 6);
    compliance = complianceOn(f);
  });

  afterAll(async () => {
    await checks.close();
    await events.close();
    await f.close();
  });

  it('one planned instance never checked and one checked but never planned: not complete, and both are named', async () => {
    const outcome = await deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'verify-backups', f.clock.now()));
    expect(outcome).toMatchObject({ kind: 'fanned-out', result: { planned: ids.length } });
    const delivered = await checks.take(ids.length + 1);
    const held = 'set-03';
    for (const event of delivered) if (envelopeOf(event).instanceId !== held) expect((await deliver(compliance.deps, complianceCheckRoute(compliance), event)).kind).toBe('written');
    // An instance created after the plan, checked for this run all the same (a stray message
    // of an earlier attempt, say): the counts now match, the sets do not.
    await seedWithFault(f, 'set-late', 'healthy');
    const stray = makeEnvelope({ type: 'compliance.check', instanceId: 'set-late', payload: { runId: RUN_ID, target: 'instance', asOf: f.clock.now().toISOString() }, actor: 'system:verify-backups', reason: 'stray' });
    expect((await deliver(compliance.deps, complianceCheckRoute(compliance), pubSubCloudEvent(stray, { project: f.projectId, topic: TOPICS.checks }))).kind).toBe('written');

    const run = await f.store.get<ComplianceRun>(compliancePaths.run(RUN_ID));
    if (run === undefined) throw new Error('no run');
    const report = await buildReport(f.store, run, f.clock.now());
    expect(report.summary).toMatchObject({ planned: ids.length, checked: ids.length, notChecked: 1, notPlanned: 1, complete: false });
    expect(report.coverage).toEqual({ plannedNotChecked: [held], checkedNotPlanned: ['set-late'] });
    expect(report.failures.find((x) => x.instanceId === held)).toMatchObject({ notChecked: true });
    const md = renderReport(report, 'md');
    expect(md).toContain('INCOMPLETE');
    expect(md).toContain(`**${held}**: NOT CHECKED`);
    expect(md).toContain('**set-late**: CHECKED BUT NOT PLANNED');
    expect(renderReport(report, 'html')).toContain('set-late');

    // The daily report says the same, and alerts naming both.
    const daily = await deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'compliance-report', f.clock.now()));
    expect(daily).toMatchObject({ kind: 'report', reportOf: RUN_ID, summary: { complete: false, notChecked: 1, notPlanned: 1, notCheckedIds: [held], notPlannedIds: ['set-late'] } });
    const alerts = (await events.take(1)).map(envelopeOf).filter((e) => e.type === 'alert');
    expect(alerts).toHaveLength(1);
    expect(JSON.stringify(alerts[0]?.payload)).toContain(held);
    expect(JSON.stringify(alerts[0]?.payload)).toContain('set-late');
  });
});

describe('the schedules control holds each job to the cron and time zone of the topology', () => {
  let f: EngineFixture;
  let compliance: Compliance;

  beforeAll(async () => {
    f = await createEngineFixture(import.meta.url, { suffix: 'schedules' });
    await seedFleet(f, 'cron', 0);
    compliance = complianceOn(f);
  });

  afterAll(async () => {
    await f.close();
  });

  it('a job whose cron was edited to once a year, and one moved to another time zone, fail with the required and found values', async () => {
    // Edited in the console: the jobs still ran recently, as far as their own schedules go.
    const { items } = await f.fleet.scheduler.listJobs(PARENT);
    for (const job of items) {
      if (job.name.endsWith('/jobs/verify-backups')) f.fleet.scheduler.addJob({ ...job, schedule: '0 0 1 1 *' });
      if (job.name.endsWith('/jobs/check-retention')) f.fleet.scheduler.addJob({ ...job, timeZone: 'America/New_York' });
    }
    const envelope = makeEnvelope({ type: 'compliance.check', payload: { runId: RUN_ID, target: 'schedules', asOf: f.clock.now().toISOString() }, actor: 'system:verify-backups', reason: 'schedules' });
    expect((await deliver(compliance.deps, complianceCheckRoute(compliance), pubSubCloudEvent(envelope, { project: f.projectId, topic: TOPICS.checks }))).kind).toBe('written');
    const finding = await f.store.get<Finding>(compliancePaths.finding(RUN_ID, '_schedules'));
    expect(finding?.outcome).toBe('fail');
    expect(finding?.failedControls).toEqual(['schedule.verify-backups', 'schedule.check-retention']);
    const cron = finding?.controls.find((c) => c.control === 'schedule.verify-backups');
    expect(cron?.evidence).toMatchObject({ name: `${PARENT}/jobs/verify-backups`, schedule: '0 0 1 1 *', 'required.schedule': '0 2 * * *', timeZone: 'Etc/UTC', 'required.timeZone': 'Etc/UTC' });
    expect(cron?.summary).toContain('0 0 1 1 *');
    expect(cron?.summary).toContain('0 2 * * *');
    const zone = finding?.controls.find((c) => c.control === 'schedule.check-retention');
    expect(zone?.evidence).toMatchObject({ name: `${PARENT}/jobs/check-retention`, timeZone: 'America/New_York', 'required.timeZone': 'Etc/UTC' });
  });
});

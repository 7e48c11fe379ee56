import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompliance, extendExpiry, type Compliance } from '../../../shared/compliance/index.js';
import { drillSection, GKE_NOT_DRILLED } from '../../../shared/compliance/report.js';
import type { OperationRecord } from '../../../shared/domain/lifecycle/operations.js';
import type { AnyEnvelope, InstanceRecord } from '../../../shared/events/index.js';
import { TOPICS } from '../../../shared/topology.js';
import { createEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { scheduleDelivery, seedWithFault, Tap } from './support.js';
import { paths } from '../../../shared/store/collections.js';
import { deliver } from '../../../shared/edge.js';
import { complianceScheduleRoute, lifecycleRoute } from '../../../shared/routes.js';

const HOUR = 3_600_000;

function envelopeOf(event: { data: { message: { data: string } } }): AnyEnvelope {
  return JSON.parse(Buffer.from(event.data.message.data, 'base64').toString('utf8')) as AnyEnvelope;
}

describe('check-retention: dev expiry, never prod', () => {
  let f: EngineFixture;
  let compliance: Compliance;
  let lifecycle: Tap;
  let events: Tap;

  beforeAll(async () => {
    f = await createEngineFixture(import.meta.url, { suffix: 'retention' });
    lifecycle = await Tap.open(f, TOPICS.lifecycle);
    events = await Tap.open(f, TOPICS.events);
    const now = f.clock.now().getTime();
    const dev = (id: string, expiresInHours: number) =>
      f.seedInstance({ id, environment: 'dev', tier: 'internal', expiresAt: new Date(now + expiresInHours * HOUR).toISOString() });
    await dev('dev-soon', 10);
    await dev('dev-later', 72);
    await dev('dev-gone', -30);
    // A prod record that (wrongly) carries an expiry long past: a schedule never deletes prod.
    await f.seedInstance({ id: 'prod-old', expiresAt: new Date(now - 1000 * HOUR).toISOString() });
    compliance = createCompliance({ store: f.store, bus: f.bus, cloudSql: f.fleet.cloudSql, gkeBackup: f.fleet.gkeBackup, scheduler: f.fleet.scheduler, clock: f.clock, schedulerParent: 'projects/p/locations/us-central1' });
  });

  afterAll(async () => {
    await lifecycle.close();
    await events.close();
    await f.close();
  });

  it('notices once, asks for the delete of the one past grace, and leaves prod alone', async () => {
    const first = await deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'check-retention', f.clock.now()));
    expect(first).toMatchObject({ kind: 'retention', result: { notified: ['dev-soon'], deleteRequested: [{ instanceId: 'dev-gone' }] } });
    // The same slot again: nothing more.
    expect((await deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'check-retention', new Date(f.clock.now().getTime() + 60_000)))).kind).toBe('duplicate');
    // The next hour: the notice is not repeated.
    f.clock.advance(HOUR);
    const next = await deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'check-retention', f.clock.now()));
    expect(next).toMatchObject({ kind: 'retention', result: { notified: [] } });
    const notices = (await events.take(1)).map(envelopeOf).filter((e) => e.type === 'instance.expiring');
    expect(notices.map((e) => e.instanceId)).toEqual(['dev-soon']);
    const deletes = (await lifecycle.take(2)).map(envelopeOf);
    expect(deletes.every((e) => e.type === 'instance.delete' && e.instanceId === 'dev-gone')).toBe(true);
    expect(deletes.some((e) => e.instanceId === 'prod-old')).toBe(false);
  });

  it('the engine runs the delete without approval', async () => {
    const [asked] = (await f.store.query<{ action: string; eventType: string }>({ collection: 'audit', where: [{ field: 'action', op: '==', value: 'instance.expiry-notified' }] })).map((d) => d.data);
    expect(asked).toBeDefined();
    const published = await deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'check-retention', new Date(f.clock.now().getTime() + HOUR)));
    expect(published.kind).toBe('retention');
    const deletes = await lifecycle.take(1);
    const outcome = await deliver(f.engine.deps, lifecycleRoute(f.engine), deletes[0]);
    expect(outcome.kind).toBe('accepted');
    const operationId = (outcome as { operationId: string }).operationId;
    const op = await f.driveToEnd(operationId, { stepMs: 30_000, rounds: 120 });
    expect(op.steps.some((s) => s.kind === 'approval')).toBe(false);
    expect(op.status).toBe('succeeded');
    expect((await f.instance('dev-gone'))?.status).toBe('deleted');
    expect((await f.instance('prod-old'))?.status).toBe('active');
  });

  it('mi instance extend moves the expiry, with an audit record of who and why; prod is refused', async () => {
    const before = await f.instance('dev-soon');
    const result = await extendExpiry({ store: f.store, clock: f.clock }, { instanceId: 'dev-soon', hours: 48, actor: 'alice@example.com', reason: 'demo next week' });
    expect(result.before).toBe(before?.expiresAt);
    expect(Date.parse(result.after) - Date.parse(before?.expiresAt ?? '')).toBe(48 * HOUR);
    const audit = await f.store.query<{ actor: string; reason: string; after: { expiresAt: string } }>({ collection: 'audit', where: [{ field: 'action', op: '==', value: 'instance.extended' }] });
    expect(audit.map((a) => a.data)).toEqual([expect.objectContaining({ actor: 'alice@example.com', reason: 'demo next week', after: { expiresAt: result.after } })]);
    await expect(extendExpiry({ store: f.store, clock: f.clock }, { instanceId: 'prod-old', hours: 1, actor: 'a', reason: 'r' })).rejects.toThrow('prod instance');
  });
});

describe('restore-drill: the latest backup into a throwaway, checked, deleted', () => {
  let f: EngineFixture;
  let compliance: Compliance;
  let lifecycle: Tap;

  beforeAll(async () => {
    f = await createEngineFixture(import.meta.url, { suffix: 'drill' });
    lifecycle = await Tap.open(f, TOPICS.lifecycle);
    await seedWithFault(f, 'drill-a', 'healthy');
    compliance = createCompliance({ store: f.store, bus: f.bus, cloudSql: f.fleet.cloudSql, gkeBackup: f.fleet.gkeBackup, scheduler: f.fleet.scheduler, clock: f.clock, schedulerParent: 'projects/p/locations/us-central1', drillSampleSize: 1 });
  });

  afterAll(async () => {
    await lifecycle.close();
    await f.close();
  });

  it('runs as a leased operation and records the evidence', async () => {
    const outcome = await deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'restore-drill', f.clock.now()));
    expect(outcome).toMatchObject({ kind: 'drill', result: { sample: [{ instanceId: 'drill-a' }] } });
    const [asked] = await lifecycle.take(1);
    const accepted = await deliver(f.engine.deps, lifecycleRoute(f.engine), asked);
    expect(accepted.kind).toBe('accepted');
    const leased = await f.store.get<InstanceRecord>(paths.instance('drill-a'));
    expect(leased?.lease?.operationType).toBe('restore-drill');
    const op: OperationRecord = await f.driveToEnd((accepted as { operationId: string }).operationId, { stepMs: 60_000, rounds: 120 });
    expect(op.status).toBe('succeeded');
    const restore = op.steps.find((s) => s.name === 'restore-latest-backup');
    expect(restore?.handles).toMatchObject({ outcome: 'succeeded', backupType: 'AUTOMATED' });
    expect(restore?.handles.backupRunId).toMatch(/^[0-9]+$/);
    expect(op.steps.find((s) => s.name === 'sanity-check')?.handles.outcome).toBe('succeeded');
    const throwaway = String(op.params.throwaway);
    expect(f.fleet.cloudSql.hasInstance(String(op.params.project), throwaway)).toBe(false);
    expect((await f.instance('drill-a'))).toMatchObject({ status: 'active', lease: null });

    // The report's A1.3 evidence: the drill with its outcome and steps, and GKE named as not drilled at all.
    const drills = await drillSection(f.store, f.clock.now());
    expect(drills).toMatchObject({ control: 'drill.restore', status: 'pass', criteria: { tsc: ['A1.3'] }, gke: { drilled: false, finding: GKE_NOT_DRILLED } });
    expect(drills.sql).toEqual([expect.objectContaining({ operationId: op.id, instanceId: 'drill-a', status: 'succeeded', finishedAt: op.finishedAt })]);
    expect(drills.sql[0]?.steps.map((s) => `${s.name}:${s.status}`)).toEqual(op.steps.map((s) => `${s.name}:succeeded`));
    // Thirty-one days on, no drill is in the period: the section says so, and a verdict counts it.
    f.clock.advance(31 * 86_400_000);
    expect(await drillSection(f.store, f.clock.now())).toMatchObject({ status: 'none', sql: [] });
  });
});

/**
 * The restore drill of the control plane's own Firestore, end to end on the emulator: the
 * simulated Firestore Admin API (backups are copies of the emulator's default database, restores
 * write named databases of the same emulator) behind its REST paths, the production adapter on
 * them, the drill-database schedule's ticks through the edge. What an auditor checks: a drill
 * restored a real backup, compared the restored audit trail with the live one, said pass or fail
 * with what differed, and left no scratch database behind.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Compliance } from '../../../shared/compliance/index.js';
import { latestDatabaseDrill } from '../../../shared/compliance/database-drill.js';
import { buildReport, findRun } from '../../../shared/compliance/report.js';
import { renderReport } from '../../../shared/compliance/render.js';
import type { DatabaseDrill } from '../../../shared/domain/compliance/database-drill.js';
import { deliver } from '../../../shared/edge.js';
import { createFirestoreAdmin } from '../../../shared/gcp/firestore-admin.js';
import { createFirestore, createFirestoreStore } from '../../../shared/gcp/firestore-store.js';
import type { FirestoreAdminPort } from '../../../shared/ports.js';
import { complianceScheduleRoute } from '../../../shared/routes.js';
import { SimulatedFirestoreAdmin } from '../../../shared/sim/firestore-admin.js';
import { serveFirestoreAdmin, type FirestoreAdminServer } from '../../../shared/sim/firestore-admin-http.js';
import { COLLECTIONS } from '../../../shared/store/collections.js';
import { extendExpiry } from '../../../shared/compliance/retention.js';
import { createEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { complianceOn, scheduleDelivery, Tap } from './support.js';
import { TOPICS } from '../../../shared/topology.js';

const HOUR = 3_600_000;
const SETTLE = 15 * 60_000;

describe("the restore drill of the control plane's own database", () => {
  let f: EngineFixture;
  let sim: SimulatedFirestoreAdmin;
  let server: FirestoreAdminServer;
  let admin: FirestoreAdminPort;
  let compliance: Compliance;
  const parent = () => `projects/${f.projectId}/locations/us-central1`;

  beforeAll(async () => {
    f = await createEngineFixture(import.meta.url);
    const emulatorHost = process.env.FIRESTORE_EMULATOR_HOST ?? '';
    sim = new SimulatedFirestoreAdmin({ emulatorHost, project: f.projectId, clock: f.clock, firstBackupAfterMs: 365 * 86_400_000, readyAfterMs: 10 * 60_000, restoreMs: 20 * 60_000 });
    server = await serveFirestoreAdmin(sim);
    admin = createFirestoreAdmin({ project: f.projectId, endpoint: server.url, token: () => Promise.resolve('test'), open: (databaseId) => createFirestoreStore({ firestore: createFirestore(f.projectId, { databaseId }) }) });
    compliance = complianceOn(f, parent(), { firestoreAdmin: admin, sealSettleMs: SETTLE });
  });
  afterAll(async () => {
    await server.close();
  });

  /** A day of people's audited changes on a dev instance, then the day's backup once they settled. */
  async function dayOfRecordsThenBackup(changes = 3): Promise<void> {
    const dev = await f.seedInstance({ environment: 'dev', tier: 'internal', expiresAt: new Date(f.clock.now().getTime() + 48 * HOUR).toISOString() });
    for (let i = 1; i <= changes; i += 1) {
      f.clock.advance(HOUR);
      await extendExpiry({ store: f.store, clock: f.clock }, { instanceId: dev.id, hours: i, actor: 'alice@example.com', reason: `drill day ${i}` });
    }
    f.clock.advance(SETTLE + 60_000);
    await sim.takeBackup();
  }

  /** The schedule runs every 15 minutes: a tick per cron slot (two in one slot are one run). */
  const SLOT = 15 * 60_000;

  /** The next slot's tick until the drill is done; returns the last outcome. */
  async function drillToEnd(): Promise<unknown> {
    let outcome: unknown;
    for (let i = 0; i < 5; i += 1) {
      f.clock.advance(SLOT);
      outcome = await tick();
      if ((await drill())?.phase === 'done') return outcome;
    }
    throw new Error(`the drill did not end: ${JSON.stringify(outcome)}`);
  }

  async function tick(): Promise<unknown> {
    return deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'drill-database', f.clock.now()));
  }

  const drill = async (): Promise<DatabaseDrill | undefined> => latestDatabaseDrill(f.store);

  beforeEach(() => {
    sim.faults.clear();
    sim.loseOnRestore(undefined);
    sim.failRestores(undefined);
  });

  it('waits while the only backup is being taken; restores it once ready, and a database read before the restore is done is not whole', async () => {
    await dayOfRecordsThenBackup();
    expect(await tick()).toMatchObject({ kind: 'database-drill', result: { step: 'start', drillId: null, note: expect.stringContaining('being taken') as unknown } });
    expect(await drill()).toBeUndefined();

    f.clock.advance(SLOT);
    expect(await tick()).toMatchObject({ kind: 'database-drill', result: { step: 'start', phase: 'restoring' } });
    const started = await drill();
    expect(started).toMatchObject({ phase: 'restoring', databaseId: expect.stringMatching(/^drill-/) as unknown, backup: { name: expect.stringContaining(`projects/${f.projectId}/locations/`) as unknown } });
    expect(sim.databaseIds()).toEqual([started?.databaseId]);
    // Half way: the scratch database holds part of the audit trail only.
    const scratch = createFirestoreStore({ firestore: createFirestore(f.projectId, { databaseId: started?.databaseId ?? '' }) });
    const live = await f.store.count({ collection: COLLECTIONS.audit });
    expect(await scratch.count({ collection: COLLECTIONS.audit })).toBeLessThan(live);

    // A tick before the restore ends only follows it.
    f.clock.advance(SLOT);
    expect(await tick()).toMatchObject({ result: { step: 'follow-restore', phase: 'restoring' } });

    f.clock.advance(SLOT);
    const done = await tick();
    expect(done).toMatchObject({ result: { step: 'follow-restore', phase: 'done', outcome: { result: 'pass', problems: [] } } });
    const ended = await drill();
    expect(ended).toMatchObject({ phase: 'done', deletedAt: f.clock.now().toISOString(), outcome: { result: 'pass' } });
    // The comparison counted the day's records in both databases alike, and found them equal.
    const counts = ended?.outcome?.compared?.counts ?? {};
    expect(counts.audit?.live).toBeGreaterThanOrEqual(3);
    expect(counts.audit?.restored).toBe(counts.audit?.live);
    expect(sim.databaseIds()).toEqual([]);
    expect(await scratch.count({ collection: COLLECTIONS.audit })).toBe(0);

    // Within the week no new drill starts.
    f.clock.advance(HOUR);
    expect(await tick()).toMatchObject({ result: { step: 'wait' } });
  });

  it('fails, naming the record, when the restore loses part of the audit trail; the alert goes out and the scratch database still goes', async () => {
    const alerts = await Tap.open(f, TOPICS.events);
    f.clock.advance(7 * 24 * HOUR);
    await dayOfRecordsThenBackup();
    const lostOne = (await f.store.queryIds({ collection: COLLECTIONS.audit })).at(-1) ?? '';
    sim.loseOnRestore((path) => path === `audit/${lostOne}`);
    expect(await drillToEnd()).toMatchObject({ result: { phase: 'done', outcome: { result: 'fail' } } });
    const failed = await drill();
    expect(failed?.outcome?.compared).toMatchObject({ missing: [`audit/${lostOne}`], missingCount: 1, extraCount: 0, differingCount: 0 });
    expect(failed?.outcome?.problems.join(' ')).toContain(`audit/${lostOne}`);
    expect(sim.databaseIds()).toEqual([]);
    const [alert] = (await alerts.take(1)).map((d) => JSON.parse(Buffer.from(d.data.message.data, 'base64').toString('utf8')) as { type: string; payload: { kind: string; summary: string } });
    expect(alert).toMatchObject({ type: 'alert', payload: { kind: 'compliance-failed', summary: expect.stringContaining(`audit/${lostOne}`) as unknown } });
  });

  it('notices a live record deleted and another edited since the backup', async () => {
    // A failed drill is tried again the next day.
    f.clock.advance(25 * HOUR);
    await dayOfRecordsThenBackup();
    const ids = await f.store.queryIds({ collection: COLLECTIONS.audit });
    const [deleted, edited] = ids.slice(-2);
    await f.store.delete(`${COLLECTIONS.audit}/${deleted ?? ''}`);
    const record = await f.store.get<Record<string, unknown>>(`${COLLECTIONS.audit}/${edited ?? ''}`);
    await f.store.set(`${COLLECTIONS.audit}/${edited ?? ''}`, { ...record, actor: 'mallory@example.com' });
    await drillToEnd();
    expect((await drill())?.outcome?.compared).toMatchObject({ extra: [`audit/${deleted}`], differing: [`audit/${edited}`], missingCount: 0 });
  });

  it("a restore whose answer was lost is found again by its database; a failed restore is a failed drill; the report shows the drills", async () => {
    f.clock.advance(25 * HOUR);
    await dayOfRecordsThenBackup();
    f.clock.advance(SLOT);
    // databases.restore took effect, its answer did not come back: the next tick finds the restore by the database's operations.
    sim.faults.inject({ method: 'restoreDatabase', afterEffect: true, error: { httpStatus: 503, message: 'backend unavailable' } });
    await expect(tick()).rejects.toThrow(/503|unavailable/i);
    const asked = await drill();
    expect(asked).toMatchObject({ phase: 'restoring', restoreOperation: null });
    f.clock.advance(SLOT);
    expect(await tick()).toMatchObject({ result: { step: 'follow-restore', phase: 'restoring' } });
    expect((await drill())?.restoreOperation).toMatch(new RegExp(`^projects/${f.projectId}/databases/${asked?.databaseId ?? ''}/operations/`));
    f.clock.advance(SLOT);
    expect(await tick()).toMatchObject({ result: { outcome: { result: 'pass' } } });

    f.clock.advance(8 * 24 * HOUR);
    await dayOfRecordsThenBackup(1);
    sim.failRestores({ code: 13, message: 'internal error while restoring' });
    expect(await drillToEnd()).toMatchObject({ result: { phase: 'done', outcome: { result: 'fail', problems: [expect.stringContaining('internal error while restoring') as unknown] } } });
    expect(sim.databaseIds()).toEqual([]);

    await deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'verify-backups', f.clock.now()));
    const run = await findRun(f.store, {}, f.clock.now());
    if (run === undefined) throw new Error('no verify-backups run to report on');
    const report = await buildReport(f.store, run, f.clock.now());
    expect(report.drills.database.drilled).toBe(true);
    expect(report.drills.database.drills.slice(0, 2).map((d) => d.outcome?.result)).toEqual(['fail', 'pass']);
    expect(report.drills.database.status).toBe('fail');
    expect(report.drills.database.finding).toBeNull();
    expect(report.verdict.reasons).toContain("a restore drill of the control plane's own database in the last 30 days failed (Restore drills, Failures)");
    expect(report.verdict.gaps.join(' ')).not.toContain("control plane's own database");
    const md = renderReport(report, 'md');
    expect(md).toContain('internal error while restoring');
    expect(md).toMatch(/audit \d+\/\d+/);
  });

  it('with no backup a day after the first record, the drill fails saying the scheduled backups are not being taken', async () => {
    const bare = await createEngineFixture(import.meta.url, { suffix: 'bare' });
    const bareSim = new SimulatedFirestoreAdmin({ emulatorHost: process.env.FIRESTORE_EMULATOR_HOST ?? '', project: bare.projectId, clock: bare.clock, firstBackupAfterMs: 365 * 86_400_000 });
    const bareServer = await serveFirestoreAdmin(bareSim);
    try {
      const bareAdmin = createFirestoreAdmin({ project: bare.projectId, endpoint: bareServer.url, token: () => Promise.resolve('test'), open: (databaseId) => createFirestoreStore({ firestore: createFirestore(bare.projectId, { databaseId }) }) });
      const c = complianceOn(bare, `projects/${bare.projectId}/locations/us-central1`, { firestoreAdmin: bareAdmin });
      const dev = await bare.seedInstance({ environment: 'dev', tier: 'internal', expiresAt: new Date(bare.clock.now().getTime() + 48 * HOUR).toISOString() });
      await extendExpiry({ store: bare.store, clock: bare.clock }, { instanceId: dev.id, hours: 1, actor: 'alice@example.com', reason: 'a first record' });
      // A database younger than a day has no daily backup yet: that is not a failure.
      const early = await deliver(c.deps, complianceScheduleRoute(c), scheduleDelivery(bare, 'drill-database', bare.clock.now()));
      expect(early).toMatchObject({ result: { step: 'start', drillId: null, note: expect.stringContaining('not due') as unknown } });
      bare.clock.advance(26 * HOUR);
      const outcome = await deliver(c.deps, complianceScheduleRoute(c), scheduleDelivery(bare, 'drill-database', bare.clock.now()));
      expect(outcome).toMatchObject({ result: { phase: 'done', outcome: { result: 'fail', problems: [expect.stringContaining('not being taken') as unknown] } } });
    } finally {
      await bareServer.close();
    }
  });
});

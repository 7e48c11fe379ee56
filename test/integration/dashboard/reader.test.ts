/**
 * The dashboard's reads on the Firestore emulator: each is a limited query (a page of
 * instances, of a run's findings, of one status's operations, of rollouts), paged by cursor
 * without overlap or gap, and the newest verify-backups run is the one its matrix shows.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createDashboardReader, type DashboardReader } from '../../../shared/dashboard/reader.js';
import { createFirestore, createFirestoreStore } from '../../../shared/gcp/firestore-store.js';
import type { StateStore } from '../../../shared/ports.js';
import { compliancePaths, paths, rolloutPaths } from '../../../shared/store/collections.js';
import { projectIdFor } from '../../support/project.js';

const store: StateStore = createFirestoreStore({ firestore: createFirestore(projectIdFor(import.meta.url)) });
const reader: DashboardReader = createDashboardReader(store);
const ids = Array.from({ length: 33 }, (_, i) => `ins-${String(i).padStart(2, '0')}`);
const RUN = 'verify-backups-20261202T020000Z';

/** Reads every page of a list through its cursor; the ids of each page, in order. */
async function allPages<T>(read: (after: string | null) => Promise<T[]>, limit: number, idOf: (item: T) => string): Promise<string[][]> {
  const pages: string[][] = [];
  let after: string | null = null;
  for (let guard = 0; guard < 100; guard += 1) {
    const got = await read(after);
    const shown = got.slice(0, limit);
    pages.push(shown.map(idOf));
    if (got.length <= limit) return pages;
    after = idOf(shown[shown.length - 1]);
  }
  throw new Error('paging did not end');
}

beforeAll(async () => {
  await Promise.all(ids.map((id) => store.set(paths.instance(id), { id, environment: 'prod', tier: 'customer', version: '5.4.2', status: 'active', lease: null })));
  const run = (runId: string, slotStart: string, createdAt: string) => store.set(compliancePaths.run(runId), { runId, schedule: 'verify-backups', slotStart, createdAt, status: 'done', trigger: 'schedule' });
  await run('verify-backups-20261201T020000Z', '2026-12-01T02:00:00Z', '2026-12-01T02:00:01Z');
  await run(RUN, '2026-12-02T02:00:00Z', '2026-12-02T02:00:01Z');
  // A manual run in the same slot, asked later: the newest.
  await run('verify-backups-manual-ab12', '2026-12-02T02:00:00Z', '2026-12-02T09:30:00Z');
  await store.set(compliancePaths.run('check-retention-20261202T091500Z'), { runId: 'check-retention-20261202T091500Z', schedule: 'check-retention', slotStart: '2026-12-02T09:15:00Z', createdAt: '2026-12-02T09:15:01Z' });
  await Promise.all(
    ids.map((id, i) => store.set(compliancePaths.finding(RUN, id), { runId: RUN, kind: 'instance', instanceId: id, outcome: i % 5 === 0 ? 'fail' : 'pass', controls: [] })),
  );
  await store.set(compliancePaths.finding(RUN, '_schedules'), { runId: RUN, kind: 'schedules', instanceId: null, outcome: 'fail', controls: [] });
  const op = (id: string, status: string, createdAt: string) => store.set(paths.operation(id), { id, status, createdAt, type: 'backup', instanceId: 'ins-00', steps: [] });
  await op('op-a', 'running', '2026-12-02T10:00:00Z');
  await op('op-b', 'accepted', '2026-12-02T10:05:00Z');
  await op('op-c', 'running', '2026-12-02T10:10:00Z');
  await op('op-d', 'failed', '2026-12-02T09:00:00Z');
  await op('op-e', 'succeeded', '2026-12-02T10:20:00Z');
  await op('op-f', 'failed', '2026-12-02T11:00:00Z');
  for (const [id, createdAt] of [['ro-1', '2026-12-01T10:00:00Z'], ['wf-2', '2026-12-02T10:00:00Z'], ['ro-3', '2026-12-02T11:00:00Z']] as const) {
    await store.set(rolloutPaths.rollout(id), { id, createdAt, status: 'running' });
  }
}, 60_000);

describe('the dashboard reader on Firestore', () => {
  it('pages the fleet in id order by cursor: every instance once, no page over its limit', async () => {
    const pages = await allPages((after) => reader.instances({ after, limit: 10 }), 10, (i) => i.id);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 10, 3]);
    expect(pages.flat()).toEqual(ids);
    expect((await reader.instances({ after: null, limit: 10 })).length).toBe(11);
    expect(await reader.fleetSize()).toBe(ids.length);
  });

  it('the latest verify-backups run is the newest slot\'s last one asked, never another schedule\'s', async () => {
    expect((await reader.latestRun())?.runId).toBe('verify-backups-manual-ab12');
    expect((await reader.run(RUN))?.slotStart).toBe('2026-12-02T02:00:00Z');
    expect(await reader.run('verify-backups-none')).toBeUndefined();
  });

  it('reads the findings of a page of instances, past the 30 values one "in" query takes', async () => {
    const found = await reader.findingsOf(RUN, ids);
    expect([...found.keys()].sort()).toEqual(ids);
    expect((await reader.findingsOf(RUN, ['ins-01', 'nobody'])).size).toBe(1);
  });

  it('pages a run\'s instance findings (not the schedules\'), and only the failing ones when asked', async () => {
    const all = await allPages((after) => reader.findings(RUN, { after, limit: 12, failingOnly: false }), 12, (f) => f.instanceId ?? '');
    expect(all.flat()).toEqual(ids);
    const failing = await allPages((after) => reader.findings(RUN, { after, limit: 3, failingOnly: true }), 3, (f) => f.instanceId ?? '');
    expect(failing.flat()).toEqual(ids.filter((_, i) => i % 5 === 0));
    expect((await reader.finding(RUN, 'ins-05'))?.outcome).toBe('fail');
  });

  it('lists operations of each list newest first, running with those accepted, paged by cursor', async () => {
    const running = await allPages((after) => reader.operations('running', { after, limit: 2 }), 2, (o) => o.id);
    expect(running).toEqual([['op-c', 'op-b'], ['op-a']]);
    expect((await reader.operations('failed', { after: null, limit: 10 })).map((o) => o.id)).toEqual(['op-f', 'op-d']);
    expect(await reader.operations('stuck', { after: null, limit: 10 })).toEqual([]);
  });

  it('lists rollouts and workflows newest first, paged by cursor', async () => {
    expect(await allPages((after) => reader.rollouts({ after, limit: 2 }), 2, (r) => r.id)).toEqual([['ro-3', 'wf-2'], ['ro-1']]);
  });

  it('a cursor naming a document that is gone is refused as not found, naming it', async () => {
    await expect(reader.operations('failed', { after: 'op-gone', limit: 2 })).rejects.toMatchObject({ code: 'not-found', details: { startAfterId: 'op-gone' } });
  });
});


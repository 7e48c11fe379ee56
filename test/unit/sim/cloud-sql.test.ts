import { describe, expect, it } from 'vitest';
import { ControlPlaneError } from '../../../shared/errors.js';
import type { SqlBackupRun, SqlOperation } from '../../../shared/ports.js';
import { ManualClock } from '../../../shared/sim/clock.js';
import { DEFAULT_SQL_DURATIONS, SimulatedCloudSql } from '../../../shared/sim/cloud-sql.js';

const P = 'mi-acme';
const I = 'acme-db';
const BACKUP_MS = DEFAULT_SQL_DURATIONS.backupEnqueuedMs + DEFAULT_SQL_DURATIONS.backupRunMs;

function setup(): { clock: ManualClock; sql: SimulatedCloudSql } {
  const clock = new ManualClock('2026-03-01T10:00:00Z');
  const sql = new SimulatedCloudSql({ clock });
  sql.addInstance({ project: P, name: I, region: 'us-central1' });
  return { clock, sql };
}

async function allRuns(sql: SimulatedCloudSql, maxResults?: number): Promise<SqlBackupRun[]> {
  const seen: SqlBackupRun[] = [];
  let pageToken: string | undefined;
  do {
    const page = await sql.listBackupRuns(P, I, { ...(pageToken ? { pageToken } : {}), ...(maxResults ? { maxResults } : {}) });
    seen.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken !== undefined);
  return seen;
}

describe('simulated Cloud SQL', () => {
  it('creates a new backup run on every insert, even with the same description', async () => {
    const { clock, sql } = setup();
    const first = await sql.insertBackupRun(P, I, { description: 'op-1:backup' });
    clock.advance(BACKUP_MS);
    const second = await sql.insertBackupRun(P, I, { description: 'op-1:backup' });

    const firstId = first.backupContext?.backupId;
    const secondId = second.backupContext?.backupId;
    expect(firstId).toMatch(/^\d+$/);
    expect(secondId).toMatch(/^\d+$/);
    expect(secondId).not.toBe(firstId);
    const runs = await allRuns(sql);
    expect(runs.map((run) => run.id).sort()).toEqual([firstId, secondId].sort());
    expect(sql.calls('insertBackupRun')).toBe(2);
  });

  it('moves a backup run from ENQUEUED to RUNNING to SUCCESSFUL as time passes, and its operation from PENDING to DONE', async () => {
    const { clock, sql } = setup();
    const op = await sql.insertBackupRun(P, I, { description: 'x' });
    const id = op.backupContext?.backupId ?? '';
    expect(op.status).toBe('PENDING');
    expect((await sql.getBackupRun(P, I, id))?.status).toBe('ENQUEUED');

    clock.advance(DEFAULT_SQL_DURATIONS.backupEnqueuedMs);
    expect((await sql.getBackupRun(P, I, id))?.status).toBe('RUNNING');
    expect((await sql.getOperation(P, op.name))?.status).toBe('RUNNING');

    clock.advance(DEFAULT_SQL_DURATIONS.backupRunMs);
    const run = await sql.getBackupRun(P, I, id);
    expect(run?.status).toBe('SUCCESSFUL');
    expect(run?.endTime).toBeDefined();
    const done = await sql.getOperation(P, op.name);
    expect(done?.status).toBe('DONE');
    expect(done?.error).toBeUndefined();
  });

  it('ends the next backup run FAILED when a failure was scripted, and only that one', async () => {
    const { clock, sql } = setup();
    sql.scriptBackupOutcome(P, I, 'FAILED', 'disk quota exceeded');
    const failed = await sql.insertBackupRun(P, I, { description: 'a' });
    clock.advance(BACKUP_MS);
    const run = await sql.getBackupRun(P, I, failed.backupContext?.backupId ?? '');
    expect(run?.status).toBe('FAILED');
    expect(run?.error?.message).toBe('disk quota exceeded');
    expect((await sql.getOperation(P, failed.name))?.error?.errors[0]?.message).toBe('disk quota exceeded');

    const next = await sql.insertBackupRun(P, I, { description: 'b' });
    clock.advance(BACKUP_MS);
    expect((await sql.getBackupRun(P, I, next.backupContext?.backupId ?? ''))?.status).toBe('SUCCESSFUL');
  });

  it('answers 409 conflict while a backup run is in progress on the instance, and accepts once it finished', async () => {
    const { clock, sql } = setup();
    await sql.insertBackupRun(P, I, { description: 'first' });

    const refused = sql.insertBackupRun(P, I, { description: 'second' });
    await expect(refused).rejects.toBeInstanceOf(ControlPlaneError);
    await expect(refused).rejects.toMatchObject({ code: 'conflict', retryable: true, details: { httpStatus: 409 } });
    await expect(sql.deleteInstance(P, I)).rejects.toMatchObject({ code: 'conflict' });

    clock.advance(BACKUP_MS);
    const accepted = await sql.insertBackupRun(P, I, { description: 'second' });
    expect(accepted.backupContext?.backupId).toBeDefined();
  });

  it('answers 409 conflict while any other operation runs on the instance', async () => {
    const { clock, sql } = setup();
    sql.startOperation(P, I, { operationType: 'UPDATE', durationMs: 30_000 });
    await expect(sql.insertBackupRun(P, I, { description: 'x' })).rejects.toMatchObject({ code: 'conflict', details: { httpStatus: 409 } });
    clock.advance(30_000);
    await expect(sql.insertBackupRun(P, I, { description: 'x' })).resolves.toMatchObject({ operationType: 'BACKUP_VOLUME' });
  });

  it('does not let a running operation on one instance block another instance', async () => {
    const { sql } = setup();
    sql.addInstance({ project: P, name: 'other-db', region: 'us-central1' });
    await sql.insertBackupRun(P, I, { description: 'x' });
    await expect(sql.insertBackupRun(P, 'other-db', { description: 'y' })).resolves.toMatchObject({ targetId: 'other-db' });
  });

  it('deletes the instance with its on-demand and automated backup runs', async () => {
    const { clock, sql } = setup();
    const [automated] = sql.seedAutomatedBackups(P, I, [{ endTime: '2026-02-28T03:20:00Z' }]);
    const op = await sql.insertBackupRun(P, I, { description: 'before delete' });
    clock.advance(BACKUP_MS);
    const onDemand = op.backupContext?.backupId ?? '';

    const deletion = await sql.deleteInstance(P, I);
    expect(deletion.operationType).toBe('DELETE');
    expect((await sql.getInstance(P, I))?.state).toBe('PENDING_DELETE');

    clock.advance(DEFAULT_SQL_DURATIONS.deleteMs);
    expect(await sql.getInstance(P, I)).toBeUndefined();
    expect(await sql.getBackupRun(P, I, onDemand)).toBeUndefined();
    expect(await sql.getBackupRun(P, I, automated ?? '')).toBeUndefined();
    await expect(sql.listBackupRuns(P, I)).rejects.toMatchObject({ code: 'not-found', details: { httpStatus: 404 } });
    await expect(sql.insertBackupRun(P, I, { description: 'late' })).rejects.toMatchObject({ code: 'not-found' });
    await expect(sql.listOperations(P, I)).rejects.toMatchObject({ code: 'not-found' });
    expect((await sql.getOperation(P, deletion.name))?.status).toBe('DONE');
  });

  it('lists backup runs in pages, newest first, each run exactly once', async () => {
    const { sql } = setup();
    const seeded = sql.seedAutomatedBackups(
      P,
      I,
      Array.from({ length: 230 }, (_, day) => ({ endTime: new Date(Date.UTC(2025, 6, 1) + day * 86_400_000).toISOString() })),
    );
    const first = await sql.listBackupRuns(P, I);
    expect(first.items).toHaveLength(100);
    expect(first.nextPageToken).toBeDefined();

    const runs = await allRuns(sql, 40);
    expect(runs).toHaveLength(230);
    expect(new Set(runs.map((run) => run.id)).size).toBe(230);
    expect(new Set(runs.map((run) => run.id))).toEqual(new Set(seeded));
    const times = runs.map((run) => run.enqueuedTime);
    expect(times).toEqual([...times].sort().reverse());
  });

  it('honours maxResults and refuses a page token from another list', async () => {
    const { sql } = setup();
    sql.addInstance({ project: P, name: 'other-db', region: 'us-central1' });
    sql.seedAutomatedBackups(P, I, [{ endTime: '2026-02-01T03:00:00Z' }, { endTime: '2026-02-02T03:00:00Z' }, { endTime: '2026-02-03T03:00:00Z' }]);
    sql.seedAutomatedBackups(P, 'other-db', [{ endTime: '2026-02-01T03:00:00Z' }, { endTime: '2026-02-02T03:00:00Z' }]);
    const page = await sql.listBackupRuns(P, I, { maxResults: 2 });
    expect(page.items).toHaveLength(2);
    const token = page.nextPageToken ?? '';
    await expect(sql.listBackupRuns(P, 'other-db', { pageToken: token })).rejects.toMatchObject({
      code: 'failed-precondition',
      retryable: false,
      details: { httpStatus: 400 },
    });
    await expect(sql.listBackupRuns(P, I, { pageToken: 'garbage' })).rejects.toMatchObject({ details: { httpStatus: 400 } });
  });

  it('lists operations in pages, newest first, each operation exactly once', async () => {
    const { clock, sql } = setup();
    const names: string[] = [];
    for (let i = 0; i < 7; i += 1) {
      names.push((await sql.insertBackupRun(P, I, { description: `run ${i}` })).name);
      clock.advance(BACKUP_MS);
    }
    const seen: SqlOperation[] = [];
    let pageToken: string | undefined;
    do {
      const page = await sql.listOperations(P, I, { maxResults: 3, ...(pageToken ? { pageToken } : {}) });
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items);
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
    expect(seen.map((op) => op.name)).toEqual([...names].reverse());
  });

  it('keeps seeded automated runs at the status they were given', async () => {
    const { clock, sql } = setup();
    const [ok, failed] = sql.seedAutomatedBackups(P, I, [
      { endTime: '2026-02-27T03:20:00Z' },
      { endTime: '2026-02-28T03:20:00Z', status: 'FAILED' },
    ]);
    clock.advance(86_400_000);
    expect(await sql.getBackupRun(P, I, ok ?? '')).toMatchObject({ type: 'AUTOMATED', status: 'SUCCESSFUL', endTime: '2026-02-27T03:20:00.000Z' });
    expect(await sql.getBackupRun(P, I, failed ?? '')).toMatchObject({ type: 'AUTOMATED', status: 'FAILED' });
  });

  it('surfaces an injected 503 as a retryable unavailable error, then answers the next call', async () => {
    const { sql } = setup();
    sql.faults.inject({ method: 'insertBackupRun', times: 1, error: { httpStatus: 503 } });
    const failed = sql.insertBackupRun(P, I, { description: 'x' });
    await expect(failed).rejects.toMatchObject({ code: 'unavailable', retryable: true, details: { httpStatus: 503 } });
    await expect(sql.insertBackupRun(P, I, { description: 'x' })).resolves.toMatchObject({ status: 'PENDING' });
    // The failed call made no run: the fault came before the effect.
    expect((await sql.listBackupRuns(P, I)).items).toHaveLength(1);
    expect(sql.calls('insertBackupRun')).toBe(2);
  });

  it('maps injected 429 to rate-limited and 409 to conflict, both retryable', async () => {
    const { sql } = setup();
    sql.faults.inject({ method: 'getInstance', error: { httpStatus: 429 } });
    sql.faults.inject({ method: 'getInstance', error: { httpStatus: 409 } });
    await expect(sql.getInstance(P, I)).rejects.toMatchObject({ code: 'rate-limited', retryable: true });
    await expect(sql.getInstance(P, I)).rejects.toMatchObject({ code: 'conflict', retryable: true });
    await expect(sql.getInstance(P, I)).resolves.toMatchObject({ name: I, state: 'RUNNABLE' });
  });

  it('can lose the answer of a call that took effect, so callers must look before inserting again', async () => {
    const { sql } = setup();
    sql.faults.inject({ method: 'insertBackupRun', afterEffect: true, error: { httpStatus: 503 } });
    await expect(sql.insertBackupRun(P, I, { description: 'op-9:backup' })).rejects.toMatchObject({ code: 'unavailable' });
    const runs = (await sql.listBackupRuns(P, I)).items;
    expect(runs.map((run) => run.description)).toEqual(['op-9:backup']);
  });

  it('answers undefined for unknown runs, operations and instances', async () => {
    const { sql } = setup();
    expect(await sql.getBackupRun(P, I, '123')).toBeUndefined();
    expect(await sql.getOperation(P, 'no-such-op')).toBeUndefined();
    expect(await sql.getInstance(P, 'nope')).toBeUndefined();
    const op = await sql.insertBackupRun(P, I, { description: 'x' });
    expect(await sql.getOperation('other-project', op.name)).toBeUndefined();
  });

  it('waits the configured latency before answering', async () => {
    const { sql } = setup();
    sql.faults.setLatency(30);
    const started = performance.now();
    await sql.getInstance(P, I);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
  });
});

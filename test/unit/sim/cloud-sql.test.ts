import { describe, expect, it } from 'vitest';
import { ControlPlaneError } from '../../../shared/errors.js';
import type { SqlBackupRun, SqlInstanceSpec, SqlOperation } from '../../../shared/ports.js';
import { ManualClock } from '../../../shared/sim/clock.js';
import { COMPLIANT_SQL_BACKUP_CONFIGURATION, DEFAULT_SQL_DURATIONS, SQL_RECOVERY_LAG_MS, SimulatedCloudSql } from '../../../shared/sim/cloud-sql.js';

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

  it('queues work behind a busy instance when set to queue: PENDING until the running operation ends, then RUNNING', async () => {
    const clock = new ManualClock('2026-03-01T10:00:00Z');
    const sql = new SimulatedCloudSql({ clock, whileBusy: 'queue' });
    sql.addInstance({ project: P, name: I, region: 'us-central1' });
    sql.startOperation(P, I, { operationType: 'UPDATE', durationMs: 60_000 });
    const queued = await sql.insertBackupRun(P, I, { description: 'op-1:backup' });
    expect(queued.status).toBe('PENDING');
    clock.advance(59_000);
    expect((await sql.getOperation(P, queued.name))?.status).toBe('PENDING');
    clock.advance(1_000 + DEFAULT_SQL_DURATIONS.backupEnqueuedMs);
    expect((await sql.getOperation(P, queued.name))?.status).toBe('RUNNING');
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

const DAY_MS = 86_400_000;
const QUEUED_MS = DEFAULT_SQL_DURATIONS.operationQueuedMs;

function spec(name: string): SqlInstanceSpec {
  return { name, region: 'us-central1', databaseVersion: 'POSTGRES_16', tier: 'db-custom-2-7680', backupConfiguration: { ...COMPLIANT_SQL_BACKUP_CONFIGURATION } };
}

describe('simulated Cloud SQL: deleting with a final backup', () => {
  it('deleting an instance removes its ordinary backups and the final backup remains', async () => {
    const { clock, sql } = setup();
    const [automated] = sql.seedAutomatedBackups(P, I, [{ endTime: '2026-02-28T03:20:00Z' }]);
    const onDemand = (await sql.insertBackupRun(P, I, { description: 'ordinary' })).backupContext?.backupId ?? '';
    clock.advance(BACKUP_MS);

    const deletion = await sql.deleteInstance(P, I, { finalBackup: { retentionDays: 30, description: 'mi:op-9:final' } });
    expect(deletion).toMatchObject({ operationType: 'DELETE', status: 'RUNNING' });
    // The final run is taken first; the instance is still there meanwhile, and busy.
    const pending = (await sql.listBackupRuns(P, I)).items.find((run) => run.type === 'FINAL');
    expect(pending).toMatchObject({ status: 'ENQUEUED', description: 'mi:op-9:final' });
    await expect(sql.insertBackupRun(P, I, { description: 'late' })).rejects.toMatchObject({ code: 'conflict' });

    clock.advance(BACKUP_MS);
    expect((await sql.getInstance(P, I))?.state).toBe('PENDING_DELETE');
    clock.advance(DEFAULT_SQL_DURATIONS.deleteMs);
    expect(await sql.getInstance(P, I)).toBeUndefined();
    expect((await sql.getOperation(P, deletion.name))?.status).toBe('DONE');

    // Like the real API: the deleted instance has no backup runs to list or read...
    await expect(sql.listBackupRuns(P, I)).rejects.toMatchObject({ code: 'not-found', details: { httpStatus: 404 } });
    expect(await sql.getBackupRun(P, I, onDemand)).toBeUndefined();
    expect(await sql.getBackupRun(P, I, automated ?? '')).toBeUndefined();
    expect(await sql.getBackupRun(P, I, pending?.id ?? '')).toBeUndefined();
    // ...and its final backup is a Backup resource of the project.
    const deletedAt = clock.now();
    expect(await sql.listFinalBackups(P, I)).toEqual([
      {
        name: `projects/${P}/backups/${pending?.id}`,
        instance: I,
        description: 'mi:op-9:final',
        state: 'SUCCESSFUL',
        type: 'FINAL',
        backupKind: 'SNAPSHOT',
        location: 'us',
        backupInterval: {
          startTime: new Date(deletedAt.getTime() - BACKUP_MS - DEFAULT_SQL_DURATIONS.deleteMs + DEFAULT_SQL_DURATIONS.backupEnqueuedMs).toISOString(),
          endTime: new Date(deletedAt.getTime() - DEFAULT_SQL_DURATIONS.deleteMs).toISOString(),
        },
        expiryTime: new Date(deletedAt.getTime() + 30 * DAY_MS).toISOString(),
        instanceDeletionTime: deletedAt.toISOString(),
        databaseVersion: 'POSTGRES_16',
      },
    ]);
    // Filtered to the instance: another instance of the project has none.
    expect(await sql.listFinalBackups(P, 'other-db')).toEqual([]);
  });

  it('lists the final backup while the delete takes it: ENQUEUED, RUNNING, then SUCCESSFUL', async () => {
    const { clock, sql } = setup();
    await sql.deleteInstance(P, I, { finalBackup: { retentionDays: 7, description: 'mi:op-3:final' } });
    const states: string[] = [];
    for (const step of [0, DEFAULT_SQL_DURATIONS.backupEnqueuedMs, DEFAULT_SQL_DURATIONS.backupRunMs]) {
      clock.advance(step);
      const finals = await sql.listFinalBackups(P, I);
      expect(finals).toHaveLength(1);
      expect(finals[0]).toMatchObject({ type: 'FINAL', description: 'mi:op-3:final', instance: I });
      states.push(finals[0]?.state ?? '');
    }
    expect(states).toEqual(['ENQUEUED', 'RUNNING', 'SUCCESSFUL']);
    // The instance is still being deleted: expiry is counted from when the deletion ends.
    expect((await sql.listFinalBackups(P, I))[0]?.expiryTime).toBe(new Date(clock.now().getTime() + DEFAULT_SQL_DURATIONS.deleteMs + 7 * DAY_MS).toISOString());
  });

  it('keeps the final backups of an instance name apart from the new instance of that name', async () => {
    const { clock, sql } = setup();
    await sql.deleteInstance(P, I, { finalBackup: { retentionDays: 30, description: 'first' } });
    clock.advance(BACKUP_MS + DEFAULT_SQL_DURATIONS.deleteMs);
    await sql.insertInstance(P, spec(I));
    clock.advance(QUEUED_MS + DEFAULT_SQL_DURATIONS.createMs);
    // The new instance's runs do not include the old final backup.
    expect((await sql.listBackupRuns(P, I)).items).toEqual([]);
    clock.advance(DAY_MS);
    await sql.deleteInstance(P, I, { finalBackup: { retentionDays: 30, description: 'second' } });
    clock.advance(BACKUP_MS + DEFAULT_SQL_DURATIONS.deleteMs);
    expect((await sql.listFinalBackups(P, I)).map((b) => b.description)).toEqual(['second', 'first']);
  });

  it('keeps a final backup only for its retention days after the deletion', async () => {
    const { clock, sql } = setup();
    await sql.deleteInstance(P, I, { finalBackup: { retentionDays: 2, description: 'final' } });
    clock.advance(BACKUP_MS + DEFAULT_SQL_DURATIONS.deleteMs);
    expect(await sql.listFinalBackups(P, I)).toHaveLength(1);
    clock.advance(2 * DAY_MS - 1);
    expect(await sql.listFinalBackups(P, I)).toHaveLength(1);
    clock.advance(1);
    expect(await sql.listFinalBackups(P, I)).toEqual([]);
  });

  it('fails the delete and keeps the instance when its final backup fails', async () => {
    const { clock, sql } = setup();
    sql.scriptBackupOutcome(P, I, 'FAILED', 'snapshot quota');
    const deletion = await sql.deleteInstance(P, I, { finalBackup: { retentionDays: 7, description: 'final' } });
    clock.advance(BACKUP_MS + DEFAULT_SQL_DURATIONS.deleteMs);
    expect(await sql.getInstance(P, I)).toMatchObject({ state: 'RUNNABLE' });
    expect((await sql.getOperation(P, deletion.name))?.error?.errors[0]?.message).toBe('snapshot quota');
    expect(await sql.listFinalBackups(P, I)).toEqual([
      expect.objectContaining({ state: 'FAILED', type: 'FINAL', error: { code: 'BACKUP_FAILED', message: 'snapshot quota' } }),
    ]);
    expect((await sql.listFinalBackups(P, I))[0]?.expiryTime).toBeUndefined();
  });

  it('answers listFinalBackups through the fault injector like every other method', async () => {
    const { sql } = setup();
    sql.faults.inject({ method: 'listFinalBackups', error: { httpStatus: 503 } });
    await expect(sql.listFinalBackups(P, I)).rejects.toMatchObject({ code: 'unavailable', retryable: true });
    await expect(sql.listFinalBackups(P, I)).resolves.toEqual([]);
    expect(sql.calls('listFinalBackups')).toBe(2);
  });

  it('refuses a final backup retention outside 1-365 days with a 400', async () => {
    const { sql } = setup();
    await expect(sql.deleteInstance(P, I, { finalBackup: { retentionDays: 0, description: 'x' } })).rejects.toMatchObject({
      code: 'failed-precondition',
      details: { httpStatus: 400 },
    });
    expect(await sql.getInstance(P, I)).toMatchObject({ state: 'RUNNABLE' });
  });
});

describe('simulated Cloud SQL: restore, clone, insert, patch', () => {
  it('restores a successful run into another instance, which then holds that backup', async () => {
    const { clock, sql } = setup();
    sql.addInstance({ project: 'mi-recovery', name: 'target-db', region: 'us-east1' });
    const [runId] = sql.seedAutomatedBackups(P, I, [{ endTime: '2026-03-01T03:20:00Z' }]);
    const source = { project: P, instance: I, backupRunId: runId ?? '' };

    const op = await sql.restoreBackup('mi-recovery', 'target-db', source);
    expect(op).toMatchObject({ operationType: 'RESTORE_VOLUME', status: 'PENDING', targetId: 'target-db', targetProject: 'mi-recovery' });
    expect(sql.restoredFrom('mi-recovery', 'target-db')).toBeUndefined();
    await expect(sql.restoreBackup('mi-recovery', 'target-db', source)).rejects.toMatchObject({ code: 'conflict', details: { httpStatus: 409 } });

    clock.advance(QUEUED_MS + DEFAULT_SQL_DURATIONS.restoreMs);
    expect((await sql.getOperation('mi-recovery', op.name))?.status).toBe('DONE');
    expect(sql.restoredFrom('mi-recovery', 'target-db')).toEqual({ ...source, at: clock.now().toISOString() });
  });

  it('cannot restore the final backup of a deleted instance by a backup run id (the real API restores it by its Backup name)', async () => {
    const { clock, sql } = setup();
    await sql.deleteInstance(P, I, { finalBackup: { retentionDays: 30, description: 'final' } });
    clock.advance(BACKUP_MS + DEFAULT_SQL_DURATIONS.deleteMs);
    const [final] = await sql.listFinalBackups(P, I);
    const runId = final?.name.split('/').pop() ?? '';
    await sql.insertInstance(P, spec(I));
    clock.advance(QUEUED_MS + DEFAULT_SQL_DURATIONS.createMs);
    await expect(sql.restoreBackup(P, I, { project: P, instance: I, backupRunId: runId })).rejects.toMatchObject({
      code: 'not-found',
      details: { httpStatus: 404 },
    });
  });

  it('refuses a restore from a missing run (404) or from a run that did not succeed (400)', async () => {
    const { clock, sql } = setup();
    await expect(sql.restoreBackup(P, I, { project: P, instance: I, backupRunId: '42' })).rejects.toMatchObject({
      code: 'not-found',
      details: { httpStatus: 404 },
    });
    await expect(sql.restoreBackup(P, I, { project: P, instance: 'nope', backupRunId: '42' })).rejects.toMatchObject({ code: 'not-found' });
    const [failed] = sql.seedAutomatedBackups(P, I, [{ endTime: '2026-02-28T03:20:00Z', status: 'FAILED' }]);
    await expect(sql.restoreBackup(P, I, { project: P, instance: I, backupRunId: failed ?? '' })).rejects.toMatchObject({
      code: 'failed-precondition',
      retryable: false,
      details: { httpStatus: 400 },
    });
    const running = (await sql.insertBackupRun(P, I, { description: 'x' })).backupContext?.backupId ?? '';
    clock.advance(DEFAULT_SQL_DURATIONS.backupEnqueuedMs);
    sql.addInstance({ project: P, name: 'other-db', region: 'us-central1' });
    await expect(sql.restoreBackup(P, 'other-db', { project: P, instance: I, backupRunId: running })).rejects.toMatchObject({ details: { httpStatus: 400 } });
    expect(sql.calls('restoreBackup')).toBe(4);
  });

  it('clone refuses a time outside the recovery window and creates a new instance inside it', async () => {
    const { clock, sql } = setup();
    const now = clock.now().getTime();
    const latest = await sql.getLatestRecoveryTime(P, I);
    expect(latest).toBe(new Date(now - SQL_RECOVERY_LAG_MS).toISOString());

    for (const outside of [new Date(now - 8 * DAY_MS), new Date(now), new Date(now + DAY_MS)]) {
      await expect(sql.cloneInstance(P, I, { destinationInstanceName: 'drill-db', pointInTime: outside.toISOString() })).rejects.toMatchObject({
        code: 'failed-precondition',
        details: { httpStatus: 400, reason: 'pointInTimeOutOfRange' },
      });
    }
    expect(await sql.getInstance(P, 'drill-db')).toBeUndefined();

    const pointInTime = new Date(now - 2 * 3_600_000).toISOString();
    const op = await sql.cloneInstance(P, I, { destinationInstanceName: 'drill-db', pointInTime });
    expect(op).toMatchObject({ operationType: 'CLONE', targetId: 'drill-db', status: 'PENDING' });
    expect(await sql.getInstance(P, 'drill-db')).toMatchObject({ state: 'PENDING_CREATE', region: 'us-central1', databaseVersion: 'POSTGRES_16' });
    clock.advance(QUEUED_MS + DEFAULT_SQL_DURATIONS.createMs);
    expect(await sql.getInstance(P, 'drill-db')).toMatchObject({ state: 'RUNNABLE', createTime: new Date(now).toISOString() });
    expect(sql.clonedFrom(P, 'drill-db')).toMatchObject({ project: P, instance: I, pointInTime });
    // The source is untouched.
    expect(await sql.getInstance(P, I)).toMatchObject({ state: 'RUNNABLE' });
  });

  it('clone refuses a time before the source existed, a taken name (409) and an instance without point-in-time recovery', async () => {
    const { clock, sql } = setup();
    const now = clock.now().getTime();
    sql.addInstance({ project: P, name: 'young-db', region: 'us-central1', createTime: new Date(now - 3_600_000) });
    await expect(
      sql.cloneInstance(P, 'young-db', { destinationInstanceName: 'c1', pointInTime: new Date(now - 2 * 3_600_000).toISOString() }),
    ).rejects.toMatchObject({ details: { reason: 'pointInTimeOutOfRange' } });
    const inside = new Date(now - 30 * 60_000).toISOString();
    await expect(sql.cloneInstance(P, I, { destinationInstanceName: 'young-db', pointInTime: inside })).rejects.toMatchObject({
      code: 'conflict',
      details: { httpStatus: 409, reason: 'instanceAlreadyExists' },
    });
    sql.addInstance({ project: P, name: 'no-pitr-db', region: 'us-central1', backupConfiguration: { pointInTimeRecoveryEnabled: false } });
    expect(await sql.getLatestRecoveryTime(P, 'no-pitr-db')).toBeUndefined();
    await expect(sql.cloneInstance(P, 'no-pitr-db', { destinationInstanceName: 'c2', pointInTime: inside })).rejects.toMatchObject({
      details: { httpStatus: 400, reason: 'pointInTimeRecoveryDisabled' },
    });
  });

  it('inserts an instance that is PENDING_CREATE, then RUNNABLE, and answers 409 for a name in use', async () => {
    const { clock, sql } = setup();
    const op = await sql.insertInstance(P, spec('throwaway-db'));
    expect(op).toMatchObject({ operationType: 'CREATE', status: 'PENDING', targetId: 'throwaway-db' });
    expect(await sql.getInstance(P, 'throwaway-db')).toMatchObject({ state: 'PENDING_CREATE' });
    await expect(sql.insertBackupRun(P, 'throwaway-db', { description: 'x' })).rejects.toMatchObject({ code: 'conflict' });
    await expect(sql.insertInstance(P, spec('throwaway-db'))).rejects.toMatchObject({ code: 'conflict', details: { httpStatus: 409 } });
    await expect(sql.insertInstance(P, spec(I))).rejects.toMatchObject({ details: { reason: 'instanceAlreadyExists' } });
    await expect(sql.insertInstance('another-project', spec(I))).resolves.toMatchObject({ targetProject: 'another-project' });
    await expect(sql.insertInstance(P, spec('Bad_Name'))).rejects.toMatchObject({ details: { httpStatus: 400 } });

    clock.advance(QUEUED_MS + DEFAULT_SQL_DURATIONS.createMs);
    expect(await sql.getInstance(P, 'throwaway-db')).toMatchObject({ state: 'RUNNABLE', settings: { tier: 'db-custom-2-7680' } });
    expect((await sql.getOperation(P, op.name))?.status).toBe('DONE');
  });

  it('patches the backup configuration, visible at once, and answers 409 while the update runs', async () => {
    const { clock, sql } = setup();
    sql.setBackupConfiguration(P, I, { pointInTimeRecoveryEnabled: false, transactionLogRetentionDays: 1 });
    const op = await sql.patchBackupConfiguration(P, I, COMPLIANT_SQL_BACKUP_CONFIGURATION);
    expect(op).toMatchObject({ operationType: 'UPDATE', status: 'PENDING' });
    expect((await sql.getInstance(P, I))?.settings.backupConfiguration).toEqual(COMPLIANT_SQL_BACKUP_CONFIGURATION);
    await expect(sql.patchBackupConfiguration(P, I, COMPLIANT_SQL_BACKUP_CONFIGURATION)).rejects.toMatchObject({ code: 'conflict' });
    clock.advance(QUEUED_MS + DEFAULT_SQL_DURATIONS.patchMs);
    await expect(
      sql.patchBackupConfiguration(P, I, { ...COMPLIANT_SQL_BACKUP_CONFIGURATION, enabled: false }),
    ).rejects.toMatchObject({ details: { httpStatus: 400 } });
  });

  it.each([
    ['deleteInstance', (sql: SimulatedCloudSql) => sql.deleteInstance(P, I, { finalBackup: { retentionDays: 7, description: 'f' } })],
    ['patchBackupConfiguration', (sql: SimulatedCloudSql) => sql.patchBackupConfiguration(P, I, COMPLIANT_SQL_BACKUP_CONFIGURATION)],
    [
      'restoreBackup',
      (sql: SimulatedCloudSql) => {
        const [runId] = sql.seedAutomatedBackups(P, I, [{ endTime: '2026-02-28T03:20:00Z' }]);
        return sql.restoreBackup(P, I, { project: P, instance: I, backupRunId: runId ?? '' });
      },
    ],
    ['cloneInstance', (sql: SimulatedCloudSql) => sql.cloneInstance(P, I, { destinationInstanceName: 'c', pointInTime: '2026-03-01T09:00:00Z' })],
  ] as const)('answers 409 to %s while another operation runs on the instance', async (_method, call) => {
    const { sql } = setup();
    sql.startOperation(P, I, { durationMs: 60_000 });
    await expect(call(sql)).rejects.toMatchObject({ code: 'conflict', retryable: true, details: { httpStatus: 409, reason: 'operationInProgress' } });
  });

  it('injects faults, counts calls and waits the latency on the new methods too', async () => {
    const { sql } = setup();
    sql.faults.inject({ method: 'insertInstance', afterEffect: true, error: { httpStatus: 503 } });
    sql.faults.inject({ method: 'getLatestRecoveryTime', error: { httpStatus: 429 } });
    await expect(sql.insertInstance(P, spec('lost-answer-db'))).rejects.toMatchObject({ code: 'unavailable', retryable: true });
    // The insert took effect: a retry finds the name taken.
    await expect(sql.insertInstance(P, spec('lost-answer-db'))).rejects.toMatchObject({ code: 'conflict' });
    await expect(sql.getLatestRecoveryTime(P, I)).rejects.toMatchObject({ code: 'rate-limited' });
    expect(sql.calls('insertInstance')).toBe(2);
    sql.faults.setLatency(30, 'getLatestRecoveryTime');
    const started = performance.now();
    await sql.getLatestRecoveryTime(P, I);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('removes every instance of a deleted project at once, keeping only final backups', async () => {
    const { clock, sql } = setup();
    sql.addInstance({ project: P, name: 'second-db', region: 'us-central1' });
    sql.addInstance({ project: 'mi-other', name: I, region: 'us-central1' });
    sql.seedAutomatedBackups(P, I, [{ endTime: '2026-02-28T03:20:00Z' }, { endTime: '2026-02-27T03:20:00Z', type: 'FINAL' }]);
    expect(sql.removeProject(P).sort()).toEqual([I, 'second-db']);
    expect(await sql.getInstance(P, I)).toBeUndefined();
    expect(await sql.getInstance(P, 'second-db')).toBeUndefined();
    expect(await sql.getInstance('mi-other', I)).toBeDefined();
    await expect(sql.listBackupRuns(P, I)).rejects.toMatchObject({ code: 'not-found' });
    expect((await sql.listFinalBackups(P, I)).map((b) => [b.type, b.state])).toEqual([['FINAL', 'SUCCESSFUL']]);
    expect(await sql.listFinalBackups(P, 'second-db')).toEqual([]);
    clock.advance(31 * DAY_MS);
    expect(await sql.listFinalBackups(P, I)).toEqual([]);
  });
});

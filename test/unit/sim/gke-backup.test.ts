import { describe, expect, it } from 'vitest';
import type { GkeBackup } from '../../../shared/ports.js';
import { ManualClock } from '../../../shared/sim/clock.js';
import { DEFAULT_GKE_DURATIONS, SimulatedGkeBackup } from '../../../shared/sim/gke-backup.js';

const PLAN = 'projects/mi-acme/locations/us-east1/backupPlans/acme-daily';
const CLUSTER = 'projects/mi-acme/locations/us-central1/clusters/acme';
const BACKUP_MS = DEFAULT_GKE_DURATIONS.creatingMs + DEFAULT_GKE_DURATIONS.inProgressMs;

function setup(): { clock: ManualClock; gke: SimulatedGkeBackup } {
  const clock = new ManualClock('2026-03-01T10:00:00Z');
  const gke = new SimulatedGkeBackup({ clock });
  gke.addBackupPlan({ name: PLAN, cluster: CLUSTER });
  return { clock, gke };
}

describe('simulated Backup for GKE', () => {
  it('answers 409 already-exists, not retryable, when a backup id is used a second time in a plan', async () => {
    const { gke } = setup();
    await gke.createBackup(PLAN, 'op-1-backup', {});
    const second = gke.createBackup(PLAN, 'op-1-backup', {});
    await expect(second).rejects.toMatchObject({ code: 'already-exists', retryable: false, details: { httpStatus: 409 } });
    expect((await gke.listBackups(PLAN)).items).toHaveLength(1);
  });

  it('accepts the same backup id in another plan', async () => {
    const { gke } = setup();
    const other = 'projects/mi-beta/locations/us-east1/backupPlans/beta-daily';
    gke.addBackupPlan({ name: other, cluster: 'projects/mi-beta/locations/us-central1/clusters/beta' });
    await gke.createBackup(PLAN, 'same-id', {});
    await expect(gke.createBackup(other, 'same-id', {})).resolves.toMatchObject({ done: false });
  });

  it.each(['Upper', '1starts-with-digit', 'ends-with-hyphen-', 'has_underscore', '', 'a'.repeat(64)])(
    'refuses the invalid backup id %j with a non-retryable 400',
    async (id) => {
      const { gke } = setup();
      await expect(gke.createBackup(PLAN, id, {})).rejects.toMatchObject({
        code: 'failed-precondition',
        retryable: false,
        details: { httpStatus: 400 },
        message: expect.stringContaining('lowercase') as unknown,
      });
    },
  );

  it('accepts backup ids of one and of 63 characters', async () => {
    const { gke } = setup();
    await expect(gke.createBackup(PLAN, 'a', {})).resolves.toMatchObject({ done: false });
    await expect(gke.createBackup(PLAN, `b${'0'.repeat(62)}`, {})).resolves.toMatchObject({ done: false });
  });

  it('moves a backup from CREATING to IN_PROGRESS to SUCCEEDED, and finishes its operation with it', async () => {
    const { clock, gke } = setup();
    const op = await gke.createBackup(PLAN, 'b1', { description: 'before upgrade', labels: { operation: 'op-1' } });
    const name = `${PLAN}/backups/b1`;
    expect(op.metadata?.target).toBe(name);
    expect(await gke.getBackup(name)).toMatchObject({ state: 'CREATING', manual: true, labels: { operation: 'op-1' }, retainDays: 90 });

    clock.advance(DEFAULT_GKE_DURATIONS.creatingMs);
    expect((await gke.getBackup(name))?.state).toBe('IN_PROGRESS');
    expect((await gke.getOperation(op.name))?.done).toBe(false);

    clock.advance(DEFAULT_GKE_DURATIONS.inProgressMs);
    expect(await gke.getBackup(name)).toMatchObject({ state: 'SUCCEEDED', completeTime: clock.now().toISOString() });
    const done = await gke.getOperation(op.name);
    expect(done?.done).toBe(true);
    expect(done?.error).toBeUndefined();
  });

  it('ends the next backup of a plan FAILED when a failure was scripted, and only that one', async () => {
    const { clock, gke } = setup();
    gke.scriptBackupOutcome(PLAN, 'FAILED', 'volume snapshot quota');
    const op = await gke.createBackup(PLAN, 'b1', {});
    await gke.createBackup(PLAN, 'b2', {});
    clock.advance(BACKUP_MS);
    expect(await gke.getBackup(`${PLAN}/backups/b1`)).toMatchObject({ state: 'FAILED', stateReason: 'volume snapshot quota' });
    expect((await gke.getOperation(op.name))?.error?.message).toBe('volume snapshot quota');
    expect((await gke.getBackup(`${PLAN}/backups/b2`))?.state).toBe('SUCCEEDED');
  });

  it('lists backups in pages, each backup exactly once', async () => {
    const { gke } = setup();
    const seeded = gke.seedBackups(
      PLAN,
      Array.from({ length: 123 }, (_, day) => ({ createTime: new Date(Date.UTC(2025, 11, 1) + day * 86_400_000) })),
    );
    const first = await gke.listBackups(PLAN);
    expect(first.items).toHaveLength(50);

    const seen: GkeBackup[] = [];
    let pageToken: string | undefined;
    do {
      const page = await gke.listBackups(PLAN, { pageSize: 20, ...(pageToken ? { pageToken } : {}) });
      expect(page.items.length).toBeLessThanOrEqual(20);
      seen.push(...page.items);
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
    expect(seen).toHaveLength(123);
    expect(new Set(seen.map((backup) => backup.name))).toEqual(new Set(seeded));
  });

  it('answers undefined for unknown backups, plans and operations, and 404 when listing an unknown plan', async () => {
    const { gke } = setup();
    expect(await gke.getBackup(`${PLAN}/backups/nope`)).toBeUndefined();
    expect(await gke.getBackupPlan(`${PLAN}x`)).toBeUndefined();
    expect(await gke.getOperation('projects/mi-acme/locations/us-east1/operations/nope')).toBeUndefined();
    await expect(gke.listBackups(`${PLAN}x`)).rejects.toMatchObject({ code: 'not-found', details: { httpStatus: 404 } });
    await expect(gke.createBackup(`${PLAN}x`, 'b1', {})).rejects.toMatchObject({ code: 'not-found' });
  });

  it('reports the seeded plan with the compliant policy', async () => {
    const { gke } = setup();
    expect(await gke.getBackupPlan(PLAN)).toMatchObject({
      cluster: CLUSTER,
      state: 'READY',
      backupSchedule: { paused: false },
      retentionPolicy: { backupRetainDays: 90 },
      backupConfig: { allNamespaces: true, includeVolumeData: true, includeSecrets: true },
    });
  });

  it('surfaces an injected 503 as a retryable error, then answers the next call', async () => {
    const { gke } = setup();
    gke.faults.inject({ method: 'createBackup', error: { httpStatus: 503 } });
    await expect(gke.createBackup(PLAN, 'b1', {})).rejects.toMatchObject({ code: 'unavailable', retryable: true });
    await expect(gke.createBackup(PLAN, 'b1', {})).resolves.toMatchObject({ done: false });
    expect(gke.calls('createBackup')).toBe(2);
  });

  it('answers 409 to a retry whose first attempt took effect but lost its answer', async () => {
    const { gke } = setup();
    gke.faults.inject({ method: 'createBackup', afterEffect: true, error: { httpStatus: 504 } });
    await expect(gke.createBackup(PLAN, 'b1', {})).rejects.toMatchObject({ code: 'deadline-exceeded', retryable: true });
    await expect(gke.createBackup(PLAN, 'b1', {})).rejects.toMatchObject({ code: 'already-exists' });
    expect(await gke.getBackup(`${PLAN}/backups/b1`)).toBeDefined();
  });
});

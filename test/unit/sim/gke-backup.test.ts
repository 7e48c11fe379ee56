import { describe, expect, it } from 'vitest';
import type { GkeBackup, GkeBackupPlanSpec } from '../../../shared/ports.js';
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

const LOCATION = 'projects/mi-acme/locations/us-east1';
const RESTORE_PLAN = `${LOCATION}/restorePlans/acme-restore`;
const RESTORE_MS = DEFAULT_GKE_DURATIONS.restoreCreatingMs + DEFAULT_GKE_DURATIONS.restoreInProgressMs;
const PLAN_SPEC: GkeBackupPlanSpec = {
  cluster: CLUSTER,
  cronSchedule: '0 3 * * *',
  backupRetainDays: 90,
  allNamespaces: true,
  includeVolumeData: true,
  includeSecrets: true,
};

/** A plan with one SUCCEEDED backup and a restore plan into its cluster. */
async function withRestorePlan(): Promise<{ clock: ManualClock; gke: SimulatedGkeBackup; backup: string }> {
  const { clock, gke } = setup();
  await gke.createBackup(PLAN, 'b1', {});
  clock.advance(BACKUP_MS);
  await gke.createRestorePlan(LOCATION, 'acme-restore', { backupPlan: PLAN, cluster: CLUSTER });
  return { clock, gke, backup: `${PLAN}/backups/b1` };
}

describe('simulated Backup for GKE: plans and restores', () => {
  it('creates a READY backup plan named under its parent, its operation done at once', async () => {
    const { gke } = setup();
    const op = await gke.createBackupPlan(LOCATION, 'beta-daily', { ...PLAN_SPEC, backupRetainDays: 30 });
    const name = `${LOCATION}/backupPlans/beta-daily`;
    expect(op).toMatchObject({ done: true, metadata: { target: name, verb: 'create' }, response: { name } });
    expect(op.name).toMatch(new RegExp(`^${LOCATION}/operations/`));
    expect(await gke.getBackupPlan(name)).toMatchObject({
      cluster: CLUSTER,
      state: 'READY',
      backupSchedule: { cronSchedule: '0 3 * * *' },
      retentionPolicy: { backupRetainDays: 30 },
      backupConfig: { allNamespaces: true, includeVolumeData: true, includeSecrets: true },
    });
    await expect(gke.createBackup(name, 'first', {})).resolves.toMatchObject({ done: false });
  });

  it('refuses a plan in another project than its cluster without a backup channel from the cluster to it, and takes it with one', async () => {
    const { gke } = setup();
    const channelParent = CLUSTER.split('/').slice(0, 4).join('/');
    await expect(gke.createBackupPlan('projects/mi-backups/locations/us-east1', 'acme-final', { ...PLAN_SPEC, cronSchedule: '' })).rejects.toMatchObject({
      details: { httpStatus: 400 },
      message: expect.stringContaining(`no backup channel in ${channelParent} has destinationProject projects/mi-backups`) as unknown,
    });
    // A channel to another project does not do.
    await gke.createBackupChannel(channelParent, 'elsewhere', { destinationProject: 'projects/someone-else' });
    await expect(gke.createBackupPlan('projects/mi-backups/locations/us-east1', 'acme-final', { ...PLAN_SPEC, cronSchedule: '' })).rejects.toMatchObject({ details: { httpStatus: 400 } });
    await gke.createBackupChannel(channelParent, 'mi-final-backups', { destinationProject: 'projects/mi-backups' });
    await expect(gke.createBackupChannel(channelParent, 'mi-final-backups', { destinationProject: 'projects/mi-backups' })).rejects.toMatchObject({ code: 'already-exists' });
    await expect(gke.createBackupChannel(channelParent, 'bad', { destinationProject: 'mi-backups' })).rejects.toMatchObject({ details: { httpStatus: 400 } });
    expect(await gke.getBackupChannel(`${channelParent}/backupChannels/mi-final-backups`)).toMatchObject({ destinationProject: 'projects/mi-backups' });
    await gke.createBackupPlan('projects/mi-backups/locations/us-east1', 'acme-final', { ...PLAN_SPEC, cronSchedule: '' });
    // The channel is the cluster project's: deleting that project removes it.
    gke.removeProject(CLUSTER.split('/')[1] ?? '');
    expect(await gke.getBackupChannel(`${channelParent}/backupChannels/mi-final-backups`)).toBeUndefined();
  });

  it('accepts a plan without a schedule, for manual (final) backups only', async () => {
    const { gke } = setup();
    gke.addBackupChannel(`${CLUSTER.split('/').slice(0, 4).join('/')}/backupChannels/mi-final-backups`, 'projects/mi-backups');
    await gke.createBackupPlan('projects/mi-backups/locations/us-east1', 'acme-final', { ...PLAN_SPEC, cronSchedule: '', backupRetainDays: 365 });
    const plan = await gke.getBackupPlan('projects/mi-backups/locations/us-east1/backupPlans/acme-final');
    expect(plan).toMatchObject({ state: 'READY', backupSchedule: { paused: false }, retentionPolicy: { backupRetainDays: 365 } });
    expect(plan?.backupSchedule?.cronSchedule).toBeUndefined();
    await expect(gke.createBackupPlan(LOCATION, 'bad-cron', { ...PLAN_SPEC, cronSchedule: 'daily' })).rejects.toMatchObject({ details: { httpStatus: 400 } });
  });

  it('plans and restore plans answer 409 on a used id', async () => {
    const { gke } = setup();
    await expect(gke.createBackupPlan(LOCATION, 'acme-daily', PLAN_SPEC)).rejects.toMatchObject({
      code: 'already-exists',
      retryable: false,
      details: { httpStatus: 409 },
    });
    await gke.createRestorePlan(LOCATION, 'acme-restore', { backupPlan: PLAN, cluster: CLUSTER });
    await expect(gke.createRestorePlan(LOCATION, 'acme-restore', { backupPlan: PLAN, cluster: CLUSTER })).rejects.toMatchObject({
      code: 'already-exists',
      details: { httpStatus: 409 },
    });
  });

  it('refuses a bad plan id or parent with a 400, and a restore plan of an unknown backup plan with a 404', async () => {
    const { gke } = setup();
    await expect(gke.createBackupPlan(LOCATION, 'Bad_Id', PLAN_SPEC)).rejects.toMatchObject({ details: { httpStatus: 400 } });
    await expect(gke.createBackupPlan('projects/mi-acme', 'ok', PLAN_SPEC)).rejects.toMatchObject({ details: { httpStatus: 400 } });
    await expect(gke.createRestorePlan(LOCATION, 'r1', { backupPlan: `${PLAN}x`, cluster: CLUSTER })).rejects.toMatchObject({
      code: 'not-found',
      details: { httpStatus: 404 },
    });
  });

  it('updates the schedule, retention and scope of a plan, and answers 404 for an unknown one', async () => {
    const { gke } = setup();
    const op = await gke.updateBackupPlan(PLAN, { cronSchedule: '30 2 * * *', backupRetainDays: 120, allNamespaces: true, includeVolumeData: false, includeSecrets: true });
    expect(op).toMatchObject({ done: true, metadata: { verb: 'update', target: PLAN } });
    expect(await gke.getBackupPlan(PLAN)).toMatchObject({
      cluster: CLUSTER,
      backupSchedule: { cronSchedule: '30 2 * * *', paused: false },
      retentionPolicy: { backupRetainDays: 120 },
      backupConfig: { includeVolumeData: false },
    });
    await expect(gke.updateBackupPlan(`${PLAN}x`, PLAN_SPEC)).rejects.toMatchObject({ code: 'not-found', details: { httpStatus: 404 } });
  });

  it('keeps the test-control changeBackupPlan for drift made outside the control plane', async () => {
    const { gke } = setup();
    gke.changeBackupPlan(PLAN, { backupSchedule: { cronSchedule: '0 3 * * *', paused: true } });
    expect((await gke.getBackupPlan(PLAN))?.backupSchedule?.paused).toBe(true);
  });

  it('createRestore progresses CREATING, IN_PROGRESS, SUCCEEDED, and its operation finishes with it', async () => {
    const { clock, gke, backup } = await withRestorePlan();
    const op = await gke.createRestore(RESTORE_PLAN, 'r1', { backup });
    const name = `${RESTORE_PLAN}/restores/r1`;
    expect(op).toMatchObject({ done: false, metadata: { target: name, verb: 'create' } });
    expect(await gke.getRestore(name)).toMatchObject({ state: 'CREATING', backup, cluster: CLUSTER });
    clock.advance(DEFAULT_GKE_DURATIONS.restoreCreatingMs);
    expect((await gke.getRestore(name))?.state).toBe('IN_PROGRESS');
    expect(gke.restoresInto(CLUSTER)).toEqual([]);
    clock.advance(DEFAULT_GKE_DURATIONS.restoreInProgressMs);
    expect(await gke.getRestore(name)).toMatchObject({ state: 'SUCCEEDED', completeTime: clock.now().toISOString() });
    expect(await gke.getOperation(op.name)).toMatchObject({ done: true, response: { name, state: 'SUCCEEDED' } });
    expect(gke.restoresInto(CLUSTER)).toEqual([{ restore: name, backup, completeTime: clock.now().toISOString() }]);
  });

  it('a scripted restore failure ends FAILED with its reason, and only that restore', async () => {
    const { clock, gke, backup } = await withRestorePlan();
    gke.scriptRestoreOutcome(RESTORE_PLAN, 'FAILED', 'volume restore timed out');
    const failed = await gke.createRestore(RESTORE_PLAN, 'r1', { backup });
    await gke.createRestore(RESTORE_PLAN, 'r2', { backup });
    clock.advance(RESTORE_MS);
    expect(await gke.getRestore(`${RESTORE_PLAN}/restores/r1`)).toMatchObject({ state: 'FAILED', stateReason: 'volume restore timed out' });
    expect(await gke.getOperation(failed.name)).toMatchObject({ done: true, error: { message: 'volume restore timed out' } });
    expect((await gke.getRestore(`${RESTORE_PLAN}/restores/r2`))?.state).toBe('SUCCEEDED');
  });

  it('refuses a restore of a missing backup (404), of an unfinished or failed one (400), and a used restore id (409)', async () => {
    const { clock, gke, backup } = await withRestorePlan();
    await expect(gke.createRestore(RESTORE_PLAN, 'r1', { backup: `${PLAN}/backups/nope` })).rejects.toMatchObject({
      code: 'not-found',
      details: { httpStatus: 404 },
    });
    await gke.createBackup(PLAN, 'b2', {});
    await expect(gke.createRestore(RESTORE_PLAN, 'r1', { backup: `${PLAN}/backups/b2` })).rejects.toMatchObject({
      code: 'failed-precondition',
      details: { httpStatus: 400 },
    });
    const [failed] = gke.seedBackups(PLAN, [{ backupId: 'old-failed', createTime: '2026-02-01T03:00:00Z', state: 'FAILED' }]);
    await expect(gke.createRestore(RESTORE_PLAN, 'r1', { backup: failed ?? '' })).rejects.toMatchObject({ details: { httpStatus: 400 } });
    await expect(gke.createRestore(`${LOCATION}/restorePlans/nope`, 'r1', { backup })).rejects.toMatchObject({ code: 'not-found' });

    await gke.createRestore(RESTORE_PLAN, 'r1', { backup });
    clock.advance(RESTORE_MS);
    await expect(gke.createRestore(RESTORE_PLAN, 'r1', { backup })).rejects.toMatchObject({ code: 'already-exists', details: { httpStatus: 409 } });
    expect(gke.calls('createRestore')).toBe(6);
  });

  it('refuses a restore into a cluster that no longer exists', async () => {
    const { clock, gke } = setup();
    const central = 'projects/mi-backups/locations/us-east1/backupPlans/acme-central';
    const restorePlan = 'projects/mi-backups/locations/us-east1/restorePlans/acme-central';
    gke.addBackupPlan({ name: central, cluster: CLUSTER });
    await gke.createBackup(central, 'b1', {});
    clock.advance(BACKUP_MS);
    await gke.createRestorePlan('projects/mi-backups/locations/us-east1', 'acme-central', { backupPlan: central, cluster: CLUSTER });
    gke.removeProject('mi-acme');
    expect(gke.hasCluster(CLUSTER)).toBe(false);
    await expect(gke.createRestore(restorePlan, 'r1', { backup: `${central}/backups/b1` })).rejects.toMatchObject({
      code: 'failed-precondition',
      details: { httpStatus: 400 },
    });
    gke.addCluster(CLUSTER);
    await expect(gke.createRestore(restorePlan, 'r1', { backup: `${central}/backups/b1` })).resolves.toMatchObject({ done: false });
  });

  it('deleting a project removes its plans and their backups but not those in another project\'s plan', async () => {
    const { clock, gke } = setup();
    const central = 'projects/mi-backups/locations/us-east1/backupPlans/acme-central';
    gke.addBackupPlan({ name: central, cluster: CLUSTER });
    await gke.createBackup(PLAN, 'local', {});
    await gke.createBackup(central, 'kept', {});
    clock.advance(BACKUP_MS);

    expect(gke.removeProject('mi-acme')).toEqual({ backupPlans: [PLAN], restorePlans: [], clusters: [CLUSTER] });
    expect(await gke.getBackupPlan(PLAN)).toBeUndefined();
    expect(await gke.getBackup(`${PLAN}/backups/local`)).toBeUndefined();
    await expect(gke.listBackups(PLAN)).rejects.toMatchObject({ code: 'not-found' });
    expect(await gke.getBackup(`${central}/backups/kept`)).toMatchObject({ state: 'SUCCEEDED' });
  });

  it('injects faults on the new methods and can lose the answer of a restore that started', async () => {
    const { gke, backup } = await withRestorePlan();
    gke.faults.inject({ method: 'createBackupPlan', error: { httpStatus: 503 } });
    await expect(gke.createBackupPlan(LOCATION, 'p2', PLAN_SPEC)).rejects.toMatchObject({ code: 'unavailable', retryable: true });
    await expect(gke.createBackupPlan(LOCATION, 'p2', PLAN_SPEC)).resolves.toMatchObject({ done: true });
    gke.faults.inject({ method: 'createRestore', afterEffect: true, error: { httpStatus: 504 } });
    await expect(gke.createRestore(RESTORE_PLAN, 'r1', { backup })).rejects.toMatchObject({ code: 'deadline-exceeded' });
    await expect(gke.createRestore(RESTORE_PLAN, 'r1', { backup })).rejects.toMatchObject({ code: 'already-exists' });
    expect(await gke.getRestore(`${RESTORE_PLAN}/restores/r1`)).toBeDefined();
    expect(await gke.getRestore(`${RESTORE_PLAN}/restores/nope`)).toBeUndefined();
    expect(gke.calls('createBackupPlan')).toBe(2);
  });
});

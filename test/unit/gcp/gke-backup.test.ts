import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGkeBackupAdapter } from '../../../shared/gcp/gke-backup.js';
import { deadUrl, googleError, startFakeGoogleApi, type FakeGoogleApi } from './fake-google-api.js';
import { controlPlaneFailure } from '../../support/failures.js';

// Bodies follow the Backup for GKE v1 reference (REST Resource:
// v1.projects.locations.backupPlans.backups, backupPlans, operations):
// https://cloud.google.com/kubernetes-engine/docs/add-on/backup-for-gke/reference/rest
const LOCATION = 'projects/mi-src-1a2b3c4d/locations/us-central1';
const PLAN = `${LOCATION}/backupPlans/mi-daily`;
const BACKUP_ID = 'mi-op-7f3a-backup-gke-2c9e1d';
const BACKUP_NAME = `${PLAN}/backups/${BACKUP_ID}`;
const OPERATION_NAME = `${LOCATION}/operations/operation-1764151201234-5f0c1a2b3c4d5-6e7f8a9b-0c1d2e3f`;

const CREATE_OPERATION = {
  name: OPERATION_NAME,
  metadata: {
    '@type': 'type.googleapis.com/google.cloud.gkebackup.v1.OperationMetadata',
    createTime: '2026-11-26T10:00:01.234567890Z',
    target: BACKUP_NAME,
    verb: 'create',
    requestedCancellation: false,
    apiVersion: 'v1',
  },
  done: false,
};

const BACKUP = {
  name: BACKUP_NAME,
  uid: '8b3d6c2e-0e6b-4a44-9d0c-3f3c2b1a0e9f',
  createTime: '2026-11-26T10:00:02.123456789Z',
  updateTime: '2026-11-26T10:04:40.551204393Z',
  manual: true,
  labels: { 'mi-operation': 'op-7f3a' },
  deleteLockDays: 0,
  retainDays: 90,
  retainExpireTime: '2027-02-24T10:00:02.123456789Z',
  allNamespaces: true,
  containsVolumeData: true,
  containsSecrets: true,
  clusterMetadata: {
    cluster: 'projects/mi-src-1a2b3c4d/locations/us-central1/clusters/mi-src-1a2b3c4d',
    k8sVersion: '1.30.5-gke.1014001',
    backupCrdVersions: { 'backupjobs.gkebackup.gke.io': 'v1' },
    gkeVersion: 'v1.30.5-gke.1014001',
  },
  state: 'SUCCEEDED',
  completeTime: '2026-11-26T10:04:40.551204393Z',
  resourceCount: 412,
  volumeCount: 3,
  sizeBytes: '5368709120',
  etag: '3',
  description: 'before upgrade to 5.5.0 (op-7f3a)',
  podCount: 27,
  configBackupSizeBytes: '1048576',
  permissiveMode: false,
};

const BACKUP_PLAN = {
  name: PLAN,
  uid: '2f1e0d9c-8b7a-4c5d-9e6f-7a8b9c0d1e2f',
  createTime: '2026-01-10T12:00:00.000000000Z',
  updateTime: '2026-01-10T12:05:00.000000000Z',
  description: 'daily, 90 days, all namespaces with volumes',
  cluster: 'projects/mi-src-1a2b3c4d/locations/us-central1/clusters/mi-src-1a2b3c4d',
  retentionPolicy: { backupDeleteLockDays: 0, backupRetainDays: 90, locked: false },
  labels: { 'managed-by': 'mi' },
  backupSchedule: { cronSchedule: '0 3 * * *', paused: false, nextScheduledBackupTime: '2026-11-27T03:00:00Z' },
  etag: '2',
  deactivated: false,
  backupConfig: { allNamespaces: true, includeVolumeData: true, includeSecrets: true },
  protectedPodCount: 27,
  state: 'READY',
  rpoRiskLevel: 0,
};

let api: FakeGoogleApi;
let gke: ReturnType<typeof createGkeBackupAdapter>;

beforeAll(async () => {
  api = await startFakeGoogleApi();
  gke = createGkeBackupAdapter({ rootUrl: api.url, auth: 'none', deadlineMs: 2_000 });
});

afterAll(async () => {
  await api.close();
});

beforeEach(() => {
  api.requests.length = 0;
});


describe('Backup for GKE adapter: requests', () => {
  it('creates a backup with POST {parent}/backups?backupId=... and the body fields', async () => {
    api.answer({ status: 200, body: CREATE_OPERATION });
    const op = await gke.createBackup(PLAN, BACKUP_ID, { description: 'before upgrade to 5.5.0 (op-7f3a)', labels: { 'mi-operation': 'op-7f3a' } });

    expect(api.requests).toHaveLength(1);
    const [request] = api.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe(`/v1/${PLAN}/backups`);
    expect(request?.query).toEqual({ backupId: BACKUP_ID });
    expect(request?.body).toEqual({ description: 'before upgrade to 5.5.0 (op-7f3a)', labels: { 'mi-operation': 'op-7f3a' } });
    expect(request?.headers.authorization).toBeUndefined();

    expect(op).toEqual({ name: OPERATION_NAME, done: false, metadata: CREATE_OPERATION.metadata });
  });

  it('gets a backup by name and normalises its times', async () => {
    api.answer({ status: 200, body: BACKUP });
    const backup = await gke.getBackup(BACKUP_NAME);
    expect(api.requests[0]?.method).toBe('GET');
    expect(api.requests[0]?.path).toBe(`/v1/${BACKUP_NAME}`);
    expect(backup).toEqual({
      name: BACKUP_NAME,
      uid: '8b3d6c2e-0e6b-4a44-9d0c-3f3c2b1a0e9f',
      state: 'SUCCEEDED',
      manual: true,
      description: 'before upgrade to 5.5.0 (op-7f3a)',
      labels: { 'mi-operation': 'op-7f3a' },
      createTime: '2026-11-26T10:00:02.123Z',
      completeTime: '2026-11-26T10:04:40.551Z',
      retainDays: 90,
      retainExpireTime: '2027-02-24T10:00:02.123Z',
    });
  });

  it('lists backups one page at a time with pageSize and pageToken', async () => {
    const inProgress = { ...BACKUP, name: `${PLAN}/backups/daily-20261126`, manual: false, state: 'IN_PROGRESS', completeTime: undefined, labels: undefined };
    api.answer({ status: 200, body: { backups: [BACKUP, inProgress], nextPageToken: 'page-2' } });
    const page = await gke.listBackups(PLAN, { pageSize: 2, pageToken: 'page-1' });
    expect(api.requests[0]?.method).toBe('GET');
    expect(api.requests[0]?.path).toBe(`/v1/${PLAN}/backups`);
    expect(api.requests[0]?.query).toEqual({ pageSize: '2', pageToken: 'page-1' });
    expect(page.nextPageToken).toBe('page-2');
    expect(page.items.map((b) => [b.name, b.state, b.manual, b.completeTime])).toEqual([
      [BACKUP_NAME, 'SUCCEEDED', true, '2026-11-26T10:04:40.551Z'],
      [`${PLAN}/backups/daily-20261126`, 'IN_PROGRESS', false, undefined],
    ]);
  });

  it('reads an empty list (the service omits `backups`) as no items and no token', async () => {
    api.answer({ status: 200, body: {} });
    await expect(gke.listBackups(PLAN)).resolves.toEqual({ items: [] });
    expect(api.requests[0]?.query).toEqual({});
  });

  it('gets a backup plan with its schedule, retention and config', async () => {
    api.answer({ status: 200, body: BACKUP_PLAN });
    const plan = await gke.getBackupPlan(PLAN);
    expect(api.requests[0]?.path).toBe(`/v1/${PLAN}`);
    expect(plan).toEqual({
      name: PLAN,
      uid: '2f1e0d9c-8b7a-4c5d-9e6f-7a8b9c0d1e2f',
      cluster: 'projects/mi-src-1a2b3c4d/locations/us-central1/clusters/mi-src-1a2b3c4d',
      state: 'READY',
      deactivated: false,
      backupSchedule: { cronSchedule: '0 3 * * *', paused: false },
      retentionPolicy: { backupRetainDays: 90, backupDeleteLockDays: 0, locked: false },
      backupConfig: { allNamespaces: true, includeVolumeData: true, includeSecrets: true },
    });
  });

  it('gets a finished operation with its error', async () => {
    api.answer({
      status: 200,
      body: { ...CREATE_OPERATION, done: true, error: { code: 9, message: 'BackupPlan is deactivated', details: [] } },
    });
    const op = await gke.getOperation(OPERATION_NAME);
    expect(api.requests[0]?.path).toBe(`/v1/${OPERATION_NAME}`);
    expect(op).toMatchObject({ name: OPERATION_NAME, done: true, error: { code: 9, message: 'BackupPlan is deactivated' } });
  });
});

describe('Backup for GKE adapter: errors', () => {
  it('answers 409 ALREADY_EXISTS on create with a permanent already-exists (the caller fetches it)', async () => {
    api.answer(googleError(409, 'ALREADY_EXISTS', `Resource '${BACKUP_NAME}' already exists`));
    const error = await controlPlaneFailure(gke.createBackup(PLAN, BACKUP_ID, {}));
    expect(error.code).toBe('already-exists');
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ httpStatus: 409, status: 'ALREADY_EXISTS' });
    expect(error.cause).toBeInstanceOf(Error);
    expect(api.requests).toHaveLength(1);
  });

  it('answers undefined for a 404 on gets', async () => {
    api.answer(googleError(404, 'NOT_FOUND', `Resource '${BACKUP_NAME}' was not found`));
    await expect(gke.getBackup(BACKUP_NAME)).resolves.toBeUndefined();
    await expect(gke.getBackupPlan(PLAN)).resolves.toBeUndefined();
    await expect(gke.getOperation(OPERATION_NAME)).resolves.toBeUndefined();
  });

  it('fails with a permanent not-found for a 404 on list', async () => {
    api.answer(googleError(404, 'NOT_FOUND', `Resource '${PLAN}' was not found`));
    const error = await controlPlaneFailure(gke.listBackups(PLAN));
    expect(error.code).toBe('not-found');
    expect(error.retryable).toBe(false);
  });

  it.each([
    [429, 'RESOURCE_EXHAUSTED', 'rate-limited', true],
    [503, 'UNAVAILABLE', 'unavailable', true],
    [409, 'ABORTED', 'conflict', true],
    [403, 'PERMISSION_DENIED', 'failed-precondition', false],
    [400, 'INVALID_ARGUMENT', 'failed-precondition', false],
  ] as const)('maps HTTP %i %s to %s (retryable: %s) without retrying inside the client', async (http, status, code, retryable) => {
    api.answer(googleError(http, status, `answered ${status}`));
    const error = await controlPlaneFailure(gke.createBackup(PLAN, BACKUP_ID, {}));
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.details.httpStatus).toBe(http);
    expect(api.requests).toHaveLength(1);
  });

  it('names the field of an answer that breaks the reference', async () => {
    api.answer({ status: 200, body: { ...BACKUP, state: 'EXPLODED' } });
    const error = await controlPlaneFailure(gke.getBackup(BACKUP_NAME));
    expect(error.retryable).toBe(false);
    expect(error.details.field).toBe('state');
  });

  it('fails retryably within its deadline when the service does not answer', async () => {
    api.answer({ status: 200, hang: true });
    const hung = createGkeBackupAdapter({ rootUrl: api.url, auth: 'none', deadlineMs: 300 });
    const started = Date.now();
    const error = await controlPlaneFailure(hung.getBackup(BACKUP_NAME));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error.code).toBe('deadline-exceeded');
    expect(error.retryable).toBe(true);
  });

  it('fails retryably within its deadline against a dead port', async () => {
    const dead = createGkeBackupAdapter({ rootUrl: await deadUrl(), auth: 'none', deadlineMs: 1_000 });
    const started = Date.now();
    const error = await controlPlaneFailure(dead.getBackupPlan(PLAN));
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(error.retryable).toBe(true);
    expect(['unavailable', 'deadline-exceeded']).toContain(error.code);
  });
});

// Bodies follow the reference of v1.projects.locations.backupPlans, restorePlans and
// restorePlans.restores (BackupPlan, RestorePlan, Restore).
const CLUSTER = 'projects/mi-src-1a2b3c4d/locations/us-central1/clusters/mi-src-1a2b3c4d';
const RESTORE_PLAN = `${LOCATION}/restorePlans/mi-restore`;
const RESTORE_NAME = `${RESTORE_PLAN}/restores/mi-op-9c1d-restore-gke`;
const SPEC = { cronSchedule: '0 3 * * *', backupRetainDays: 90, allNamespaces: true, includeVolumeData: true, includeSecrets: true };

function lro(target: string, verb: string): Record<string, unknown> {
  return { ...CREATE_OPERATION, metadata: { ...CREATE_OPERATION.metadata, target, verb } };
}

const RESTORE = {
  name: RESTORE_NAME,
  uid: '0b2c4d6e-8f01-4a23-b456-789abcdef012',
  createTime: '2026-11-26T11:00:00.111111111Z',
  updateTime: '2026-11-26T11:20:00.222222222Z',
  description: 'restore of op-9c1d',
  backup: BACKUP_NAME,
  cluster: CLUSTER,
  restoreConfig: {
    volumeDataRestorePolicy: 'RESTORE_VOLUME_DATA_FROM_BACKUP',
    clusterResourceConflictPolicy: 'USE_EXISTING_VERSION',
    namespacedResourceRestoreMode: 'DELETE_AND_RESTORE',
    clusterResourceRestoreScope: { allGroupKinds: true },
    allNamespaces: true,
  },
  labels: {},
  state: 'SUCCEEDED',
  stateReason: '',
  completeTime: '2026-11-26T11:20:00.222222222Z',
  resourcesRestoredCount: 412,
  resourcesExcludedCount: 0,
  resourcesFailedCount: 0,
  volumesRestoredCount: 3,
  etag: '4',
};

describe('Backup for GKE adapter: plans and restores', () => {
  it('creates a backup plan with POST {parent}/backupPlans?backupPlanId=... and its schedule, retention and scope', async () => {
    api.answer({ status: 200, body: lro(PLAN, 'create') });
    const op = await gke.createBackupPlan(LOCATION, 'mi-daily', { ...SPEC, cluster: CLUSTER, labels: { 'managed-by': 'mi' } });
    expect(api.requests).toHaveLength(1);
    const [request] = api.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe(`/v1/${LOCATION}/backupPlans`);
    expect(request?.query).toEqual({ backupPlanId: 'mi-daily' });
    expect(request?.body).toEqual({
      cluster: CLUSTER,
      backupSchedule: { cronSchedule: '0 3 * * *' },
      retentionPolicy: { backupRetainDays: 90 },
      backupConfig: { allNamespaces: true, includeVolumeData: true, includeSecrets: true },
      labels: { 'managed-by': 'mi' },
    });
    expect(op).toMatchObject({ name: OPERATION_NAME, done: false, metadata: { target: PLAN, verb: 'create' } });
  });

  it('creates a plan without a schedule (manual backups only) with an empty backupSchedule', async () => {
    api.answer({ status: 200, body: lro(PLAN, 'create') });
    await gke.createBackupPlan(LOCATION, 'mi-final', { ...SPEC, cronSchedule: '', cluster: CLUSTER });
    expect(api.requests[0]?.body).toMatchObject({ backupSchedule: {}, retentionPolicy: { backupRetainDays: 90 } });
  });

  it('updates a backup plan with PATCH and an updateMask naming exactly the fields it sets', async () => {
    api.answer({ status: 200, body: lro(PLAN, 'update') });
    await gke.updateBackupPlan(PLAN, SPEC);
    const [request] = api.requests;
    expect(request?.method).toBe('PATCH');
    expect(request?.path).toBe(`/v1/${PLAN}`);
    expect(request?.query).toEqual({
      updateMask: 'backupSchedule.cronSchedule,retentionPolicy.backupRetainDays,backupConfig.allNamespaces,backupConfig.includeVolumeData,backupConfig.includeSecrets',
    });
    expect(request?.body).toEqual({
      backupSchedule: { cronSchedule: '0 3 * * *' },
      retentionPolicy: { backupRetainDays: 90 },
      backupConfig: { allNamespaces: true, includeVolumeData: true, includeSecrets: true },
    });
  });

  it('creates a restore plan with POST {parent}/restorePlans?restorePlanId=... restoring everything with volume data', async () => {
    api.answer({ status: 200, body: lro(RESTORE_PLAN, 'create') });
    await gke.createRestorePlan(LOCATION, 'mi-restore', { backupPlan: PLAN, cluster: CLUSTER });
    const [request] = api.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe(`/v1/${LOCATION}/restorePlans`);
    expect(request?.query).toEqual({ restorePlanId: 'mi-restore' });
    expect(request?.body).toEqual({
      backupPlan: PLAN,
      cluster: CLUSTER,
      restoreConfig: {
        allNamespaces: true,
        namespacedResourceRestoreMode: 'DELETE_AND_RESTORE',
        volumeDataRestorePolicy: 'RESTORE_VOLUME_DATA_FROM_BACKUP',
        clusterResourceConflictPolicy: 'USE_EXISTING_VERSION',
        clusterResourceRestoreScope: { allGroupKinds: true },
      },
    });
  });

  it('creates a restore with POST {restorePlan}/restores?restoreId=... naming the backup', async () => {
    api.answer({ status: 200, body: lro(RESTORE_NAME, 'create') });
    const op = await gke.createRestore(RESTORE_PLAN, 'mi-op-9c1d-restore-gke', { backup: BACKUP_NAME });
    const [request] = api.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe(`/v1/${RESTORE_PLAN}/restores`);
    expect(request?.query).toEqual({ restoreId: 'mi-op-9c1d-restore-gke' });
    expect(request?.body).toEqual({ backup: BACKUP_NAME });
    expect(op.metadata?.target).toBe(RESTORE_NAME);
  });

  it('gets a restore by name and normalises its times', async () => {
    api.answer({ status: 200, body: RESTORE });
    const restore = await gke.getRestore(RESTORE_NAME);
    expect(api.requests[0]?.method).toBe('GET');
    expect(api.requests[0]?.path).toBe(`/v1/${RESTORE_NAME}`);
    expect(restore).toEqual({
      name: RESTORE_NAME,
      uid: '0b2c4d6e-8f01-4a23-b456-789abcdef012',
      backup: BACKUP_NAME,
      cluster: CLUSTER,
      state: 'SUCCEEDED',
      createTime: '2026-11-26T11:00:00.111Z',
      completeTime: '2026-11-26T11:20:00.222Z',
    });
  });

  it('reads a failed restore with its reason, and answers undefined for a 404', async () => {
    api.answer({ status: 200, body: { ...RESTORE, state: 'FAILED', stateReason: 'volume restore failed', completeTime: undefined } });
    await expect(gke.getRestore(RESTORE_NAME)).resolves.toMatchObject({ state: 'FAILED', stateReason: 'volume restore failed' });
    api.answer(googleError(404, 'NOT_FOUND', `Resource '${RESTORE_NAME}' was not found`));
    await expect(gke.getRestore(RESTORE_NAME)).resolves.toBeUndefined();
  });

  it('answers 409 ALREADY_EXISTS on every create with a permanent already-exists', async () => {
    api.answer(googleError(409, 'ALREADY_EXISTS', 'Resource already exists'));
    const calls = [
      () => gke.createBackupPlan(LOCATION, 'mi-daily', { ...SPEC, cluster: CLUSTER }),
      () => gke.createRestorePlan(LOCATION, 'mi-restore', { backupPlan: PLAN, cluster: CLUSTER }),
      () => gke.createRestore(RESTORE_PLAN, 'r1', { backup: BACKUP_NAME }),
    ];
    for (const call of calls) {
      const error = await controlPlaneFailure(call());
      expect(error.code).toBe('already-exists');
      expect(error.retryable).toBe(false);
      expect(error.details.httpStatus).toBe(409);
    }
  });

  it.each([
    [404, 'NOT_FOUND', 'not-found', false],
    [503, 'UNAVAILABLE', 'unavailable', true],
    [400, 'FAILED_PRECONDITION', 'failed-precondition', false],
  ] as const)('maps HTTP %i %s on plan and restore calls to %s (retryable: %s), once', async (http, status, code, retryable) => {
    api.answer(googleError(http, status, `answered ${status}`));
    const calls = [
      () => gke.updateBackupPlan(PLAN, SPEC),
      () => gke.createRestore(RESTORE_PLAN, 'r1', { backup: BACKUP_NAME }),
      () => gke.createRestorePlan(LOCATION, 'mi-restore', { backupPlan: PLAN, cluster: CLUSTER }),
    ];
    for (const call of calls) {
      api.requests.length = 0;
      const error = await controlPlaneFailure(call());
      expect(error.code).toBe(code);
      expect(error.retryable).toBe(retryable);
      expect(api.requests).toHaveLength(1);
    }
  });

  it('names the field of a restore that breaks the reference', async () => {
    api.answer({ status: 200, body: { ...RESTORE, backup: undefined } });
    const error = await controlPlaneFailure(gke.getRestore(RESTORE_NAME));
    expect(error.details.field).toBe('backup');
  });
});

// A BackupChannel as v1.projects.locations.backupChannels describes it.
const CHANNEL_PARENT = 'projects/mi-src-1a2b3c4d/locations/us-central1';
const CHANNEL = {
  name: `${CHANNEL_PARENT}/backupChannels/mi-final-backups`,
  destinationProject: 'projects/mi-central-backups',
  uid: '5f0c1e2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f',
  createTime: '2026-11-26T10:00:00.123456789Z',
  updateTime: '2026-11-26T10:00:00.123456789Z',
  labels: { 'managed-by': 'mi-control-plane' },
  etag: '1',
  destinationProjectId: 'mi-central-backups',
};

describe('Backup for GKE adapter: backup channels', () => {
  it('creates a channel with POST {parent}/backupChannels?backupChannelId=... naming its destination project', async () => {
    api.answer({ status: 200, body: lro(CHANNEL.name, 'create') });
    const op = await gke.createBackupChannel(CHANNEL_PARENT, 'mi-final-backups', { destinationProject: 'projects/mi-central-backups', labels: { 'managed-by': 'mi-control-plane' } });
    const [request] = api.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe(`/v1/${CHANNEL_PARENT}/backupChannels`);
    expect(request?.query).toEqual({ backupChannelId: 'mi-final-backups' });
    expect(request?.body).toEqual({ destinationProject: 'projects/mi-central-backups', labels: { 'managed-by': 'mi-control-plane' } });
    expect(op).toMatchObject({ name: OPERATION_NAME, metadata: { target: CHANNEL.name } });
  });

  it('gets a channel, its time normalised; a 404 is no channel', async () => {
    api.answer({ status: 200, body: CHANNEL });
    expect(await gke.getBackupChannel(CHANNEL.name)).toEqual({ name: CHANNEL.name, destinationProject: 'projects/mi-central-backups', uid: CHANNEL.uid, createTime: '2026-11-26T10:00:00.123Z' });
    api.answer({ status: 404, body: { error: { code: 404, message: 'not found', status: 'NOT_FOUND' } } });
    expect(await gke.getBackupChannel(CHANNEL.name)).toBeUndefined();
  });
});

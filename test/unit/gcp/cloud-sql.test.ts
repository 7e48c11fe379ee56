import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCloudSqlAdapter } from '../../../shared/gcp/cloud-sql.js';
import type { SqlBackupConfiguration } from '../../../shared/ports.js';
import { deadUrl, googleError, startFakeGoogleApi, type FakeGoogleApi } from './fake-google-api.js';
import { controlPlaneFailure } from '../../support/failures.js';

// Bodies follow the Cloud SQL Admin v1 reference (REST Resource: backupRuns, operations,
// instances): https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/backupRuns
const PROJECT = 'mi-src-1a2b3c4d';
const INSTANCE = 'src-1a2b3c4d-pg';
const SELF = `https://sqladmin.googleapis.com/v1/projects/${PROJECT}/instances/${INSTANCE}`;

const AUTOMATED_RUN = {
  kind: 'sql#backupRun',
  status: 'SUCCESSFUL',
  enqueuedTime: '2026-11-26T03:12:04.187Z',
  id: '1764126724187',
  startTime: '2026-11-26T03:12:04.196Z',
  endTime: '2026-11-26T03:14:21.622Z',
  type: 'AUTOMATED',
  windowStartTime: '2026-11-26T03:00:00Z',
  instance: INSTANCE,
  selfLink: `${SELF}/backupRuns/1764126724187`,
  location: 'us',
  databaseVersion: 'POSTGRES_15',
  backupKind: 'SNAPSHOT',
  timeZone: '',
  maxChargeableBytes: '2147483648',
};

const FAILED_ON_DEMAND_RUN = {
  kind: 'sql#backupRun',
  status: 'FAILED',
  enqueuedTime: '2026-11-26T10:00:01.5Z',
  id: '1764151201500',
  startTime: '2026-11-26T10:00:01.512345Z',
  endTime: '2026-11-26T10:01:00Z',
  error: { kind: 'sql#operationError', code: 'INTERNAL_ERROR', message: 'An internal error has occurred.' },
  type: 'ON_DEMAND',
  description: 'mi:op-7f3a:backup-sql',
  instance: INSTANCE,
  selfLink: `${SELF}/backupRuns/1764151201500`,
  location: 'us-central1',
  backupKind: 'SNAPSHOT',
};

const BACKUP_OPERATION = {
  kind: 'sql#operation',
  targetLink: SELF,
  status: 'PENDING',
  user: 'control-plane@mi-admin.iam.gserviceaccount.com',
  insertTime: '2026-11-26T10:00:00.123Z',
  operationType: 'BACKUP_VOLUME',
  name: '5c4f9a2e-7d1b-4b7e-9d3e-000000000001',
  targetId: INSTANCE,
  selfLink: `https://sqladmin.googleapis.com/v1/projects/${PROJECT}/operations/5c4f9a2e-7d1b-4b7e-9d3e-000000000001`,
  targetProject: PROJECT,
  backupContext: { kind: 'sql#backupContext', backupId: '1764151201500' },
};

const DATABASE_INSTANCE = {
  kind: 'sql#instance',
  state: 'RUNNABLE',
  databaseVersion: 'POSTGRES_15',
  settings: {
    authorizedGaeApplications: [],
    tier: 'db-custom-2-7680',
    kind: 'sql#settings',
    availabilityType: 'REGIONAL',
    pricingPlan: 'PER_USE',
    replicationType: 'SYNCHRONOUS',
    activationPolicy: 'ALWAYS',
    ipConfiguration: { privateNetwork: `projects/${PROJECT}/global/networks/default`, ipv4Enabled: false },
    locationPreference: { zone: 'us-central1-a', kind: 'sql#locationPreference' },
    dataDiskType: 'PD_SSD',
    backupConfiguration: {
      startTime: '03:00',
      kind: 'sql#backupConfiguration',
      location: 'us',
      backupRetentionSettings: { retentionUnit: 'COUNT', retainedBackups: 7 },
      enabled: true,
      replicationLogArchivingEnabled: true,
      pointInTimeRecoveryEnabled: true,
      transactionLogRetentionDays: 7,
      transactionalLogStorageState: 'CLOUD_STORAGE',
    },
    settingsVersion: '12',
    storageAutoResizeLimit: '0',
    storageAutoResize: true,
    dataDiskSizeGb: '100',
    edition: 'ENTERPRISE',
  },
  etag: 'c1f7d0f1b4b8a3c5e6d7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d',
  ipAddresses: [{ type: 'PRIVATE', ipAddress: '10.12.0.3' }],
  instanceType: 'CLOUD_SQL_INSTANCE',
  project: PROJECT,
  serviceAccountEmailAddress: 'p123456789-abcd@gcp-sa-cloud-sql.iam.gserviceaccount.com',
  backendType: 'SECOND_GEN',
  selfLink: SELF,
  connectionName: `${PROJECT}:us-central1:${INSTANCE}`,
  name: INSTANCE,
  region: 'us-central1',
  gceZone: 'us-central1-a',
  createTime: '2026-01-10T12:00:00.000Z',
};

let api: FakeGoogleApi;
let sql: ReturnType<typeof createCloudSqlAdapter>;

beforeAll(async () => {
  api = await startFakeGoogleApi();
  sql = createCloudSqlAdapter({ endpoint: { url: api.url }, deadlineMs: 2_000 });
});

afterAll(async () => {
  await sql.close();
  await api.close();
});

beforeEach(() => {
  api.requests.length = 0;
});


describe('Cloud SQL adapter: requests', () => {
  it('inserts a backup run with POST .../backupRuns and the description in the body', async () => {
    api.answer({ status: 200, body: BACKUP_OPERATION });
    const op = await sql.insertBackupRun(PROJECT, INSTANCE, { description: 'mi:op-7f3a:backup-sql' });

    expect(api.requests).toHaveLength(1);
    const [request] = api.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe(`/v1/projects/${PROJECT}/instances/${INSTANCE}/backupRuns`);
    expect(request?.body).toEqual({ description: 'mi:op-7f3a:backup-sql' });
    // gax asks for numeric enums; the mapping below must not depend on which the server sends.
    expect(request?.query).toEqual({ $alt: 'json;enum-encoding=int' });
    expect(request?.headers.authorization).toBeUndefined();

    expect(op).toEqual({
      name: '5c4f9a2e-7d1b-4b7e-9d3e-000000000001',
      status: 'PENDING',
      operationType: 'BACKUP_VOLUME',
      targetId: INSTANCE,
      targetProject: PROJECT,
      insertTime: '2026-11-26T10:00:00.123Z',
      backupContext: { backupId: '1764151201500' },
    });
  });

  it('lists backup runs one page at a time with maxResults and pageToken', async () => {
    api.answer({ status: 200, body: { kind: 'sql#backupRunsList', items: [FAILED_ON_DEMAND_RUN, AUTOMATED_RUN], nextPageToken: 'CgwI-page-2' } });
    const page = await sql.listBackupRuns(PROJECT, INSTANCE, { maxResults: 2, pageToken: 'CgwI-page-1' });

    const [request] = api.requests;
    expect(request?.method).toBe('GET');
    expect(request?.path).toBe(`/v1/projects/${PROJECT}/instances/${INSTANCE}/backupRuns`);
    expect(request?.query).toMatchObject({ maxResults: '2', pageToken: 'CgwI-page-1' });
    expect(request?.body).toBeUndefined();

    expect(page.nextPageToken).toBe('CgwI-page-2');
    expect(page.items).toEqual([
      {
        kind: 'sql#backupRun',
        id: '1764151201500',
        instance: INSTANCE,
        status: 'FAILED',
        type: 'ON_DEMAND',
        description: 'mi:op-7f3a:backup-sql',
        enqueuedTime: '2026-11-26T10:00:01.500Z',
        startTime: '2026-11-26T10:00:01.512Z',
        endTime: '2026-11-26T10:01:00.000Z',
        location: 'us-central1',
        backupKind: 'SNAPSHOT',
        error: { code: 'INTERNAL_ERROR', message: 'An internal error has occurred.' },
      },
      {
        kind: 'sql#backupRun',
        id: '1764126724187',
        instance: INSTANCE,
        status: 'SUCCESSFUL',
        type: 'AUTOMATED',
        enqueuedTime: '2026-11-26T03:12:04.187Z',
        windowStartTime: '2026-11-26T03:00:00.000Z',
        startTime: '2026-11-26T03:12:04.196Z',
        endTime: '2026-11-26T03:14:21.622Z',
        location: 'us',
        backupKind: 'SNAPSHOT',
      },
    ]);
  });

  it('sends no paging parameters when none are given, and a last page has no token', async () => {
    api.answer({ status: 200, body: { kind: 'sql#backupRunsList' } });
    const page = await sql.listBackupRuns(PROJECT, INSTANCE);
    expect(api.requests[0]?.query).toEqual({ $alt: 'json;enum-encoding=int' });
    expect(page).toEqual({ items: [] });
  });

  it('maps enums answered as numbers (what the service sends for enum-encoding=int)', async () => {
    api.answer({ status: 200, body: { ...AUTOMATED_RUN, status: 5, type: 1, backupKind: 1 } });
    const run = await sql.getBackupRun(PROJECT, INSTANCE, '1764126724187');
    expect(run).toMatchObject({ status: 'SUCCESSFUL', type: 'AUTOMATED', backupKind: 'SNAPSHOT' });
  });

  it('gets a backup run by its int64 id in the path', async () => {
    api.answer({ status: 200, body: AUTOMATED_RUN });
    const run = await sql.getBackupRun(PROJECT, INSTANCE, '1764126724187');
    expect(api.requests[0]?.method).toBe('GET');
    expect(api.requests[0]?.path).toBe(`/v1/projects/${PROJECT}/instances/${INSTANCE}/backupRuns/1764126724187`);
    expect(run?.id).toBe('1764126724187');
  });

  it('gets an operation and reports the errors of a failed one', async () => {
    api.answer({
      status: 200,
      body: {
        ...BACKUP_OPERATION,
        status: 'DONE',
        startTime: '2026-11-26T10:00:01.512Z',
        endTime: '2026-11-26T10:01:00Z',
        error: { kind: 'sql#operationErrors', errors: [{ kind: 'sql#operationError', code: 'INTERNAL_ERROR', message: 'An internal error has occurred.' }] },
      },
    });
    const op = await sql.getOperation(PROJECT, '5c4f9a2e-7d1b-4b7e-9d3e-000000000001');
    expect(api.requests[0]?.method).toBe('GET');
    expect(api.requests[0]?.path).toBe(`/v1/projects/${PROJECT}/operations/5c4f9a2e-7d1b-4b7e-9d3e-000000000001`);
    expect(op).toMatchObject({
      status: 'DONE',
      startTime: '2026-11-26T10:00:01.512Z',
      endTime: '2026-11-26T10:01:00.000Z',
      error: { errors: [{ code: 'INTERNAL_ERROR', message: 'An internal error has occurred.' }] },
      backupContext: { backupId: '1764151201500' },
    });
  });

  it('lists the operations of one instance with the instance as a query parameter', async () => {
    api.answer({ status: 200, body: { kind: 'sql#operationsList', items: [BACKUP_OPERATION], nextPageToken: 'op-page-2' } });
    const page = await sql.listOperations(PROJECT, INSTANCE, { maxResults: 10 });
    expect(api.requests[0]?.method).toBe('GET');
    expect(api.requests[0]?.path).toBe(`/v1/projects/${PROJECT}/operations`);
    expect(api.requests[0]?.query).toMatchObject({ instance: INSTANCE, maxResults: '10' });
    expect(page.items.map((op) => op.name)).toEqual(['5c4f9a2e-7d1b-4b7e-9d3e-000000000001']);
    expect(page.nextPageToken).toBe('op-page-2');
  });

  it('gets an instance with its backup configuration (wrapped booleans and counts unwrapped)', async () => {
    api.answer({ status: 200, body: DATABASE_INSTANCE });
    const instance = await sql.getInstance(PROJECT, INSTANCE);
    expect(api.requests[0]?.path).toBe(`/v1/projects/${PROJECT}/instances/${INSTANCE}`);
    expect(instance).toEqual({
      name: INSTANCE,
      project: PROJECT,
      region: 'us-central1',
      databaseVersion: 'POSTGRES_15',
      state: 'RUNNABLE',
      settings: {
        tier: 'db-custom-2-7680',
        backupConfiguration: {
          enabled: true,
          startTime: '03:00',
          location: 'us',
          pointInTimeRecoveryEnabled: true,
          transactionLogRetentionDays: 7,
          backupRetentionSettings: { retentionUnit: 'COUNT', retainedBackups: 7 },
        },
      },
      createTime: '2026-01-10T12:00:00.000Z',
    });
  });

  it('reads a disabled backup configuration as disabled, not as missing', async () => {
    const settings = { ...DATABASE_INSTANCE.settings, backupConfiguration: { kind: 'sql#backupConfiguration', enabled: false, startTime: '03:00' } };
    api.answer({ status: 200, body: { ...DATABASE_INSTANCE, settings } });
    const instance = await sql.getInstance(PROJECT, INSTANCE);
    expect(instance?.settings.backupConfiguration).toEqual({
      enabled: false,
      startTime: '03:00',
      pointInTimeRecoveryEnabled: false,
      transactionLogRetentionDays: 0,
      backupRetentionSettings: { retentionUnit: 'COUNT', retainedBackups: 0 },
    });
  });

  it('deletes an instance with DELETE and returns the operation', async () => {
    api.answer({ status: 200, body: { ...BACKUP_OPERATION, operationType: 'DELETE', backupContext: undefined } });
    const op = await sql.deleteInstance(PROJECT, INSTANCE);
    expect(api.requests[0]?.method).toBe('DELETE');
    expect(api.requests[0]?.path).toBe(`/v1/projects/${PROJECT}/instances/${INSTANCE}`);
    expect(op.operationType).toBe('DELETE');
    expect(op.backupContext).toBeUndefined();
  });
});

describe('Cloud SQL adapter: errors', () => {
  it('answers undefined for a 404 on a get (an answer, not an error)', async () => {
    api.answer(googleError(404, undefined, 'The Cloud SQL instance does not exist.', 'instanceDoesNotExist'));
    await expect(sql.getInstance(PROJECT, 'gone')).resolves.toBeUndefined();
    await expect(sql.getBackupRun(PROJECT, INSTANCE, '42')).resolves.toBeUndefined();
    await expect(sql.getOperation(PROJECT, 'no-such-op')).resolves.toBeUndefined();
  });

  it('fails with a permanent not-found for a 404 on list, insert and delete', async () => {
    api.answer(googleError(404, 'NOT_FOUND', 'The Cloud SQL instance does not exist.'));
    const calls = [
      () => sql.listBackupRuns(PROJECT, 'gone'),
      () => sql.insertBackupRun(PROJECT, 'gone', { description: 'x' }),
      () => sql.deleteInstance(PROJECT, 'gone'),
    ];
    for (const call of calls) {
      const error = await controlPlaneFailure(call());
      expect(error.code).toBe('not-found');
      expect(error.retryable).toBe(false);
      expect(error.details.httpStatus).toBe(404);
    }
  });

  it('treats 409 as another operation in progress: a retryable conflict, not "exists"', async () => {
    api.answer(
      googleError(
        409,
        undefined,
        'Operation failed because another operation was already in progress. Try your request after the current operation is complete.',
        'operationInProgress',
      ),
    );
    const error = await controlPlaneFailure(sql.insertBackupRun(PROJECT, INSTANCE, { description: 'x' }));
    expect(error.code).toBe('conflict');
    expect(error.retryable).toBe(true);
    expect(error.details.httpStatus).toBe(409);
    expect(error.cause).toBeInstanceOf(Error);
    expect(error.message).toContain('another operation was already in progress');

    api.answer(googleError(409, 'ALREADY_EXISTS', 'Operation in progress'));
    const again = await controlPlaneFailure(sql.insertBackupRun(PROJECT, INSTANCE, { description: 'x' }));
    expect(again.code).toBe('conflict');
    expect(again.retryable).toBe(true);
  });

  it.each([
    [429, 'RESOURCE_EXHAUSTED', 'rate-limited', true],
    [503, 'UNAVAILABLE', 'unavailable', true],
    [504, 'DEADLINE_EXCEEDED', 'deadline-exceeded', true],
    [500, 'INTERNAL', 'internal', true],
    [400, 'INVALID_ARGUMENT', 'failed-precondition', false],
    [403, 'PERMISSION_DENIED', 'failed-precondition', false],
  ] as const)('maps HTTP %i %s to %s (retryable: %s), once, keeping the status', async (http, status, code, retryable) => {
    api.answer(googleError(http, status, `answered ${status}`));
    const error = await controlPlaneFailure(sql.listBackupRuns(PROJECT, INSTANCE));
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.details.httpStatus).toBe(http);
    // No hidden retry loop inside the client: redelivery is the retry.
    expect(api.requests).toHaveLength(1);
  });

  it('names the field of an answer that breaks the reference', async () => {
    api.answer({ status: 200, body: { ...AUTOMATED_RUN, enqueuedTime: undefined } });
    const error = await controlPlaneFailure(sql.getBackupRun(PROJECT, INSTANCE, '1764126724187'));
    expect(error.retryable).toBe(false);
    expect(error.details.field).toBe('enqueuedTime');
  });

  it('fails retryably within its deadline when the service does not answer', async () => {
    api.answer({ status: 200, hang: true });
    const hung = createCloudSqlAdapter({ endpoint: { url: api.url }, deadlineMs: 300 });
    const started = Date.now();
    const error = await controlPlaneFailure(hung.getInstance(PROJECT, INSTANCE));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error.code).toBe('deadline-exceeded');
    expect(error.retryable).toBe(true);
    await hung.close();
  });

  it('fails retryably within its deadline against a dead port', async () => {
    const dead = createCloudSqlAdapter({ endpoint: { url: await deadUrl() }, deadlineMs: 1_000 });
    const started = Date.now();
    const error = await controlPlaneFailure(dead.listBackupRuns(PROJECT, INSTANCE));
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(error.retryable).toBe(true);
    expect(['unavailable', 'deadline-exceeded']).toContain(error.code);
    await dead.close();
  });
});

// Operations of the new calls, shaped like the reference's Operation (operationType names from
// SqlOperationType): https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/operations
function operation(operationType: string, targetId = INSTANCE): Record<string, unknown> {
  return {
    kind: 'sql#operation',
    targetLink: `https://sqladmin.googleapis.com/v1/projects/${PROJECT}/instances/${targetId}`,
    status: 'PENDING',
    user: 'control-plane@mi-admin.iam.gserviceaccount.com',
    insertTime: '2026-11-26T10:00:00.123Z',
    operationType,
    name: `op-${operationType.toLowerCase()}-0001`,
    targetId,
    selfLink: `https://sqladmin.googleapis.com/v1/projects/${PROJECT}/operations/op-${operationType.toLowerCase()}-0001`,
    targetProject: PROJECT,
  };
}

const POLICY: SqlBackupConfiguration = {
  enabled: true,
  startTime: '03:00',
  location: 'us',
  pointInTimeRecoveryEnabled: true,
  transactionLogRetentionDays: 7,
  backupRetentionSettings: { retentionUnit: 'COUNT', retainedBackups: 7 },
};

// What gax writes for POLICY: wrappers as plain values, the enum as its number (enum-encoding=int).
const POLICY_JSON = {
  startTime: '03:00',
  location: 'us',
  enabled: true,
  pointInTimeRecoveryEnabled: true,
  transactionLogRetentionDays: 7,
  backupRetentionSettings: { retentionUnit: 1, retainedBackups: 7 },
};

describe('Cloud SQL adapter: lifecycle requests', () => {
  it('deletes with a final backup: enableFinalBackup, finalBackupTtlDays and finalBackupDescription as query parameters', async () => {
    api.answer({ status: 200, body: operation('DELETE') });
    const op = await sql.deleteInstance(PROJECT, INSTANCE, { finalBackup: { retentionDays: 30, description: 'mi:op-7f3a:final' } });
    expect(api.requests).toHaveLength(1);
    const [request] = api.requests;
    expect(request?.method).toBe('DELETE');
    expect(request?.path).toBe(`/v1/projects/${PROJECT}/instances/${INSTANCE}`);
    expect(request?.query).toEqual({
      enableFinalBackup: 'true',
      finalBackupTtlDays: '30',
      finalBackupDescription: 'mi:op-7f3a:final',
      $alt: 'json;enum-encoding=int',
    });
    expect(request?.body).toBeUndefined();
    expect(op).toMatchObject({ operationType: 'DELETE', status: 'PENDING', targetId: INSTANCE });
  });

  it('deletes without a final backup when none is asked (no final-backup parameters at all)', async () => {
    api.answer({ status: 200, body: operation('DELETE') });
    await sql.deleteInstance(PROJECT, INSTANCE);
    expect(api.requests[0]?.query).toEqual({ $alt: 'json;enum-encoding=int' });
  });

  it('patches only settings.backupConfiguration with PATCH on the instance', async () => {
    api.answer({ status: 200, body: operation('UPDATE') });
    const op = await sql.patchBackupConfiguration(PROJECT, INSTANCE, POLICY);
    const [request] = api.requests;
    expect(request?.method).toBe('PATCH');
    expect(request?.path).toBe(`/v1/projects/${PROJECT}/instances/${INSTANCE}`);
    // gax also writes the empty map fields of DatabaseInstance (tags, settings.userLabels).
    expect(request?.body).toEqual({ tags: {}, settings: { userLabels: {}, backupConfiguration: POLICY_JSON } });
    expect(op.operationType).toBe('UPDATE');
  });

  it('turns deletion protection off with a PATCH of settings.deletionProtectionEnabled alone, and reads it back from the instance', async () => {
    api.answer({ status: 200, body: operation('UPDATE') });
    const op = await sql.setDeletionProtection(PROJECT, INSTANCE, false);
    const [request] = api.requests;
    expect([request?.method, request?.path]).toEqual(['PATCH', `/v1/projects/${PROJECT}/instances/${INSTANCE}`]);
    expect(request?.body).toEqual({ tags: {}, settings: { userLabels: {}, deletionProtectionEnabled: false } });
    expect(op.operationType).toBe('UPDATE');
    api.answer({ status: 200, body: { ...DATABASE_INSTANCE, settings: { ...DATABASE_INSTANCE.settings, deletionProtectionEnabled: true } } });
    expect((await sql.getInstance(PROJECT, INSTANCE))?.settings.deletionProtectionEnabled).toBe(true);
  });

  it('restores a backup run of another instance with POST .../restoreBackup and a RestoreBackupContext', async () => {
    api.answer({ status: 200, body: operation('RESTORE_VOLUME', 'recovery-db') });
    const op = await sql.restoreBackup(PROJECT, 'recovery-db', { project: 'mi-src-old', instance: 'old-db', backupRunId: '1764126724187' });
    const [request] = api.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe(`/v1/projects/${PROJECT}/instances/recovery-db/restoreBackup`);
    expect(request?.body).toEqual({ restoreBackupContext: { backupRunId: '1764126724187', instanceId: 'old-db', project: 'mi-src-old' } });
    expect(op).toMatchObject({ operationType: 'RESTORE_VOLUME', targetId: 'recovery-db' });
  });

  it('clones to a point in time with POST .../clone and a CloneContext (pointInTime as RFC 3339)', async () => {
    api.answer({ status: 200, body: operation('CLONE', 'drill-db') });
    const op = await sql.cloneInstance(PROJECT, INSTANCE, { destinationInstanceName: 'drill-db', pointInTime: '2026-11-26T09:00:00.250Z' });
    const [request] = api.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe(`/v1/projects/${PROJECT}/instances/${INSTANCE}/clone`);
    expect(request?.body).toEqual({ cloneContext: { destinationInstanceName: 'drill-db', pointInTime: '2026-11-26T09:00:00.250Z' } });
    expect(op).toMatchObject({ operationType: 'CLONE', targetId: 'drill-db' });
  });

  it('refuses to send a clone whose pointInTime is not a time', async () => {
    const error = await controlPlaneFailure(sql.cloneInstance(PROJECT, INSTANCE, { destinationInstanceName: 'drill-db', pointInTime: 'yesterday' }));
    expect(error.code).toBe('failed-precondition');
    expect(api.requests).toHaveLength(0);
  });

  it('inserts an instance with POST /v1/projects/P/instances and a DatabaseInstance body', async () => {
    api.answer({ status: 200, body: operation('CREATE', 'throwaway-db') });
    const op = await sql.insertInstance(PROJECT, {
      name: 'throwaway-db',
      region: 'us-central1',
      databaseVersion: 'POSTGRES_16',
      tier: 'db-custom-2-7680',
      backupConfiguration: POLICY,
    });
    const [request] = api.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe(`/v1/projects/${PROJECT}/instances`);
    expect(request?.body).toEqual({
      tags: {},
      name: 'throwaway-db',
      region: 'us-central1',
      // POSTGRES_16 in SqlDatabaseVersion, sent as a number because gax asks for enum-encoding=int.
      databaseVersion: 272,
      settings: { userLabels: {}, tier: 'db-custom-2-7680', backupConfiguration: POLICY_JSON },
    });
    expect(op).toMatchObject({ operationType: 'CREATE', targetId: 'throwaway-db' });
  });

  it('refuses to insert a database version the client does not know, before any request', async () => {
    const error = await controlPlaneFailure(
      sql.insertInstance(PROJECT, { name: 'x-db', region: 'us-central1', databaseVersion: 'POSTGRES_99', tier: 'db-f1-micro', backupConfiguration: POLICY }),
    );
    expect(error.code).toBe('failed-precondition');
    expect(api.requests).toHaveLength(0);
  });

  it('reads the latest recovery time with GET .../getLatestRecoveryTime, undefined when none is given', async () => {
    api.answer({
      status: 200,
      body: { kind: 'sql#getLatestRecoveryTime', latestRecoveryTime: '2026-11-26T09:59:00.123456Z', earliestRecoveryTime: '2026-11-19T10:00:00Z' },
    });
    await expect(sql.getLatestRecoveryTime(PROJECT, INSTANCE)).resolves.toBe('2026-11-26T09:59:00.123Z');
    expect(api.requests[0]?.method).toBe('GET');
    expect(api.requests[0]?.path).toBe(`/v1/projects/${PROJECT}/instances/${INSTANCE}/getLatestRecoveryTime`);
    api.answer({ status: 200, body: { kind: 'sql#getLatestRecoveryTime' } });
    await expect(sql.getLatestRecoveryTime(PROJECT, INSTANCE)).resolves.toBeUndefined();
  });

  it('reads createTime of an instance', async () => {
    api.answer({ status: 200, body: DATABASE_INSTANCE });
    await expect(sql.getInstance(PROJECT, INSTANCE)).resolves.toMatchObject({ createTime: '2026-01-10T12:00:00.000Z' });
  });

  it('reads a run typed FINAL, which this client version cannot name, as ON_DEMAND (never as AUTOMATED)', async () => {
    api.answer({ status: 200, body: { ...AUTOMATED_RUN, type: 'FINAL' } });
    await expect(sql.getBackupRun(PROJECT, INSTANCE, '1764126724187')).resolves.toMatchObject({ type: 'ON_DEMAND' });
  });
});

describe('Cloud SQL adapter: lifecycle errors', () => {
  const calls = {
    deleteInstance: () => sql.deleteInstance(PROJECT, INSTANCE, { finalBackup: { retentionDays: 7, description: 'final' } }),
    patchBackupConfiguration: () => sql.patchBackupConfiguration(PROJECT, INSTANCE, POLICY),
    setDeletionProtection: () => sql.setDeletionProtection(PROJECT, INSTANCE, false),
    restoreBackup: () => sql.restoreBackup(PROJECT, INSTANCE, { project: PROJECT, instance: INSTANCE, backupRunId: '1' }),
    cloneInstance: () => sql.cloneInstance(PROJECT, INSTANCE, { destinationInstanceName: 'c-db', pointInTime: '2026-11-26T09:00:00Z' }),
    insertInstance: () =>
      sql.insertInstance(PROJECT, { name: 'n-db', region: 'us-central1', databaseVersion: 'POSTGRES_16', tier: 'db-f1-micro', backupConfiguration: POLICY }),
    getLatestRecoveryTime: () => sql.getLatestRecoveryTime(PROJECT, INSTANCE),
  };

  it.each([
    [404, 'NOT_FOUND', 'not-found', false],
    [409, undefined, 'conflict', true],
    [503, 'UNAVAILABLE', 'unavailable', true],
  ] as const)('maps HTTP %i on every new call to %s (retryable: %s)', async (http, status, code, retryable) => {
    api.answer(googleError(http, status, `answered ${http}`, http === 409 ? 'operationInProgress' : undefined));
    for (const [name, call] of Object.entries(calls)) {
      api.requests.length = 0;
      const error = await controlPlaneFailure(call());
      expect({ name, code: error.code, retryable: error.retryable, http: error.details.httpStatus }).toEqual({ name, code, retryable, http });
      expect(api.requests).toHaveLength(1);
    }
  });

  it('maps the 409 of an insert whose name is taken to a conflict that keeps the reason', async () => {
    api.answer(googleError(409, undefined, 'The Cloud SQL instance already exists.', 'instanceAlreadyExists'));
    const error = await controlPlaneFailure(calls.insertInstance());
    expect(error.code).toBe('conflict');
    expect(error.message).toContain('already exists');
  });
});

// A final backup as the Backups API answers it (REST Resource: Backups, Backup):
// https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/Backups
const FINAL_BACKUP = {
  name: `projects/${PROJECT}/backups/1764151262000`,
  kind: 'sql#backup',
  selfLink: `https://sqladmin.googleapis.com/v1/projects/${PROJECT}/backups/1764151262000`,
  type: 'FINAL',
  description: 'mi:op-7f3a:final-sql-backup-and-delete',
  instance: INSTANCE,
  location: 'us',
  backupInterval: { startTime: '2026-11-26T10:01:02.123456Z', endTime: '2026-11-26T10:03:40Z' },
  state: 'SUCCESSFUL',
  backupKind: 'SNAPSHOT',
  timeZone: '',
  expiryTime: '2026-12-26T10:05:00Z',
  databaseVersion: 'POSTGRES_15',
  maxChargeableBytes: '2147483648',
  instanceDeletionTime: '2026-11-26T10:05:00Z',
  satisfiesPzs: false,
};

const FINAL_BACKUP_PORT = {
  name: `projects/${PROJECT}/backups/1764151262000`,
  instance: INSTANCE,
  description: 'mi:op-7f3a:final-sql-backup-and-delete',
  state: 'SUCCESSFUL',
  type: 'FINAL',
  backupKind: 'SNAPSHOT',
  location: 'us',
  backupInterval: { startTime: '2026-11-26T10:01:02.123Z', endTime: '2026-11-26T10:03:40.000Z' },
  expiryTime: '2026-12-26T10:05:00.000Z',
  instanceDeletionTime: '2026-11-26T10:05:00.000Z',
  databaseVersion: 'POSTGRES_15',
};

describe('Cloud SQL adapter: final backups (Backups API)', () => {
  it('lists with GET /v1/projects/P/backups and the documented filter, and maps the Backup resource', async () => {
    api.answer({ status: 200, body: { backups: [FINAL_BACKUP] } });
    const finals = await sql.listFinalBackups(PROJECT, INSTANCE);
    expect(api.requests).toHaveLength(1);
    const [request] = api.requests;
    expect(request?.method).toBe('GET');
    expect(request?.path).toBe(`/v1/projects/${PROJECT}/backups`);
    expect(request?.query).toEqual({ filter: `instance:${INSTANCE} AND type:FINAL`, $alt: 'json;enum-encoding=int' });
    expect(request?.body).toBeUndefined();
    expect(request?.headers.authorization).toBeUndefined();
    expect(finals).toEqual([FINAL_BACKUP_PORT]);
  });

  it('reads every page with pageToken, keeping the same filter, and keeps only this instance and type FINAL', async () => {
    const other = { ...FINAL_BACKUP, name: `projects/${PROJECT}/backups/2`, instance: `${INSTANCE}-old` };
    const automated = { ...FINAL_BACKUP, name: `projects/${PROJECT}/backups/3`, type: 'AUTOMATED' };
    const running = { ...FINAL_BACKUP, name: `projects/${PROJECT}/backups/4`, state: 'RUNNING', backupInterval: { startTime: '2026-11-27T10:00:00Z' } };
    api.answer((request) =>
      request.query.pageToken === 'page-2'
        ? { status: 200, body: { backups: [running] } }
        : { status: 200, body: { backups: [FINAL_BACKUP, other, automated], nextPageToken: 'page-2' } },
    );
    const finals = await sql.listFinalBackups(PROJECT, INSTANCE);
    expect(api.requests.map((r) => r.query)).toEqual([
      { filter: `instance:${INSTANCE} AND type:FINAL`, $alt: 'json;enum-encoding=int' },
      { filter: `instance:${INSTANCE} AND type:FINAL`, pageToken: 'page-2', $alt: 'json;enum-encoding=int' },
    ]);
    expect(finals.map((b) => [b.name, b.state])).toEqual([
      [FINAL_BACKUP.name, 'SUCCESSFUL'],
      [running.name, 'RUNNING'],
    ]);
    expect(finals[1]?.backupInterval).toEqual({ startTime: '2026-11-27T10:00:00.000Z' });
  });

  it('answers an empty list for a project without final backups', async () => {
    api.answer({ status: 200, body: {} });
    await expect(sql.listFinalBackups(PROJECT, INSTANCE)).resolves.toEqual([]);
  });

  it('maps enums answered as numbers, and a failed backup with its error', async () => {
    api.answer({
      status: 200,
      body: { backups: [{ ...FINAL_BACKUP, type: 3, state: 3, backupKind: 2, error: { kind: 'sql#operationError', code: 'INTERNAL_ERROR', message: 'boom' } }] },
    });
    const [final] = await sql.listFinalBackups(PROJECT, INSTANCE);
    expect(final).toMatchObject({ type: 'FINAL', state: 'FAILED', backupKind: 'PHYSICAL', error: { code: 'INTERNAL_ERROR', message: 'boom' } });
  });

  it('names the field of a Backup that breaks the reference', async () => {
    api.answer({ status: 200, body: { backups: [{ ...FINAL_BACKUP, name: '1764151262000' }] } });
    const error = await controlPlaneFailure(sql.listFinalBackups(PROJECT, INSTANCE));
    expect(error.retryable).toBe(false);
    expect(error.details.field).toBe('name');
  });

  it('refuses a page token that comes back again instead of looping', async () => {
    api.answer({ status: 200, body: { backups: [], nextPageToken: 'same' } });
    const error = await controlPlaneFailure(sql.listFinalBackups(PROJECT, INSTANCE));
    expect(error.details.field).toBe('nextPageToken');
    expect(api.requests).toHaveLength(2);
  });

  it.each([
    [404, 'NOT_FOUND', 'not-found', false],
    [503, 'UNAVAILABLE', 'unavailable', true],
    [429, 'RESOURCE_EXHAUSTED', 'rate-limited', true],
  ] as const)('maps HTTP %i %s to %s (retryable: %s), once', async (http, status, code, retryable) => {
    api.answer(googleError(http, status, `answered ${status}`));
    const error = await controlPlaneFailure(sql.listFinalBackups(PROJECT, INSTANCE));
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.details.httpStatus).toBe(http);
    expect(api.requests).toHaveLength(1);
  });

  it('fails retryably within its deadline when the service does not answer', async () => {
    api.answer({ status: 200, hang: true });
    const hung = createCloudSqlAdapter({ endpoint: { url: api.url }, deadlineMs: 300 });
    const started = Date.now();
    const error = await controlPlaneFailure(hung.listFinalBackups(PROJECT, INSTANCE));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error.code).toBe('deadline-exceeded');
    await hung.close();
  });
});

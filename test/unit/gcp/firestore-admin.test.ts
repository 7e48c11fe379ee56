/**
 * The Firestore Admin adapter against answers of the shapes the REST reference gives:
 * backups.list (https://cloud.google.com/firestore/docs/reference/rest/v1/projects.locations.backups/list),
 * databases.restore and operations.get answering google.longrunning.Operation with
 * RestoreDatabaseMetadata (startTime, operationState, database, backup, progressPercentage),
 * databases.delete, and Google's JSON error body.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFirestoreAdmin } from '../../../shared/gcp/firestore-admin.js';
import type { FirestoreAdminPort, StateStore } from '../../../shared/ports.js';
import { notGranted } from '../../../shared/services.js';
import { controlPlaneFailure } from '../../support/failures.js';
import { googleError, startFakeGoogleApi, type FakeGoogleApi } from './fake-google-api.js';

const PROJECT = 'mi-control-prod';
const BACKUP = `projects/${PROJECT}/locations/nam5/backups/3c1b2f7e-4d7a-4f0e-9f3b-1a2b3c4d5e6f`;
const OPERATION = `projects/${PROJECT}/databases/drill-20261203-040000/operations/ASA3ZDk1ZDE4MmYzNzMtYjM2ZS01NDM0LWI0MjQtZGY4MGE2YzUkGnRsdWFmZWQHEmxhcnRuZWNzdS1zYm9qLW5pbWRhEgoSCjI`;

let api: FakeGoogleApi;
let admin: FirestoreAdminPort;
const opened: string[] = [];

beforeAll(async () => {
  api = await startFakeGoogleApi();
  admin = createFirestoreAdmin({
    project: PROJECT,
    endpoint: api.url,
    token: () => Promise.resolve('ya29.function-token'),
    open: (databaseId) => {
      opened.push(databaseId);
      return notGranted<StateStore>('a database', 'this test');
    },
    timeoutMs: 1_000,
  });
});
afterAll(async () => {
  await api.close();
});
beforeEach(() => {
  api.requests.length = 0;
});

describe('listing the backups', () => {
  it('asks every location (locations/-) with the function token and reads each Backup resource', async () => {
    api.answer({
      status: 200,
      body: {
        backups: [
          { name: BACKUP, database: `projects/${PROJECT}/databases/(default)`, databaseUid: '7a1c0d4e-0b1f-4c2d-9e3f-5a6b7c8d9e0f', snapshotTime: '2026-12-03T01:00:03.118254Z', expireTime: '2026-12-10T01:00:03.118254Z', state: 'READY' },
          { name: `projects/${PROJECT}/locations/nam5/backups/b2`, database: `projects/${PROJECT}/databases/(default)`, snapshotTime: '2026-12-02T01:00:02Z', expireTime: '2027-03-10T01:00:02Z', state: 'CREATING' },
        ],
        unreachable: ['eur3'],
      },
    });
    const listed = await admin.listBackups();
    expect(listed).toEqual({
      backups: [
        { name: BACKUP, database: `projects/${PROJECT}/databases/(default)`, snapshotTime: '2026-12-03T01:00:03.118254Z', expireTime: '2026-12-10T01:00:03.118254Z', state: 'READY' },
        expect.objectContaining({ state: 'CREATING' }),
      ],
      unreachable: ['eur3'],
    });
    expect([api.requests[0]?.method, api.requests[0]?.path, api.requests[0]?.headers.authorization]).toEqual(['GET', `/v1/projects/${PROJECT}/locations/-/backups`, 'Bearer ya29.function-token']);
  });

  it('an empty answer ({}) is no backups; a backup of an unknown state is refused, not guessed', async () => {
    api.answer({ status: 200, body: {} });
    expect(await admin.listBackups()).toEqual({ backups: [], unreachable: [] });
    api.answer({ status: 200, body: { backups: [{ name: BACKUP, database: 'd', snapshotTime: '2026-12-03T01:00:00Z', expireTime: '2026-12-10T01:00:00Z', state: 'HALF_DONE' }] } });
    expect(await controlPlaneFailure(admin.listBackups())).toMatchObject({ code: 'internal', retryable: false, message: expect.stringContaining('backups.0.state') as unknown });
  });
});

describe('restoring into a scratch database and following it', () => {
  const restoreMetadata = { '@type': 'type.googleapis.com/google.firestore.admin.v1.RestoreDatabaseMetadata', startTime: '2026-12-03T04:00:01.5Z', operationState: 'PROCESSING', database: `projects/${PROJECT}/databases/drill-20261203-040000`, backup: BACKUP, progressPercentage: { workEstimated: '200', workCompleted: '50' } };

  it('POSTs databases:restore with the database id and the backup, and reads the operation', async () => {
    api.answer({ status: 200, body: { name: OPERATION, metadata: restoreMetadata } });
    const operation = await admin.restoreDatabase('drill-20261203-040000', BACKUP);
    expect(operation).toEqual({ name: OPERATION, done: false, kind: 'RestoreDatabaseMetadata', error: null, progressPercent: 25 });
    expect([api.requests[0]?.method, api.requests[0]?.path, api.requests[0]?.body]).toEqual(['POST', `/v1/projects/${PROJECT}/databases:restore`, { databaseId: 'drill-20261203-040000', backup: BACKUP }]);
  });

  it('an id that is taken is already-exists (ALREADY_EXISTS, not ABORTED), a gone backup not-found, a 503 retryable', async () => {
    api.answer(googleError(409, 'ALREADY_EXISTS', 'Database already exists.'));
    expect(await controlPlaneFailure(admin.restoreDatabase('drill-x1', BACKUP))).toMatchObject({ code: 'already-exists', retryable: false });
    api.answer(googleError(404, 'NOT_FOUND', 'Backup not found.'));
    expect(await controlPlaneFailure(admin.restoreDatabase('drill-x1', BACKUP))).toMatchObject({ code: 'not-found' });
    api.answer(googleError(503, 'UNAVAILABLE', 'The service is currently unavailable.'));
    expect(await controlPlaneFailure(admin.restoreDatabase('drill-x1', BACKUP))).toMatchObject({ code: 'unavailable', retryable: true });
  });

  it('GETs the operation by its full name: done with the Database as response, or done with an error', async () => {
    api.answer({ status: 200, body: { name: OPERATION, metadata: { ...restoreMetadata, operationState: 'SUCCESSFUL', endTime: '2026-12-03T04:09:00Z', progressPercentage: { workEstimated: '200', workCompleted: '200' } }, done: true, response: { '@type': 'type.googleapis.com/google.firestore.admin.v1.Database', name: `projects/${PROJECT}/databases/drill-20261203-040000` } } });
    expect(await admin.getOperation(OPERATION)).toEqual({ name: OPERATION, done: true, kind: 'RestoreDatabaseMetadata', error: null, progressPercent: 100 });
    expect(api.requests[0]?.path).toBe(`/v1/${OPERATION}`);
    api.answer({ status: 200, body: { name: OPERATION, metadata: { ...restoreMetadata, operationState: 'FAILED' }, done: true, error: { code: 13, message: 'Internal error.', details: [] } } });
    expect(await admin.getOperation(OPERATION)).toMatchObject({ done: true, error: { code: 13, message: 'Internal error.' } });
  });

  it("never asks for an operation of another project's databases", async () => {
    expect(await controlPlaneFailure(admin.getOperation('projects/other/databases/(default)/operations/x'))).toMatchObject({ code: 'internal', retryable: false });
    expect(api.requests).toEqual([]);
  });

  it("lists a database's operations across pages", async () => {
    let page = 0;
    api.answer(() => {
      page += 1;
      return page === 1 ? { status: 200, body: { operations: [{ name: `${OPERATION}-a`, metadata: { '@type': 'type.googleapis.com/google.firestore.admin.v1.ExportDocumentsMetadata' }, done: true }], nextPageToken: 'p2' } } : { status: 200, body: { operations: [{ name: OPERATION, metadata: restoreMetadata }] } };
    });
    expect((await admin.listOperations('drill-20261203-040000')).map((op) => op.kind)).toEqual(['ExportDocumentsMetadata', 'RestoreDatabaseMetadata']);
    expect(api.requests.map((r) => [r.path, r.query])).toEqual([
      [`/v1/projects/${PROJECT}/databases/drill-20261203-040000/operations`, {}],
      [`/v1/projects/${PROJECT}/databases/drill-20261203-040000/operations`, { pageToken: 'p2' }],
    ]);
  });
});

describe('deleting the scratch database and reading it', () => {
  it('DELETEs the database and reads the operation; a database that is not there is not-found', async () => {
    api.answer({ status: 200, body: { name: `projects/${PROJECT}/databases/drill-x1/operations/d1`, metadata: { '@type': 'type.googleapis.com/google.firestore.admin.v1.DeleteDatabaseMetadata' }, done: true, response: { '@type': 'type.googleapis.com/google.firestore.admin.v1.Database' } } });
    expect(await admin.deleteDatabase('drill-x1')).toMatchObject({ done: true, kind: 'DeleteDatabaseMetadata', error: null });
    expect([api.requests[0]?.method, api.requests[0]?.path]).toEqual(['DELETE', `/v1/projects/${PROJECT}/databases/drill-x1`]);
    api.answer(googleError(404, 'NOT_FOUND', 'Database not found.'));
    expect(await controlPlaneFailure(admin.deleteDatabase('drill-x1'))).toMatchObject({ code: 'not-found' });
  });

  it('opens a database through the Firestore client it is given, calling no API', async () => {
    await admin.openDatabase('drill-x1');
    expect(opened).toEqual(['drill-x1']);
    expect(api.requests).toEqual([]);
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSchedulerAdapter } from '../../../shared/gcp/scheduler.js';
import { deadUrl, googleError, startFakeGoogleApi, type FakeGoogleApi } from './fake-google-api.js';
import { controlPlaneFailure } from '../../support/failures.js';

// Bodies follow the Cloud Scheduler v1 reference (REST Resource: projects.locations.jobs):
// https://cloud.google.com/scheduler/docs/reference/rest/v1/projects.locations.jobs
const PARENT = 'projects/mi-admin/locations/us-central1';

const CHECK_JOB = {
  name: `${PARENT}/jobs/mi-check-backups`,
  description: 'SOC2: Cloud SQL and GKE backups of every instance',
  pubsubTarget: {
    topicName: 'projects/mi-admin/topics/mi-checks',
    data: 'eyJjaGVjayI6ImJhY2t1cHMifQ==',
    attributes: { check: 'backups' },
  },
  userUpdateTime: '2026-01-10T12:00:00Z',
  state: 'ENABLED',
  status: {},
  scheduleTime: '2026-11-27T06:00:00.512818Z',
  lastAttemptTime: '2026-11-26T06:00:00.504211Z',
  retryConfig: { maxRetryDuration: '0s', minBackoffDuration: '5s', maxBackoffDuration: '3600s', maxDoublings: 5 },
  schedule: '0 6 * * *',
  timeZone: 'Etc/UTC',
  attemptDeadline: '180s',
};

const FAILED_JOB = {
  ...CHECK_JOB,
  name: `${PARENT}/jobs/mi-reconcile`,
  schedule: '* * * * *',
  timeZone: 'America/New_York',
  state: 'PAUSED',
  status: { code: 5, message: 'Topic projects/mi-admin/topics/mi-reconcile not found' },
  pubsubTarget: { topicName: 'projects/mi-admin/topics/mi-reconcile' },
};

let api: FakeGoogleApi;
let scheduler: ReturnType<typeof createSchedulerAdapter>;

beforeAll(async () => {
  api = await startFakeGoogleApi();
  scheduler = createSchedulerAdapter({ endpoint: { url: api.url }, deadlineMs: 2_000 });
});

afterAll(async () => {
  await scheduler.close();
  await api.close();
});

beforeEach(() => {
  api.requests.length = 0;
});


describe('Cloud Scheduler adapter', () => {
  it('lists one page of jobs with GET {parent}/jobs?pageSize&pageToken and maps their fields', async () => {
    api.answer({ status: 200, body: { jobs: [CHECK_JOB, FAILED_JOB], nextPageToken: 'jobs-page-2' } });
    const page = await scheduler.listJobs(PARENT, { pageSize: 2, pageToken: 'jobs-page-1' });

    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]?.method).toBe('GET');
    expect(api.requests[0]?.path).toBe(`/v1/${PARENT}/jobs`);
    expect(api.requests[0]?.query).toMatchObject({ pageSize: '2', pageToken: 'jobs-page-1' });
    expect(api.requests[0]?.headers.authorization).toBeUndefined();

    expect(page).toEqual({
      items: [
        {
          name: `${PARENT}/jobs/mi-check-backups`,
          schedule: '0 6 * * *',
          timeZone: 'Etc/UTC',
          state: 'ENABLED',
          pubsubTarget: { topicName: 'projects/mi-admin/topics/mi-checks' },
          lastAttemptTime: '2026-11-26T06:00:00.504Z',
          status: { code: 0 },
        },
        {
          name: `${PARENT}/jobs/mi-reconcile`,
          schedule: '* * * * *',
          timeZone: 'America/New_York',
          state: 'PAUSED',
          pubsubTarget: { topicName: 'projects/mi-admin/topics/mi-reconcile' },
          lastAttemptTime: '2026-11-26T06:00:00.504Z',
          status: { code: 5, message: 'Topic projects/mi-admin/topics/mi-reconcile not found' },
        },
      ],
      nextPageToken: 'jobs-page-2',
    });
  });

  it('maps a job never attempted (no lastAttemptTime, no status) and numeric enum states', async () => {
    const fresh: Record<string, unknown> = { ...CHECK_JOB, state: 1 };
    delete fresh.lastAttemptTime;
    delete fresh.status;
    api.answer({ status: 200, body: { jobs: [fresh] } });
    const page = await scheduler.listJobs(PARENT);
    expect(api.requests[0]?.query.pageToken).toBeUndefined();
    expect(page.nextPageToken).toBeUndefined();
    expect(page.items[0]).toEqual({
      name: `${PARENT}/jobs/mi-check-backups`,
      schedule: '0 6 * * *',
      timeZone: 'Etc/UTC',
      state: 'ENABLED',
      pubsubTarget: { topicName: 'projects/mi-admin/topics/mi-checks' },
    });
  });

  it.each([
    [404, 'NOT_FOUND', 'not-found', false],
    [429, 'RESOURCE_EXHAUSTED', 'rate-limited', true],
    [503, 'UNAVAILABLE', 'unavailable', true],
    [403, 'PERMISSION_DENIED', 'failed-precondition', false],
  ] as const)('maps HTTP %i %s to %s (retryable: %s), without retrying inside the client', async (http, status, code, retryable) => {
    api.answer(googleError(http, status, `answered ${status}`));
    const error = await controlPlaneFailure(scheduler.listJobs(PARENT));
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.details.httpStatus).toBe(http);
    expect(api.requests).toHaveLength(1);
  });

  it('fails retryably within its deadline against a dead port', async () => {
    const dead = createSchedulerAdapter({ endpoint: { url: await deadUrl() }, deadlineMs: 1_000 });
    const started = Date.now();
    const error = await controlPlaneFailure(dead.listJobs(PARENT));
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(error.retryable).toBe(true);
    await dead.close();
  });
});

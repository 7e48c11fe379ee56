/**
 * SchedulerPort on `@google-cloud/scheduler` (Cloud Scheduler v1), over REST like the Cloud
 * SQL adapter. There is no emulator: tests serve the v1 REST answers from a local server.
 */
import { CloudSchedulerClient, protos } from '@google-cloud/scheduler';
import { DEFAULT_DEADLINE_MS, withDeadline } from '../deadline.js';
import type { Page, SchedulerJob, SchedulerPort } from '../ports.js';
import {
  anonymousAuthClient,
  enumName,
  malformedAnswer,
  oneOf,
  optionalString,
  plainEndpointOptions,
  toControlPlaneError,
  toIsoTime,
  type PlainEndpoint,
} from './google-api.js';

type IJob = protos.google.cloud.scheduler.v1.IJob;
type SchedulerClientOptions = NonNullable<ConstructorParameters<typeof CloudSchedulerClient>[0]>;

export interface SchedulerAdapterOptions {
  /** Per call; a call past it fails with a retryable `deadline-exceeded`. */
  deadlineMs?: number;
  client?: CloudSchedulerClient;
  /** Call this endpoint over plain HTTP without credentials (tests) instead of cloudscheduler.googleapis.com. */
  endpoint?: PlainEndpoint;
}

const JOB_STATES: ReadonlyArray<SchedulerJob['state']> = ['STATE_UNSPECIFIED', 'ENABLED', 'PAUSED', 'DISABLED', 'UPDATE_FAILED'];

/** Maps a Cloud Scheduler v1 `Job` to the port's type. */
export function toSchedulerJob(what: string, job: IJob): SchedulerJob {
  const name = optionalString(job.name);
  if (name === undefined) throw malformedAnswer(what, 'name', 'missing', job.name);
  const topicName = optionalString(job.pubsubTarget?.topicName);
  const lastAttemptTime = toIsoTime(job.lastAttemptTime);
  const status = job.status;
  const message = optionalString(status?.message);
  return {
    name,
    schedule: optionalString(job.schedule) ?? '',
    // The API defaults an unset time zone to UTC.
    timeZone: optionalString(job.timeZone) ?? 'Etc/UTC',
    state: oneOf(what, 'state', enumName(job.state, protos.google.cloud.scheduler.v1.Job.State), JOB_STATES),
    ...(topicName === undefined ? {} : { pubsubTarget: { topicName } }),
    ...(lastAttemptTime === undefined ? {} : { lastAttemptTime }),
    // A job never attempted has no status; gax fills an absent message with null.
    ...(status ? { status: { code: typeof status.code === 'number' ? status.code : 0, ...(message === undefined ? {} : { message }) } } : {}),
  };
}

/** Creates the Cloud Scheduler adapter (REST transport, a deadline on every call). */
export function createSchedulerAdapter(options: SchedulerAdapterOptions = {}): SchedulerPort & { close(): Promise<void> } {
  const ms = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const settings: SchedulerClientOptions =
    options.endpoint === undefined
      ? { fallback: true }
      : {
          ...plainEndpointOptions(options.endpoint),
          // gax only calls getRequestHeaders/fetch on it; the rest of AuthClient is never touched.
          authClient: anonymousAuthClient as unknown as SchedulerClientOptions['authClient'],
        };
  const client = options.client ?? new CloudSchedulerClient(settings);

  return {
    async listJobs(parent, page = {}) {
      const what = `Cloud Scheduler jobs.list ${parent}`;
      let answer;
      try {
        // One page per call (autoPaginate off): the caller pages with the token, as with the
        // other lists. ListJobs is configured to retry UNAVAILABLE inside gax; `retry: null`
        // turns that off so one call stays one request under one deadline (redelivery retries).
        answer = await withDeadline(
          what,
          () =>
            client.listJobs(
              {
                parent,
                ...(page.pageSize === undefined ? {} : { pageSize: page.pageSize }),
                ...(page.pageToken === undefined ? {} : { pageToken: page.pageToken }),
              },
              { autoPaginate: false, timeout: ms, retry: null },
            ),
          ms,
        );
      } catch (error) {
        throw toControlPlaneError(what, error, { alreadyExists: 'conflict' });
      }
      const [jobs, , raw] = answer;
      const nextPageToken = optionalString(raw?.nextPageToken);
      const result: Page<SchedulerJob> = { items: jobs.map((job) => toSchedulerJob(what, job)) };
      return nextPageToken === undefined ? result : { ...result, nextPageToken };
    },

    async close() {
      await client.close();
    },
  };
}

/**
 * ExecutorPort for the external runner: runs are asked for on `mi-executor-requests` (the
 * runner deduplicates by run key and answers on `mi-executor-results`), and a run's status is
 * read from the runner's small HTTP status endpoint, so a stuck operation can be confirmed idle.
 */
import * as z from 'zod';
import { DEFAULT_DEADLINE_MS, withDeadline } from '../deadline.js';
import { ControlPlaneError } from '../errors.js';
import { DecodeError, makeEnvelope } from '../events/index.js';
import type { ExecutorPort, OnceOutbox, RunState } from '../ports.js';
import { TOPICS, TTL_COLLECTIONS } from '../topology.js';
import { errorForHttpStatus, toControlPlaneError } from './google-api.js';

export interface ExecutorAdapterOptions {
  /** Where requests go: once per run key, through the outbox. */
  outbox: OnceOutbox;
  /** Base URL of the runner's status endpoint; runs are at `{statusUrl}/runs/{runKey}`. */
  statusUrl: string;
  fetchImpl?: typeof fetch;
  /** Per call; a call past it fails with a retryable `deadline-exceeded`. */
  deadlineMs?: number;
}

/** How long the record of a run request is kept (it expires by TTL). */
const REQUEST_RECORD_DAYS = TTL_COLLECTIONS.find((c) => c.collection === 'executorRequests')?.days ?? 30;

/** What the runner answers for `GET /runs/{runKey}`. */
const RUN_STATUS_SCHEMA = z.object({
  state: z.enum(['queued', 'running', 'succeeded', 'failed'], { error: 'expected "queued", "running", "succeeded" or "failed"' }),
  detail: z.string({ error: 'expected a string' }).optional(),
});

function malformedStatus(what: string, field: string, problem: string): ControlPlaneError {
  return new ControlPlaneError('internal', `${what} answered with a malformed run status: ${field}: ${problem}`, {
    retryable: false,
    details: { what, field },
  });
}

/** Creates the executor adapter: requests on Pub/Sub, status over HTTP, both under a deadline. */
export function createExecutorAdapter(options: ExecutorAdapterOptions): ExecutorPort {
  const ms = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const fetchImpl = options.fetchImpl ?? fetch;
  const base = options.statusUrl.replace(/\/+$/, '');

  return {
    async requestRun(request) {
      let envelope;
      try {
        envelope = makeEnvelope({
          type: 'executor.run-requested',
          instanceId: request.instanceId,
          actor: request.actor,
          reason: request.reason,
          payload: { runKey: request.runKey, action: request.action, params: request.params, refuseAfter: request.refuseAfter },
        });
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        // A request the runner would reject is a bug upstream: asking again cannot fix it.
        throw new ControlPlaneError('invalid-message', `executor run request ${request.runKey} is invalid: ${error.message}`, {
          cause: error,
          details: { field: error.field, runKey: request.runKey },
        });
      }
      // Once per run key: a retry of the step, or a second worker, sends nothing more. The marker
      // outlives the request's refuse-after time, after which the runner refuses it anyway.
      const expireAt = new Date(Date.parse(request.refuseAfter) + REQUEST_RECORD_DAYS * 86_400_000);
      await withDeadline(`request executor run ${request.runKey}`, () => options.outbox.sendOnce(request.runKey, TOPICS.executorRequests, envelope, expireAt), ms);
    },

    async getRunStatus(runKey) {
      const what = `executor run status ${runKey}`;
      const url = `${base}/runs/${encodeURIComponent(runKey)}`;
      const controller = new AbortController();
      let body: unknown;
      try {
        body = await withDeadline(
          what,
          async () => {
            const response = await fetchImpl(url, { headers: { accept: 'application/json' }, signal: controller.signal });
            if (response.status === 404) {
              await response.body?.cancel();
              return undefined;
            }
            const text = await response.text();
            if (!response.ok) {
              throw errorForHttpStatus(what, response.status, text.slice(0, 200), { alreadyExists: 'conflict' });
            }
            try {
              return JSON.parse(text) as unknown;
            } catch (error) {
              throw new ControlPlaneError('internal', `${what} answered with a body that is not JSON`, {
                retryable: false,
                cause: error,
                details: { what, field: '(body)' },
              });
            }
          },
          ms,
        );
      } catch (error) {
        throw toControlPlaneError(what, error, { alreadyExists: 'conflict' });
      } finally {
        // Once the deadline has passed nobody waits for the answer: stop the request.
        controller.abort();
      }
      if (body === undefined) return { state: 'unknown' satisfies RunState };
      const parsed = RUN_STATUS_SCHEMA.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const field = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)';
        throw malformedStatus(what, field, issue?.message ?? 'invalid');
      }
      return parsed.data.detail === undefined ? { state: parsed.data.state } : { state: parsed.data.state, detail: parsed.data.detail };
    },
  };
}

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AnyEnvelope, Envelope, EventType } from '../../../shared/events/index.js';
import { createExecutorAdapter } from '../../../shared/gcp/executor.js';
import type { OnceOutbox, RunRequest } from '../../../shared/ports.js';
import { TOPICS } from '../../../shared/topology.js';
import { deadUrl, startFakeGoogleApi, type FakeGoogleApi } from './fake-google-api.js';
import { controlPlaneFailure } from '../../support/failures.js';

interface Sent {
  key: string;
  topic: string;
  envelope: Envelope<EventType>;
  expireAt: Date;
}

function recordingOutbox(): OnceOutbox & { sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    sent,
    sendOnce(key, topic, envelope: AnyEnvelope, expireAt) {
      sent.push({ key, topic, envelope, expireAt });
      return Promise.resolve();
    },
  };
}

const REQUEST: RunRequest = {
  runKey: 'op-7f3a:upgrade-app',
  action: 'upgrade',
  instanceId: 'src-1a2b3c4d',
  params: { targetVersion: '5.5.0', dryRun: false, wave: 2 },
  actor: 'alice@example.com',
  reason: 'monthly release',
  refuseAfter: '2026-11-26T10:15:00.000Z',
};

let api: FakeGoogleApi;

beforeAll(async () => {
  api = await startFakeGoogleApi();
});

afterAll(async () => {
  await api.close();
});

beforeEach(() => {
  api.requests.length = 0;
});


describe('executor adapter: requestRun', () => {
  it('sends one executor.run-requested envelope on mi-executor-requests through the outbox, keyed by its run key', async () => {
    const outbox = recordingOutbox();
    await createExecutorAdapter({ outbox, statusUrl: api.url }).requestRun(REQUEST);
    expect(outbox.sent).toHaveLength(1);
    const [message] = outbox.sent;
    expect(message?.topic).toBe(TOPICS.executorRequests);
    expect(message?.key).toBe('op-7f3a:upgrade-app');
    // The record of the request outlives the time after which the runner refuses it.
    expect(message?.expireAt.getTime()).toBeGreaterThan(Date.parse(REQUEST.refuseAfter));
    expect(message?.envelope).toMatchObject({
      type: 'executor.run-requested',
      schemaVersion: 1,
      instanceId: 'src-1a2b3c4d',
      actor: 'alice@example.com',
      reason: 'monthly release',
      payload: { runKey: 'op-7f3a:upgrade-app', action: 'upgrade', params: { targetVersion: '5.5.0', dryRun: false, wave: 2 }, refuseAfter: '2026-11-26T10:15:00.000Z' },
    });
    expect(message?.envelope.eventId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses a run key the runner would reject, permanently and naming the field', async () => {
    const outbox = recordingOutbox();
    const error = await controlPlaneFailure(createExecutorAdapter({ outbox, statusUrl: api.url }).requestRun({ ...REQUEST, runKey: 'Not A Key' }));
    expect(error.code).toBe('invalid-message');
    expect(error.retryable).toBe(false);
    expect(error.details.field).toBe('payload.runKey');
    expect(outbox.sent).toHaveLength(0);
  });

  it('fails retryably when the store or bus behind the outbox does not answer within the deadline', async () => {
    const outbox: OnceOutbox = { sendOnce: () => new Promise<void>(() => undefined) };
    const error = await controlPlaneFailure(createExecutorAdapter({ outbox, statusUrl: api.url, deadlineMs: 100 }).requestRun(REQUEST));
    expect(error.code).toBe('deadline-exceeded');
    expect(error.retryable).toBe(true);
  });
});

describe('executor adapter: getRunStatus', () => {
  const executor = (deadlineMs = 2_000, statusUrl?: string) => createExecutorAdapter({ outbox: recordingOutbox(), statusUrl: statusUrl ?? `${api.url}/`, deadlineMs });

  it('asks GET {statusUrl}/runs/{encoded run key} and returns state and detail', async () => {
    api.answer({ status: 200, body: { state: 'running', detail: 'terraform apply 3/7', startedAt: '2026-11-26T10:00:00Z' } });
    await expect(executor().getRunStatus('op-7f3a:upgrade-app')).resolves.toEqual({ state: 'running', detail: 'terraform apply 3/7' });
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]?.method).toBe('GET');
    expect(api.requests[0]?.path).toBe('/runs/op-7f3a:upgrade-app');
    expect(api.requests[0]?.headers['accept']).toBe('application/json');
  });

  it('encodes the run key as one path segment', async () => {
    api.answer({ status: 200, body: { state: 'queued' } });
    await expect(executor().getRunStatus('a/b c')).resolves.toEqual({ state: 'queued' });
    expect(api.requests[0]?.path).toBe('/runs/a/b c');
  });

  it('answers unknown for a 404 (the runner never saw the key)', async () => {
    api.answer({ status: 404, body: { error: 'no such run' } });
    await expect(executor().getRunStatus('op-1:step')).resolves.toEqual({ state: 'unknown' });
  });

  it('fails permanently on a malformed answer, naming the field', async () => {
    api.answer({ status: 200, body: { state: 'exploded' } });
    const error = await controlPlaneFailure(executor().getRunStatus('op-1:step'));
    expect(error.retryable).toBe(false);
    expect(error.details.field).toBe('state');
    expect(error.message).toContain('state');

    api.answer({ status: 200, body: { state: 'failed', detail: 42 } });
    expect((await controlPlaneFailure(executor().getRunStatus('op-1:step'))).details.field).toBe('detail');
  });

  it.each([
    [503, 'unavailable', true],
    [429, 'rate-limited', true],
    [500, 'internal', true],
    [403, 'failed-precondition', false],
  ] as const)('maps HTTP %i to %s (retryable: %s)', async (http, code, retryable) => {
    api.answer({ status: http, body: { error: 'nope' } });
    const error = await controlPlaneFailure(executor().getRunStatus('op-1:step'));
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(error.details.httpStatus).toBe(http);
  });

  it('fails retryably within its deadline when the runner does not answer', async () => {
    api.answer({ status: 200, hang: true });
    const started = Date.now();
    const error = await controlPlaneFailure(executor(200).getRunStatus('op-1:step'));
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(error.code).toBe('deadline-exceeded');
    expect(error.retryable).toBe(true);
  });

  it('fails retryably within its deadline against a dead port', async () => {
    const started = Date.now();
    const error = await controlPlaneFailure(executor(1_000, await deadUrl()).getRunStatus('op-1:step'));
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(error.retryable).toBe(true);
    expect(['unavailable', 'deadline-exceeded']).toContain(error.code);
  });
});

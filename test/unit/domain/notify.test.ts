/**
 * What people are told, as plain functions: which events are notices, where each goes, when a
 * channel gets a digest, what a digest holds; and the Slack and OpsGenie adapters against the
 * answers their APIs document.
 */
import { describe, expect, it } from 'vitest';
import { makeEnvelope, type AnyEnvelope } from '../../../shared/events/index.js';
import { digestOf, messageOf, pageOf } from '../../../shared/domain/notify/messages.js';
import { noticeOf, type Notice } from '../../../shared/domain/notify/notices.js';
import { channelFor, deliveryOf, parseNotifyRoutes, windowOf } from '../../../shared/domain/notify/routes.js';
import { createOpsGeniePager } from '../../../shared/gcp/opsgenie.js';
import { redactedWebhook } from '../../../shared/gcp/slack-webhook.js';

const prod = { environment: 'prod' as const, tier: 'customer' as const };
const dev = { environment: 'dev' as const, tier: 'internal' as const, owner: 'dana@example.com' };
const envelope = (type: string, payload: Record<string, unknown>, instanceId?: string) => makeEnvelope({ type: type as never, payload: payload as never, actor: 'system:test', reason: 'r', ...(instanceId === undefined ? {} : { instanceId }) }) as unknown as AnyEnvelope;

const ROUTES = JSON.stringify({
  channels: { oncall: 'https://hooks.slack.com/services/T0/B1/secret1', dev: 'https://hooks.slack.com/services/T0/B2/secret2', all: 'https://hooks.slack.com/services/T0/B3/secret3', dana: 'https://hooks.slack.com/services/T0/B4/secret4' },
  routes: [
    { kinds: ['compliance-failed', 'compliance-incomplete'], channel: 'oncall' },
    { environments: ['prod'], channel: 'oncall' },
    { environments: ['dev'], channel: 'dev' },
  ],
  fallback: 'all',
  owners: { 'dana@example.com': 'dana' },
});

describe('which events are notices', () => {
  it('an operation that failed, with its reason and how to look further; critical on prod', () => {
    const notice = noticeOf(envelope('operation.failed', { operationId: 'op-1', operationType: 'upgrade', failedStep: 'sql-backup', reason: 'HTTP 500' }, 'cus-acme'), prod);
    expect(notice).toMatchObject({ kind: 'operation-failed', scope: 'prod', severity: 'critical', page: false, title: 'upgrade of cus-acme failed at sql-backup' });
    expect(notice?.text).toContain('mi op get op-1');
    expect(noticeOf(envelope('operation.failed', { operationId: 'op-1', operationType: 'upgrade', failedStep: 's', reason: 'r' }, 'dev-a'), dev)?.severity).toBe('warning');
  });

  it('a stuck operation pages on prod only', () => {
    const stuck = (id: string) => envelope('operation.stuck', { operationId: 'op-2', operationType: 'restore', deadline: '2026-12-02T10:00:00Z', stillRunning: ['restore-sql'] }, id);
    expect(noticeOf(stuck('cus-acme'), prod)).toMatchObject({ kind: 'operation-stuck', page: true });
    expect(noticeOf(stuck('dev-a'), dev)).toMatchObject({ kind: 'operation-stuck', page: false });
  });

  it("a dev instance's expiry names its owner; alerts by their kind; the stuck alert is the fact's twin and no notice", () => {
    expect(noticeOf(envelope('instance.expiring', { expiresAt: '2026-12-03T00:00:00Z' }, 'dev-a'), dev)).toMatchObject({ kind: 'dev-expiry', owner: 'dana@example.com' });
    const alert = (kind: string | undefined, details: Record<string, unknown> = {}) => envelope('alert', { ...(kind === undefined ? {} : { kind }), severity: 'critical', summary: 'something', details });
    expect(noticeOf(alert('rollout-halted', { wave: 'customers' }), undefined)).toMatchObject({ kind: 'rollout-halted', page: true, scope: 'fleet' });
    expect(noticeOf(alert('rollout-halted', { wave: 'dev' }), undefined)?.page).toBe(false);
    expect(noticeOf(alert('break-glass'), undefined)?.page).toBe(true);
    expect(noticeOf(alert('compliance-failed', { environment: 'prod' }), undefined)?.scope).toBe('prod');
    expect(noticeOf(alert(undefined), undefined)?.kind).toBe('alert');
    expect(noticeOf(alert('operation-stuck'), undefined)).toBeUndefined();
  });

  it('acceptances, successes, rejections and abandons are not', () => {
    for (const [type, payload] of [
      ['operation.accepted', { operationId: 'o', operationType: 'backup' }],
      ['operation.succeeded', { operationId: 'o', operationType: 'backup', result: {} }],
      ['operation.rejected', { code: 'busy', message: 'm', causeEventId: 'e', causeType: 'instance.backup' }],
      ['operation.abandoned', { operationId: 'o', operationType: 'backup', by: 'a', why: 'w' }],
    ] as const) {
      expect(noticeOf(envelope(type, payload, 'cus-acme'), prod), type).toBeUndefined();
    }
  });
});

describe('where a notice goes', () => {
  const routes = parseNotifyRoutes(ROUTES);
  it('the first matching route, by kind then environment, else the fallback; a dev expiry to its owner', () => {
    expect(channelFor({ kind: 'compliance-failed', scope: 'dev' }, routes)).toBe('oncall');
    expect(channelFor({ kind: 'operation-failed', scope: 'prod' }, routes)).toBe('oncall');
    expect(channelFor({ kind: 'operation-failed', scope: 'dev' }, routes)).toBe('dev');
    expect(channelFor({ kind: 'rollout-halted', scope: 'fleet' }, routes)).toBe('all');
    expect(channelFor({ kind: 'dev-expiry', scope: 'dev', owner: 'dana@example.com' }, routes)).toBe('dana');
    expect(channelFor({ kind: 'dev-expiry', scope: 'dev', owner: 'eve@example.com' }, routes)).toBe('dev');
  });

  it('a routing table that names a channel it does not define, or is no JSON, is refused saying where', () => {
    expect(() => parseNotifyRoutes('{')).toThrow(/MI_NOTIFY_ROUTES is not JSON/);
    expect(() => parseNotifyRoutes(JSON.stringify({ channels: { a: 'https://hooks.slack.com/x' }, fallback: 'b' }))).toThrow('MI_NOTIFY_ROUTES: fallback: no channel named b in channels (a)');
    expect(() => parseNotifyRoutes(JSON.stringify({ channels: { a: 'not a url' }, fallback: 'a' }))).toThrow(/channels\.a: expected the https URL of a Slack incoming webhook/);
    expect(() => parseNotifyRoutes(JSON.stringify({ channels: { a: 'https://h/x' }, fallback: 'a', routes: [{ kinds: ['typo'], channel: 'a' }] }))).toThrow(/routes\.0\.kinds\.0/);
  });

  it('the rate: sent at once while the interval has room, held for its digest after; intervals are fixed per channel and kind', () => {
    expect(deliveryOf(4, { messages: 5, seconds: 60 })).toBe('send');
    expect(deliveryOf(5, { messages: 5, seconds: 60 })).toBe('hold');
    const w = windowOf('dev', 'operation-failed', new Date('2026-12-02T10:00:59Z'), 60);
    expect(w).toEqual({ key: 'dev|operation-failed|2026-12-02T10:00:00.000Z', start: new Date('2026-12-02T10:00:00Z'), end: new Date('2026-12-02T10:01:00Z') });
    expect(windowOf('dev', 'operation-failed', new Date('2026-12-02T10:01:00Z'), 60).key).not.toBe(w.key);
  });
});

describe('what is sent', () => {
  const notice = (i: number, overrides: Partial<Notice> = {}): Notice => ({
    eventId: `e-${String(i).padStart(4, '0')}`,
    kind: 'operation-failed',
    scope: 'dev',
    severity: 'warning',
    title: `upgrade of dev-${i} failed at sql-backup`,
    text: `the backup failed ${'x'.repeat(200)}\nmi op get op-${i}`,
    instanceId: `dev-${i}`,
    page: false,
    at: `2026-12-02T10:00:${String(i % 60).padStart(2, '0')}Z`,
    ...overrides,
  });

  it('a message names what, where, the event id and the time', () => {
    const text = messageOf(notice(1, { owner: 'dana@example.com' })).text;
    expect(text).toContain('*upgrade of dev-1 failed at sql-backup* [dev/dev-1]');
    expect(text).toContain('owner: dana@example.com');
    expect(text).toContain('event e-0001');
  });

  it('a digest lists every notice held, in parts when it would pass Slack’s limit, none left out', () => {
    const many = Array.from({ length: 400 }, (_, i) => notice(i));
    const parts = digestOf('operation-failed', { start: new Date('2026-12-02T10:00:00Z'), end: new Date('2026-12-02T10:01:00Z') }, many);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) expect(part.text.length).toBeLessThan(40_000);
    const all = parts.map((p) => p.text).join('\n');
    for (const n of many) expect(all).toContain(`(event ${n.eventId})`);
    expect(parts[0]?.text).toContain(`400 operation-failed notices`);
    expect(parts[0]?.text).toContain(`part 1 of ${parts.length}`);
  });

  it('a page: the event id as alias, a message within OpsGenie’s 130 characters, P1 for what holds customers', () => {
    const page = pageOf(notice(7, { kind: 'operation-stuck', scope: 'prod', title: 'x'.repeat(300), page: true }));
    expect(page).toMatchObject({ alias: 'e-0007', priority: 'P1', entity: 'dev-7', tags: ['operation-stuck', 'prod'] });
    expect(page.message).toHaveLength(130);
    expect(pageOf(notice(8, { kind: 'break-glass' })).priority).toBe('P2');
  });
});

describe('the OpsGenie adapter, against the answers the alerts API documents', () => {
  const answering = (status: number, body: unknown) => {
    const seen: Array<{ url: string; init: RequestInit | undefined }> = [];
    const fetcher = ((url: string, init?: RequestInit) => {
      seen.push({ url, init });
      return Promise.resolve(new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } }));
    }) as typeof fetch;
    return { seen, pager: createOpsGeniePager({ apiKey: 'k-1', endpoint: 'https://api.eu.opsgenie.com', fetch: fetcher }) };
  };
  const request = pageOf({ eventId: 'e-1', kind: 'break-glass', scope: 'prod', severity: 'critical', title: 't', text: 'x', page: true, at: '2026-12-02T10:00:00Z' });

  it('202 "Request will be processed": the request id; the key as GenieKey, the alias in the body', async () => {
    const { seen, pager } = answering(202, { result: 'Request will be processed', took: 0.302, requestId: '43a29c5c-3dbf-4fa4-9c26-f4f71023e120' });
    expect(await pager.page(request)).toEqual({ requestId: '43a29c5c-3dbf-4fa4-9c26-f4f71023e120' });
    expect(seen[0]?.url).toBe('https://api.eu.opsgenie.com/v2/alerts');
    expect((seen[0]?.init?.headers as Record<string, string>).authorization).toBe('GenieKey k-1');
    expect(JSON.parse(seen[0]?.init?.body as string)).toMatchObject({ alias: 'e-1', message: 't' });
  });

  it('401 and 422 fail for good, naming the cause; 429 and 5xx are retried', async () => {
    await expect(answering(401, { message: 'Key format is not valid!', took: 0, requestId: 'r' }).pager.page(request)).rejects.toMatchObject({ code: 'permission-denied', retryable: false, message: expect.stringContaining('Key format is not valid!') as unknown });
    await expect(answering(422, { message: 'Request body is not processable. Please check the errors.', errors: { message: 'Message can not be empty.' }, took: 0, requestId: 'r' }).pager.page(request)).rejects.toMatchObject({ code: 'failed-precondition', retryable: false });
    await expect(answering(429, { message: 'You are making too many requests! To avoid errors, we recommend you limit requests.', took: 0, requestId: 'r' }).pager.page(request)).rejects.toMatchObject({ code: 'rate-limited', retryable: true });
    await expect(answering(503, { message: 'unavailable', took: 0, requestId: 'r' }).pager.page(request)).rejects.toMatchObject({ code: 'unavailable', retryable: true });
  });

  it('a Slack webhook is never logged whole: its path is the credential', () => {
    expect(redactedWebhook('https://hooks.slack.com/services/T0/B1/secret1')).toBe('https://hooks.slack.com/…');
  });
});

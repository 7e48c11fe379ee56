/**
 * The notifier on the Firestore emulator, posting through the production Slack and OpsGenie
 * adapters to their local stand-ins (which answer as Slack and OpsGenie do), each event
 * delivered through the Pub/Sub edge as its push would be: told once across redeliveries, a
 * burst above the rate becomes a digest with every event in it, what needs someone now pages
 * under the event id as alias, and Slack's refusals are retried or recorded as they deserve.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliver } from '../../../shared/edge.js';
import { makeEnvelope, type AnyEnvelope } from '../../../shared/events/index.js';
import { createFirestore, createFirestoreStore } from '../../../shared/gcp/firestore-store.js';
import { createOpsGeniePager } from '../../../shared/gcp/opsgenie.js';
import { createSlackWebhookPoster } from '../../../shared/gcp/slack-webhook.js';
import { silentLogger } from '../../../shared/log.js';
import { createNotifier, type NotificationRecord } from '../../../shared/notify/index.js';
import type { NotifyRoutes } from '../../../shared/domain/notify/routes.js';
import { notifyRoute } from '../../../shared/routes.js';
import { ManualClock } from '../../../shared/sim/clock.js';
import { serveOpsGenieStandIn, type OpsGenieStandIn } from '../../../shared/sim/opsgenie.js';
import { serveSlackStandIn, type SlackStandIn } from '../../../shared/sim/slack.js';
import { COLLECTIONS, paths } from '../../../shared/store/collections.js';
import { pubSubCloudEvent } from '../../../harness/cloud-event.js';
import { customerInstance } from '../../../harness/instances.js';
import { projectIdFor } from '../../support/project.js';
import { uniqueId } from '../../support/engine-fixture.js';
import type { StateStore } from '../../../shared/ports.js';
import { notGranted } from '../../../shared/service-composition.js';

const KEY = 'test-opsgenie-key';
let slack: SlackStandIn;
let opsgenie: OpsGenieStandIn;
let store: StateStore;
const clock = new ManualClock('2026-12-02T10:00:10Z');
const firestore = createFirestore(projectIdFor(import.meta.url));

beforeAll(async () => {
  slack = await serveSlackStandIn({ channels: ['oncall', 'dev', 'fleet', 'dana-dm'] });
  opsgenie = await serveOpsGenieStandIn({ apiKey: KEY });
  store = createFirestoreStore({ firestore });
});
afterAll(async () => {
  await slack.close();
  await opsgenie.close();
  await firestore.terminate();
});

function routes(rate = { messages: 5, seconds: 60 }): NotifyRoutes {
  return {
    channels: { oncall: slack.webhookOf('oncall'), dev: slack.webhookOf('dev'), fleet: slack.webhookOf('fleet'), 'dana-dm': slack.webhookOf('dana-dm') },
    routes: [
      { environments: ['prod'], channel: 'oncall' },
      { environments: ['dev'], channel: 'dev' },
    ],
    fallback: 'fleet',
    owners: { 'dana@example.com': 'dana-dm' },
    rate,
  };
}

function notifier(options: { rate?: NotifyRoutes['rate']; pager?: boolean } = {}) {
  return createNotifier({
    store,
    clock,
    log: silentLogger,
    slack: createSlackWebhookPoster(),
    pager: options.pager === false ? notGranted('OpsGenie', 'this test') : createOpsGeniePager({ apiKey: KEY, endpoint: opsgenie.url }),
    routes: routes(options.rate),
  });
}

/** Delivered as its push would be, through the edge; `messageId` tells a redelivery (same id) from a publisher's retry. */
function delivered(n: ReturnType<typeof notifier>, envelope: AnyEnvelope, messageId?: string) {
  return deliver({ store, bus: notGranted('Pub/Sub', 'the notifier'), clock, log: silentLogger }, notifyRoute(n), pubSubCloudEvent(envelope, { topic: 'mi-events', ...(messageId === undefined ? {} : { message: { messageId } }) }));
}

async function seeded(environment: 'dev' | 'prod', overrides: Record<string, unknown> = {}) {
  const id = uniqueId(environment === 'dev' ? 'dev' : 'cus');
  const record = { ...customerInstance(id, 'us-central1', { project: `mi-${id}`, cluster: id, sqlInstance: `${id}-db`, backupPlan: `p/${id}` } as never, clock.now().toISOString()), ...(environment === 'dev' ? { environment: 'dev', tier: 'internal', maintenanceWindow: undefined, owner: 'dana@example.com' } : {}), ...overrides };
  await store.set(paths.instance(id), record);
  return id;
}

const failed = (instanceId: string, reason = 'Cloud SQL answered 500') =>
  makeEnvelope({ type: 'operation.failed', instanceId, payload: { operationId: `op-${uniqueId()}`, operationType: 'upgrade', failedStep: 'sql-backup', reason }, actor: 'system:reconcile', reason: 'the backup failed' }) as unknown as AnyEnvelope;

describe('a notification', () => {
  it('is sent once per event across redeliveries, concurrent or later, to the channel of its environment', async () => {
    const n = notifier();
    const id = await seeded('prod');
    const event = failed(id, `a failure only this test sends ${id}`);
    const outcomes = await Promise.all([delivered(n, event, '7001'), delivered(n, event, '7001'), delivered(n, event, '7002')]);
    outcomes.push(await delivered(n, event, '7003'));
    const mine = slack.received().filter((m) => m.text.includes(id));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ channel: 'oncall' });
    expect(mine[0]?.text).toContain(`upgrade of ${id} failed at sql-backup`);
    expect(mine[0]?.text).toContain(event.eventId);
    expect(outcomes.filter((o) => o.kind === 'sent')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'duplicate')).toHaveLength(3);
    expect(await store.get<NotificationRecord>(paths.notification(event.eventId, 'oncall'))).toMatchObject({ status: 'sent', kind: 'operation-failed', scope: 'prod' });
  });

  it('that Slack could not take (a 500, a 429) is thrown for redelivery and sent once when it can', async () => {
    const n = notifier();
    const id = await seeded('prod');
    const event = failed(id);
    slack.failNext('oncall', 500, 'internal_error');
    slack.failNext('oncall', 429, 'rate_limited');
    await expect(delivered(n, event)).rejects.toMatchObject({ code: 'unavailable', retryable: true });
    await expect(delivered(n, event)).rejects.toMatchObject({ code: 'rate-limited', retryable: true });
    expect((await delivered(n, event)).kind).toBe('sent');
    expect((await delivered(n, event)).kind).toBe('duplicate');
    expect(slack.received().filter((m) => m.text.includes(event.eventId))).toHaveLength(1);
  });

  it('that Slack refuses for good (the webhook was removed) is recorded as failed and acknowledged, not redelivered forever', async () => {
    const n = notifier();
    const id = await seeded('prod');
    const event = failed(id);
    slack.failNext('oncall', 404, 'no_service');
    const outcome = await delivered(n, event);
    expect(outcome).toMatchObject({ kind: 'failed', channel: 'oncall' });
    expect(await store.get<NotificationRecord>(paths.notification(event.eventId, 'oncall'))).toMatchObject({ status: 'failed', failure: expect.stringContaining('404 no_service') as unknown });
    expect((await delivered(n, event)).kind).toBe('duplicate');
  });

  it("of a dev instance's expiry goes to its owner's channel; what needs no person is not sent", async () => {
    const n = notifier();
    const id = await seeded('dev');
    const expiring = makeEnvelope({ type: 'instance.expiring', instanceId: id, payload: { expiresAt: '2026-12-03T10:00:00Z' }, actor: 'system:check-retention', reason: 'expires within 24 hours' }) as unknown as AnyEnvelope;
    expect(await delivered(n, expiring)).toMatchObject({ kind: 'sent', channel: 'dana-dm' });
    expect(slack.received('dana-dm').at(-1)?.text).toContain(`mi instance extend ${id}`);
    const accepted = makeEnvelope({ type: 'operation.accepted', instanceId: id, payload: { operationId: 'op-x', operationType: 'backup' }, actor: 'system:lifecycle', reason: 'r' }) as unknown as AnyEnvelope;
    expect(await delivered(n, accepted)).toMatchObject({ kind: 'ignored' });
  });
});

describe('a burst above the rate', () => {
  it('sends the first notices at once and every other in one digest per channel and kind once the interval ends', async () => {
    const n = notifier({ rate: { messages: 3, seconds: 60 } });
    clock.advance(120_000);
    const ids = await Promise.all(Array.from({ length: 11 }, () => seeded('dev')));
    const events = ids.map((id) => failed(id, `burst ${id}`));
    const outcomes = [];
    for (const event of events) outcomes.push(await delivered(n, event));
    expect(outcomes.filter((o) => o.kind === 'sent')).toHaveLength(3);
    expect(outcomes.filter((o) => o.kind === 'held')).toHaveLength(8);
    // Before the interval ends, nothing is digested.
    expect(await n.sendDueDigests()).toEqual({ kind: 'digests', digests: 0, notices: 0 });
    clock.advance(60_000);
    const tick = await delivered(n, { schedule: 'notify-digests' } as never);
    expect(tick).toMatchObject({ kind: 'digests', digests: 1, notices: 8 });
    const digest = slack.received('dev').filter((m) => m.text.includes('a digest'));
    expect(digest).toHaveLength(1);
    // Every event is in the digest or was sent on its own: nothing dropped, nothing twice.
    for (const event of events) {
      const mentions = slack.received('dev').filter((m) => m.text.includes(event.eventId));
      expect(mentions, event.eventId).toHaveLength(1);
    }
    expect(digest[0]?.text).toContain('8 operation-failed notices');
    const held = await store.query<NotificationRecord>({ collection: COLLECTIONS.notifications, where: [{ field: 'status', op: 'in', value: ['held', 'digesting'] }] });
    expect(held.filter((h) => ids.includes(h.data.instanceId ?? ''))).toHaveLength(0);
    // A second tick finds nothing left.
    expect(await n.sendDueDigests()).toEqual({ kind: 'digests', digests: 0, notices: 0 });
  });
});

describe('a page', () => {
  it('carries the event id as its alias, so a redelivered notice does not page twice', async () => {
    const n = notifier();
    const id = await seeded('prod');
    const stuck = makeEnvelope({ type: 'operation.stuck', instanceId: id, payload: { operationId: `op-${id}`, operationType: 'upgrade', deadline: '2026-12-02T09:00:00Z', stillRunning: ['upgrade-application'] }, actor: 'system:reconcile', reason: 'deadline' }) as unknown as AnyEnvelope;
    slack.failNext('oncall', 503, 'service_unavailable');
    await expect(delivered(n, stuck)).rejects.toMatchObject({ retryable: true });
    expect((await delivered(n, stuck)).kind).toBe('sent');
    const alert = opsgenie.alerts().find((a) => a.alias === stuck.eventId);
    expect(alert).toMatchObject({ alias: stuck.eventId, priority: 'P1', entity: id });
    // Asked twice (the redelivery after Slack's 503), paged once.
    expect(alert?.count).toBe(2);
    expect(opsgenie.pages().filter((p) => p.alias === stuck.eventId)).toHaveLength(1);
  });

  it('is only for what needs someone now: a stuck dev operation is posted, not paged; a halted customer wave and a break-glass grant page', async () => {
    const n = notifier();
    const dev = await seeded('dev');
    const stuckDev = makeEnvelope({ type: 'operation.stuck', instanceId: dev, payload: { operationId: `op-${dev}`, operationType: 'backup', deadline: '2026-12-02T09:00:00Z', stillRunning: [] }, actor: 'system:reconcile', reason: 'deadline' }) as unknown as AnyEnvelope;
    const halted = makeEnvelope({ type: 'alert', payload: { kind: 'rollout-halted', severity: 'critical', summary: 'rollout r-1 halted: 2 failed in customers', details: { rolloutId: 'r-1', wave: 'customers', failed: [] } }, actor: 'system:rollout', reason: 'halted' }) as unknown as AnyEnvelope;
    const breakGlass = makeEnvelope({ type: 'alert', payload: { kind: 'break-glass', severity: 'critical', summary: 'break-glass access to prod: eve@example.com (1 h)', details: {} }, actor: 'system:access-review', reason: 'break-glass' }) as unknown as AnyEnvelope;
    const stuckAlert = makeEnvelope({ type: 'alert', instanceId: dev, payload: { kind: 'operation-stuck', severity: 'critical', summary: 'stuck', details: {} }, actor: 'system:reconcile', reason: 'r' }) as unknown as AnyEnvelope;
    await delivered(n, stuckDev);
    await delivered(n, halted);
    await delivered(n, breakGlass);
    // The stuck alert beside the operation.stuck fact is the same happening: not told twice.
    expect(await delivered(n, stuckAlert)).toMatchObject({ kind: 'ignored' });
    expect(opsgenie.pages().map((p) => p.alias)).not.toContain(stuckDev.eventId);
    expect(opsgenie.pages().map((p) => p.alias)).toEqual(expect.arrayContaining([halted.eventId, breakGlass.eventId]));
    expect(slack.received('fleet').map((m) => m.text).join('\n')).toContain('rollout r-1 halted');
  });

  it('without a pager configured is said loudly, and the notice still posted', async () => {
    const n = notifier({ pager: false });
    const id = await seeded('prod');
    const stuck = makeEnvelope({ type: 'operation.stuck', instanceId: id, payload: { operationId: `op-${id}`, operationType: 'upgrade', deadline: '2026-12-02T09:00:00Z', stillRunning: [] }, actor: 'system:reconcile', reason: 'deadline' }) as unknown as AnyEnvelope;
    expect(await delivered(n, stuck)).toMatchObject({ kind: 'sent', paged: 'no-pager' });
  });
});

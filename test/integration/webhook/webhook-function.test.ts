import { randomUUID } from 'node:crypto';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useServices } from '../../../functions/wiring.js';
import { readEnvironment } from '../../../shared/environment.js';
import { servicesWith } from '../../support/services.js';
import { checkWebhookConfig } from '../../../shared/webhook/index.js';
import { WEBHOOK_SECRET_ENV } from '../../../shared/topology.js';
import '../../../functions/github-webhook.js';
import { REPOSITORY, SECRET, createWebhookWorld, mergedPullRequest, pingPayload, pushPayload, sha, signedHeaders, type WebhookWorld } from './support.js';

const CONFIG = 'environments/prod/deployments/cus-acme/config.yaml';
const NETWORKING = 'environments/prod/deployments/cus-acme/terraform/stacks/networking/main.tf';

let world: WebhookWorld;
const server = () => request(getTestServer('githubWebhook'));

async function deliver(payload: unknown, options: { event?: string; delivery?: string; headers?: Record<string, string>; body?: string } = {}) {
  const body = options.body ?? JSON.stringify(payload);
  const headers = { ...(await signedHeaders(body, options.event ?? 'push', options.delivery ?? randomUUID())), ...options.headers };
  return server().post('/').set(headers).send(body);
}

async function deliveries(): Promise<number> {
  return world.fx.store.count({ collection: 'webhookDeliveries' });
}

/** What a delivery can leave behind: delivery records, outbox entries, published messages. */
async function traces(): Promise<{ deliveries: number; outbox: number; published: number }> {
  return { deliveries: await deliveries(), outbox: await world.fx.store.count({ collection: 'outbox' }), published: world.published.length };
}

beforeAll(async () => {
  world = await createWebhookWorld(import.meta.url, { maxBodyBytes: 2 * 1024 * 1024 });
});
afterAll(async () => {
  await world.close();
});
beforeEach(() => {
  useServices(servicesWith({ webhook: () => world.webhookDeps }));
});

describe('the githubWebhook function refuses what GitHub did not sign', () => {
  const push = () => pushPayload({ before: sha(1), after: sha(2), commits: [{ modified: [CONFIG] }] });

  it('an unsigned delivery: 401, nothing recorded or published', async () => {
    const before = await traces();
    const body = JSON.stringify(push());
    const res = await server().post('/').set({ 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID() }).send(body);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: 'unauthenticated', message: expect.stringMatching(/missing X-Hub-Signature-256/) as unknown });
    expect(await traces()).toEqual(before);
  });

  it('a forged delivery (signed with another secret): 401, nothing recorded or published', async () => {
    const before = await traces();
    const delivery = randomUUID();
    const body = JSON.stringify(push());
    const res = await server().post('/').set(await signedHeaders(body, 'push', delivery, 'not-the-secret-at-all-000')).send(body);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ message: 'X-Hub-Signature-256 does not match the body' });
    expect(await world.fx.store.get(`webhookDeliveries/${delivery}`)).toBeUndefined();
    expect(await traces()).toEqual(before);
  });

  it('a genuine signature over a body that was then changed: 401, nothing recorded or published', async () => {
    const before = await traces();
    const delivery = randomUUID();
    const body = JSON.stringify(push());
    const headers = await signedHeaders(body, 'push', delivery);
    const res = await server().post('/').set(headers).send(body.replace(sha(2), sha(3)));
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ message: 'X-Hub-Signature-256 does not match the body' });
    expect(await world.fx.store.get(`webhookDeliveries/${delivery}`)).toBeUndefined();
    expect(await traces()).toEqual(before);
  });

  it('a malformed signature header: 401', async () => {
    const res = await deliver(push(), { headers: { 'x-hub-signature-256': 'sha1=0123' } });
    expect(res.status).toBe(401);
  });

  it('an oversized delivery: 413 before anything else is looked at', async () => {
    const big = pushPayload({ before: sha(1), after: sha(2), commits: [{ modified: Array.from({ length: 40_000 }, (_, i) => `docs/file-${i}-${'x'.repeat(40)}.md`) }] });
    const body = JSON.stringify(big);
    expect(body.length).toBeGreaterThan(2 * 1024 * 1024);
    const res = await deliver(big, { body });
    expect(res.status).toBe(413);
  });

  it('a signed body that does not parse: 400', async () => {
    const res = await deliver(undefined, { body: '{"ref": "refs/heads/main", ' });
    expect(res.status).toBe(400);
  });

  it('a signed push that is not a push payload: 400 naming the field', async () => {
    const res = await deliver({ ref: 'refs/heads/main' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ message: expect.stringMatching(/not a push payload/) as unknown });
  });

  it('refuses to start without a secret', () => {
    expect(() => checkWebhookConfig({ repository: REPOSITORY })).toThrow(/no webhook secret configured/);
    expect(() => readEnvironment('githubWebhook', { GOOGLE_CLOUD_PROJECT: 'p', MI_DEPLOYMENT_REPOSITORY: REPOSITORY })).toThrow(new RegExp(`${WEBHOOK_SECRET_ENV} is missing`));
    expect(readEnvironment('githubWebhook', { GOOGLE_CLOUD_PROJECT: 'p', MI_DEPLOYMENT_REPOSITORY: REPOSITORY, [WEBHOOK_SECRET_ENV]: SECRET })).toMatchObject({ MI_DEPLOYMENT_REPOSITORY: REPOSITORY });
  });
});

describe('the githubWebhook function routes what GitHub signed', () => {
  it('ping answers 200', async () => {
    const res = await deliver(pingPayload(), { event: 'ping' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ pong: true });
  });

  it('a push to the default branch: 202 and one reference message on mi-deployments, never the payload', async () => {
    const payload = pushPayload({ before: sha(10), after: sha(11), commits: [{ modified: [CONFIG, NETWORKING, 'README.md'] }] });
    const res = await deliver(payload);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ accepted: sha(11), instances: 1 });
    const message = world.pushes().find((p) => p.payload.after === sha(11));
    expect(message?.payload.changes).toEqual({
      source: 'payload',
      instances: [{ instanceId: 'cus-acme', environment: 'prod', config: 'changed', modules: ['networking'] }],
      ignoredPaths: 1,
    });
    expect(JSON.stringify(message)).not.toContain('Initial commit');
    expect(JSON.stringify(message)).not.toContain('README.md');
    expect(JSON.stringify(message).length).toBeLessThan(2_000);
  });

  it('a replay of a delivery whose push was handled answers 200 and does nothing', async () => {
    const payload = pushPayload({ before: sha(20), after: sha(21), commits: [{ modified: [NETWORKING] }] });
    const delivery = randomUUID();
    expect((await deliver(payload, { delivery })).status).toBe(202);
    const push = world.pushes().find((p) => p.payload.after === sha(21));
    expect(await world.consumer.handlePush(push!)).toMatchObject({ kind: 'handled' });
    const published = world.published.length;
    const count = await deliveries();
    const replay = await deliver(payload, { delivery });
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ replay: true });
    expect(world.published.length).toBe(published);
    expect(await deliveries()).toBe(count);
  });

  it('a redelivery of a delivery whose push was never handled hands the same push on again', async () => {
    const payload = pushPayload({ before: sha(22), after: sha(23), commits: [{ modified: [NETWORKING] }] });
    const delivery = randomUUID();
    expect((await deliver(payload, { delivery })).status).toBe(202);
    const count = await deliveries();
    const again = await deliver(payload, { delivery });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ accepted: sha(23), redelivered: true });
    const messages = world.pushes().filter((p) => p.payload.after === sha(23));
    expect(messages).toHaveLength(2);
    expect(new Set(messages.map((m) => m.eventId)).size).toBe(1);
    expect(await deliveries()).toBe(count);
  });

  it('the same body under a new delivery id is the same event: the same event id, so nothing changes twice', async () => {
    const payload = pushPayload({ before: sha(30), after: sha(31), commits: [{ modified: [CONFIG] }] });
    await deliver(payload);
    await deliver(payload);
    const messages = world.pushes().filter((p) => p.payload.after === sha(31));
    expect(messages).toHaveLength(2);
    expect(new Set(messages.map((m) => m.eventId)).size).toBe(1);
  });

  it('a merged pull request is acknowledged and ignored: its push carries the work', async () => {
    const published = world.published.length;
    const res = await deliver(mergedPullRequest(sha(41)), { event: 'pull_request' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ ignored: expect.stringMatching(/merged pull request/) as unknown });
    expect(world.published.length).toBe(published);
  });

  it.each([
    ['another branch', { ref: 'refs/heads/feature' }, /not to the default branch/],
    ['another repository', { repository: { full_name: 'someone/else', default_branch: 'main' } }, /not the deployment repository/],
    ['a deleted branch', { deleted: true }, /deleted the branch/],
  ])('a push to %s: 202 with the reason it was ignored', async (_label, change, reason) => {
    const payload = { ...pushPayload({ before: sha(50), after: sha(51), commits: [{ modified: [CONFIG] }] }), ...change };
    const published = world.published.length;
    const res = await deliver(payload);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ ignored: expect.stringMatching(reason) as unknown });
    expect(world.published.length).toBe(published);
  });

  it('any other event: 202 with the reason it was ignored', async () => {
    const res = await deliver({ action: 'created', starred_at: null }, { event: 'star' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ ignored: expect.stringMatching(/event star/) as unknown });
  });

  it('a push at the file-list cap hands the consumer a comparison, not a file list', async () => {
    const capped = await createWebhookWorld(import.meta.url, { caps: { commits: 2048, filesPerCommit: 5 } });
    try {
      useServices(servicesWith({ webhook: () => capped.webhookDeps }));
      const payload = pushPayload({ before: sha(60), after: sha(61), commits: [{ modified: [CONFIG, 'a', 'b', 'c', 'd'] }] });
      const res = await deliver(payload);
      expect(res.status).toBe(202);
      expect(capped.pushes()[0]?.payload.changes).toEqual({ source: 'compare', reason: expect.stringMatching(/at its cap \(5\)/) as unknown });
    } finally {
      await capped.close();
    }
  });
});

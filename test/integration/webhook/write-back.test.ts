/**
 * Writing back: an upgrade that succeeds asks (through the outbox, on mi-deployments) for its new
 * version to be written to the instance's config.yaml; the deployments consumer commits it as the
 * control plane, once; a person's newer change is never overwritten; and the webhook does not act
 * on the control plane's own push, while the same push by a person is a push.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { deliver } from '../../../shared/edge.js';
import { WRITE_BACK_TRAILER } from '../../../shared/domain/deployments/write-back.js';
import type { AnyEnvelope, Envelope } from '../../../shared/events/index.js';
import { deploymentsRoute, lifecycleRoute } from '../../../shared/routes.js';
import { paths } from '../../../shared/store/collections.js';
import type { LedgerEntry } from '../../../shared/engine/index.js';
import { pubSubCloudEvent } from '../../../harness/cloud-event.js';
import { createWebhookWorld, instanceConfig, instanceRoot, pushPayload, recordingBus, sha, type WebhookWorld } from './support.js';

const BOT = 'mi-control-plane[bot]';
let world: WebhookWorld;

beforeAll(async () => {
  world = await createWebhookWorld(import.meta.url, { branch: 'main', botLogin: BOT });
});
afterAll(async () => {
  await world.close();
});

/** Upgrades a seeded instance to `target` through the engine; the write-back request its end published. */
async function upgradeAndTakeWriteBack(from: string, target: string) {
  const instance = await world.fx.seedInstance({ environment: 'prod', tier: 'internal', maintenanceWindow: undefined, version: from });
  const { bus, published } = recordingBus(world.fx.bus);
  const engine = world.fx.engineWith({ bus });
  const command = world.fx.command('instance.upgrade', instance.id, { targetVersion: target });
  await deliver(engine.deps, lifecycleRoute(engine), pubSubCloudEvent(command, { topic: 'mi-lifecycle' }));
  const op = await world.fx.driveToEnd(`op-${command.eventId}`, { engine });
  expect(op.status).toBe('succeeded');
  const requests = published.filter((p) => p.topic === 'mi-deployments').map((p) => p.envelope);
  return { instance, op, requests };
}

function writeBackOf(requests: AnyEnvelope[]): Envelope<'deployment.write-back'> {
  const [request] = requests;
  expect(requests.map((r) => r.type)).toEqual(['deployment.write-back']);
  return request as Envelope<'deployment.write-back'>;
}

describe('an operation that changes a spec writes it back to config.yaml', () => {
  it('an upgrade commits its version, as the control plane, once; everything else in the file stays', async () => {
    const { instance, op, requests } = await upgradeAndTakeWriteBack('5.4.2', '5.5.0');
    const path = `${instanceRoot('prod', instance.id)}/config.yaml`;
    const original = `# owned by the platform team\n${instanceConfig(instance.id, 'prod', 'internal', '5.4.2')}`;
    world.repo.commit(sha(0x5000), { [path]: original }, { branch: 'main' });

    const request = writeBackOf(requests);
    expect(request.payload).toMatchObject({ operationId: op.id, before: { version: '5.4.2' }, after: { version: '5.5.0' } });
    const route = deploymentsRoute(world.consumer);
    const outcome = await deliver(world.consumer.deps, route, pubSubCloudEvent(request, { topic: 'mi-deployments' }));
    expect(outcome).toMatchObject({ kind: 'write-back', detail: { kind: 'written' } });
    const [written] = world.repo.written.slice(-1);
    expect(written?.path).toBe(path);
    expect(written?.message).toContain(`${WRITE_BACK_TRAILER}: ${op.id}`);
    const text = await world.repo.readFile(path, 'main');
    expect(text).toContain('# owned by the platform team');
    expect(parse(text ?? '')).toMatchObject({ id: instance.id, version: '5.5.0', region: 'us-central1' });

    // Delivered again (at least once): nothing more is written.
    const count = world.repo.written.length;
    expect(await deliver(world.consumer.deps, route, pubSubCloudEvent(request, { topic: 'mi-deployments' }))).toMatchObject({ kind: 'write-back', detail: { kind: 'duplicate' } });
    expect(world.repo.written.length).toBe(count);
    const ledger = await world.fx.store.get<LedgerEntry>(paths.ledger(request.eventId));
    expect(ledger).toMatchObject({ outcome: 'accepted', code: 'written', operationId: op.id });
  });

  it("a person's newer change to the file is left as it is, and the skip is recorded with the reason", async () => {
    const { instance, requests } = await upgradeAndTakeWriteBack('5.4.2', '5.5.0');
    const path = `${instanceRoot('prod', instance.id)}/config.yaml`;
    world.repo.commit(sha(0x5100), { [path]: instanceConfig(instance.id, 'prod', 'internal', '5.6.0') }, { branch: 'main' });
    const count = world.repo.written.length;
    const outcome = await deliver(world.consumer.deps, deploymentsRoute(world.consumer), pubSubCloudEvent(writeBackOf(requests), { topic: 'mi-deployments' }));
    expect(outcome).toMatchObject({ kind: 'write-back', detail: { kind: 'superseded', reason: expect.stringContaining('version 5.6.0') as unknown } });
    expect(world.repo.written.length).toBe(count);
    expect(parse((await world.repo.readFile(path, 'main')) ?? '')).toMatchObject({ version: '5.6.0' });
  });

  it("the webhook does not act on the control plane's own write-back push; the same push by a person is a push", async () => {
    const { instance, requests } = await upgradeAndTakeWriteBack('5.4.2', '5.5.0');
    const path = `${instanceRoot('prod', instance.id)}/config.yaml`;
    const before = sha(0x5200);
    world.repo.commit(before, { [path]: instanceConfig(instance.id, 'prod', 'internal', '5.4.2') }, { branch: 'main' });
    const request = writeBackOf(requests);
    await deliver(world.consumer.deps, deploymentsRoute(world.consumer), pubSubCloudEvent(request, { topic: 'mi-deployments' }));
    const written = world.repo.written.slice(-1)[0];
    if (written === undefined) throw new Error('nothing was written back');

    const push = pushPayload({ before, after: written.commit, commits: [{ modified: [path] }] });
    const commits = push.commits.map((c) => ({ ...c, message: written.message }));
    const byBot = await world.post({ ...push, commits, pusher: { name: BOT, email: null } });
    expect(byBot.answer.status).toBe(202);
    expect(byBot.answer.body).toMatchObject({ writeBack: [request.payload.operationId] });
    expect(byBot.pushes).toEqual([]);

    const byPerson = await world.post({ ...push, commits, pusher: { name: 'codertocat', email: 'codertocat@example.com' } });
    expect(byPerson.pushes.map((p) => p.payload.after)).toEqual([written.commit]);
  });
});

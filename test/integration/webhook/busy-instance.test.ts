/**
 * A merged config change for an instance that is busy is never lost (issue 12, item 6): it is kept
 * in `specChanges/{instanceId}` (the newest by ancestry winning), applied by the deployments tick
 * when the lease frees and recorded then; "busy" never fails the push nor dead-letters it. And a
 * GitHub redelivery of a delivery whose push was never handled is handed on again.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpecChangeRecord } from '../../../shared/domain/deployments/spec-changes.js';
import { type AuditRecord, type LedgerEntry } from '../../../shared/engine/index.js';
import type { Envelope, InstanceRecord } from '../../../shared/events/index.js';
import { pubSubCloudEvent } from '../../../harness/cloud-event.js';
import { lifecycleDelivery } from '../../support/engine-fixture.js';
import { controlPlaneFailure } from '../../support/failures.js';
import { createWebhookWorld, instanceConfig, instanceRoot, pushPayload, sha, type WebhookWorld } from './support.js';
import { paths } from '../../../shared/store/collections.js';
import { deliver } from '../../../shared/edge.js';
import { deploymentsRoute, lifecycleRoute } from '../../../shared/routes.js';

let world: WebhookWorld;

beforeAll(async () => {
  world = await createWebhookWorld(import.meta.url);
});
afterAll(async () => {
  await world.close();
});

/** A customer instance whose lease is held by a running backup operation; the operation's id. */
async function busyInstance(): Promise<{ instance: InstanceRecord; operationId: string }> {
  const instance = await world.fx.seedInstance({ environment: 'prod', tier: 'customer', version: '5.4.2' });
  const backup = world.fx.command('instance.backup', instance.id, {});
  expect((await deliver(world.fx.engine.deps, lifecycleRoute(world.fx.engine), lifecycleDelivery(backup))).kind).toBe('accepted');
  const operationId = `op-${backup.eventId}`;
  expect((await world.fx.instance(instance.id))?.lease?.operationId).toBe(operationId);
  return { instance, operationId };
}

/** The push message as the deployments function receives it from its push subscription. */
function pushDelivery(push: Envelope<'deployment.pushed'>) {
  return pubSubCloudEvent(push, { topic: 'mi-deployments' });
}

const specChange = (instanceId: string) => world.fx.store.get<SpecChangeRecord>(`specChanges/${instanceId}`);
const commandsFor = (instanceId: string) => world.commands().filter((c) => c.instanceId === instanceId && c.type === 'instance.upgrade') as Array<Envelope<'instance.upgrade'>>;

async function auditActions(instanceId: string): Promise<string[]> {
  const docs = await world.fx.store.query<AuditRecord>({ collection: 'audit', where: [{ field: 'instanceId', op: '==', value: instanceId }] });
  return docs.map((d) => d.data).sort((a, b) => a.at.localeCompare(b.at)).map((a) => a.action);
}

describe('a merged config change for a busy instance', () => {
  it('is kept, applied by the deployments tick when the lease frees, and recorded when it runs; the push is never failed for busy', async () => {
    const { instance, operationId } = await busyInstance();
    const file = `${instanceRoot('prod', instance.id)}/config.yaml`;
    const before = sha(0x6001);
    const after = sha(0x6002);
    world.repo.commit(before, { [file]: instanceConfig(instance.id, 'prod', 'customer', '5.4.2') });
    world.repo.commit(after, { [file]: instanceConfig(instance.id, 'prod', 'customer', '5.5.0') }, { parents: [before] });
    const delivery = randomUUID();
    const { pushes } = await world.post(pushPayload({ before, after, commits: [{ modified: [file] }] }), { delivery });

    // Delivered as Pub/Sub delivers it: the function returns (acknowledged), it does not throw busy.
    const handled = await deliver(world.consumer.deps, deploymentsRoute(world.consumer), pushDelivery(pushes[0]));
    expect(handled).toMatchObject({ kind: 'push', detail: { kind: 'handled', waiting: [instance.id], commands: [] } });
    expect(await world.fx.store.get<LedgerEntry>(paths.ledger(pushes[0].eventId))).toMatchObject({ outcome: 'accepted', waiting: 1 });
    expect(await world.fx.store.get(`webhookDeliveries/${delivery}`)).toMatchObject({ handledAt: expect.any(String) as unknown });
    expect(await specChange(instance.id)).toMatchObject({ status: 'waiting', commit: after, spec: { version: '5.5.0' }, request: null });

    // Ticks while the lease is held ask nothing of the engine.
    await world.consumer.tick();
    await world.consumer.tick();
    expect(commandsFor(instance.id)).toEqual([]);

    // The backup ends and releases the lease; the next tick asks for the upgrade of that commit.
    expect((await world.fx.driveToEnd(operationId)).status).toBe('succeeded');
    expect((await world.fx.instance(instance.id))?.lease).toBeNull();
    await world.consumer.tick();
    const [upgrade] = commandsFor(instance.id);
    expect(upgrade?.payload).toEqual({ targetVersion: '5.5.0' });
    expect(await specChange(instance.id)).toMatchObject({ status: 'asked', request: { eventId: upgrade?.eventId, type: 'instance.upgrade' } });

    // The engine accepts it; the tick records the change as applied, with its operation, in the audit trail.
    await world.deliverCommands();
    await world.consumer.tick();
    const applied = await specChange(instance.id);
    expect(applied).toMatchObject({ status: 'applied', operationId: `op-${upgrade?.eventId}` });
    expect((await world.fx.operation(`op-${upgrade?.eventId}`))?.type).toBe('upgrade');
    expect(await auditActions(instance.id)).toEqual(expect.arrayContaining(['deployment.change-waiting', 'deployment.change-applied']));
    // Once: more ticks ask nothing more.
    await world.consumer.tick();
    expect(commandsFor(instance.id)).toHaveLength(1);
  });

  it('of two changes, the newer by ancestry wins, whatever order they arrive in', async () => {
    const { instance, operationId } = await busyInstance();
    const file = `${instanceRoot('prod', instance.id)}/config.yaml`;
    const [c0, c1, c2] = [sha(0x6101), sha(0x6102), sha(0x6103)];
    world.repo.commit(c0, { [file]: instanceConfig(instance.id, 'prod', 'customer', '5.4.2') });
    world.repo.commit(c1, { [file]: instanceConfig(instance.id, 'prod', 'customer', '5.5.0') }, { parents: [c0] });
    world.repo.commit(c2, { [file]: instanceConfig(instance.id, 'prod', 'customer', '5.6.0') }, { parents: [c1] });
    // The later merge's push arrives first; the earlier one's arrives last.
    const { pushes: later } = await world.post(pushPayload({ before: c1, after: c2, commits: [{ modified: [file] }] }));
    const { pushes: earlier } = await world.post(pushPayload({ before: c0, after: c1, commits: [{ modified: [file] }] }));
    await world.consumer.handlePush(later[0]);
    const late = await world.consumer.handlePush(earlier[0]);
    expect(late).toMatchObject({ kind: 'handled', superseded: [{ instanceId: instance.id, newer: c2 }], waiting: [] });
    expect(await specChange(instance.id)).toMatchObject({ status: 'waiting', commit: c2, spec: { version: '5.6.0' } });

    await world.fx.driveToEnd(operationId);
    await world.consumer.tick();
    expect(commandsFor(instance.id).map((c) => c.payload.targetVersion)).toEqual(['5.6.0']);
    expect(await auditActions(instance.id)).toEqual(expect.arrayContaining(['deployment.change-waiting', 'deployment.change-superseded']));
  });

  it('a newer change replaces an older one still waiting', async () => {
    const { instance, operationId } = await busyInstance();
    const file = `${instanceRoot('prod', instance.id)}/config.yaml`;
    const [c0, c1, c2] = [sha(0x6201), sha(0x6202), sha(0x6203)];
    world.repo.commit(c0, { [file]: instanceConfig(instance.id, 'prod', 'customer', '5.4.2') });
    world.repo.commit(c1, { [file]: instanceConfig(instance.id, 'prod', 'customer', '5.5.0') }, { parents: [c0] });
    world.repo.commit(c2, { [file]: instanceConfig(instance.id, 'prod', 'customer', '5.6.0') }, { parents: [c1] });
    const asked = world.repo.ancestryCalls;
    for (const [before, after] of [
      [c0, c1],
      [c1, c2],
    ] as const) {
      const { pushes } = await world.post(pushPayload({ before, after, commits: [{ modified: [file] }] }));
      await world.consumer.handlePush(pushes[0]);
    }
    // A fast-forward from the recorded commit needs no question to the repository.
    expect(world.repo.ancestryCalls).toBe(asked);
    expect(await specChange(instance.id)).toMatchObject({ status: 'waiting', commit: c2, replaced: { commit: c1, status: 'waiting' } });
    await world.fx.driveToEnd(operationId);
    await world.consumer.tick();
    expect(commandsFor(instance.id).map((c) => c.payload.targetVersion)).toEqual(['5.6.0']);
  });

  it('the engine answering busy (the lease taken after the push was handled) is not a failure: the change is asked again when the lease frees', async () => {
    const instance = await world.fx.seedInstance({ environment: 'prod', tier: 'customer', version: '5.4.2' });
    const file = `${instanceRoot('prod', instance.id)}/config.yaml`;
    const before = sha(0x6301);
    const after = sha(0x6302);
    world.repo.commit(before, { [file]: instanceConfig(instance.id, 'prod', 'customer', '5.4.2') });
    world.repo.commit(after, { [file]: instanceConfig(instance.id, 'prod', 'customer', '5.5.0') }, { parents: [before] });
    const { pushes } = await world.post(pushPayload({ before, after, commits: [{ modified: [file] }] }));
    const outcome = await world.consumer.handlePush(pushes[0]);
    expect(outcome).toMatchObject({ kind: 'handled', commands: [{ instanceId: instance.id, type: 'instance.upgrade' }] });

    // Before the upgrade reaches the engine, a backup takes the lease: the engine answers busy.
    const backup = world.fx.command('instance.backup', instance.id, {});
    await deliver(world.fx.engine.deps, lifecycleRoute(world.fx.engine), lifecycleDelivery(backup));
    const first = commandsFor(instance.id)[0];
    await world.deliverCommands();
    expect(await world.fx.store.get<LedgerEntry>(paths.ledger(first?.eventId ?? ''))).toMatchObject({ outcome: 'rejected', code: 'busy' });

    await world.consumer.tick();
    expect(await specChange(instance.id)).toMatchObject({ status: 'waiting', attempt: 1 });
    await world.fx.driveToEnd(`op-${backup.eventId}`);
    await world.consumer.tick();
    const upgrades = commandsFor(instance.id);
    expect(upgrades).toHaveLength(2);
    expect(upgrades[1]?.eventId).not.toBe(first?.eventId);
    await world.deliverCommands();
    await world.consumer.tick();
    expect(await specChange(instance.id)).toMatchObject({ status: 'applied', operationId: `op-${upgrades[1]?.eventId}` });
  });
});

describe('a GitHub redelivery', () => {
  it('of a delivery whose push never completed hands the push on again; of one handled, it is a replay', async () => {
    const instance = await world.fx.seedInstance({ environment: 'prod', tier: 'customer', version: '5.4.2' });
    const file = `${instanceRoot('prod', instance.id)}/config.yaml`;
    const before = sha(0x6401);
    const after = sha(0x6402);
    world.repo.commit(before, { [file]: instanceConfig(instance.id, 'prod', 'customer', '5.4.2') });
    const payload = pushPayload({ before, after, commits: [{ modified: [file] }] });
    const delivery = randomUUID();

    // The repository does not have the merge commit yet: every attempt fails, retryably, until
    // the subscription dead-letters the message. Nothing recorded the push as handled.
    const first = await world.post(payload, { delivery });
    expect(first.answer.status).toBe(202);
    const failure = await controlPlaneFailure(world.consumer.handlePush(first.pushes[0]));
    expect(failure.retryable).toBe(true);
    expect(await world.fx.store.get(`webhookDeliveries/${delivery}`)).toMatchObject({ handledAt: null });

    // Someone presses "Redeliver" in GitHub (the same delivery id): the push is handed on again.
    world.repo.commit(after, { [file]: instanceConfig(instance.id, 'prod', 'customer', '5.5.0') }, { parents: [before] });
    const again = await world.post(payload, { delivery });
    expect(again.answer).toMatchObject({ status: 202, body: { redelivered: true, eventId: first.pushes[0]?.eventId } });
    expect(again.pushes).toHaveLength(1);
    expect(await world.consumer.handlePush(again.pushes[0])).toMatchObject({ kind: 'handled', commands: [{ instanceId: instance.id, type: 'instance.upgrade' }] });
    expect(await world.fx.store.get(`webhookDeliveries/${delivery}`)).toMatchObject({ handledAt: expect.any(String) as unknown, redeliveries: 1 });

    // Handled now: another redelivery is a replay and hands nothing on.
    const replay = await world.post(payload, { delivery });
    expect(replay.answer).toMatchObject({ status: 200, body: { replay: true } });
    expect(replay.pushes).toEqual([]);
  });

  it('of a delivery whose push was handled under another delivery id is a replay, and marks it handled', async () => {
    const instance = await world.fx.seedInstance({ environment: 'prod', tier: 'customer' });
    const payload = pushPayload({ before: sha(0x6501), after: sha(0x6502), commits: [{ modified: [`${instanceRoot('prod', instance.id)}/terraform/stacks/monitoring/a.tf`] }] });
    const [one, two] = [randomUUID(), randomUUID()];
    const first = await world.post(payload, { delivery: one });
    await world.post(payload, { delivery: two });
    // Only the first delivery's message was consumed (the second's was lost on the way).
    await world.consumer.handlePush(first.pushes[0]);
    expect(await world.fx.store.get(`webhookDeliveries/${two}`)).toMatchObject({ handledAt: null });
    const redelivered = await world.post(payload, { delivery: two });
    expect(redelivered.answer).toMatchObject({ status: 200, body: { replay: true } });
    expect(redelivered.pushes).toEqual([]);
    expect(await world.fx.store.get(`webhookDeliveries/${two}`)).toMatchObject({ handledAt: expect.any(String) as unknown });
  });
});

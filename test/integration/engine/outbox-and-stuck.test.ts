import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PubSub, type Message, type Subscription } from '@google-cloud/pubsub';
import type { AuditRecord } from '../../../shared/engine/index.js';
import { createPubSubBus } from '../../../shared/gcp/pubsub-bus.js';
import { freePort } from '../../../cli/dev/emulators.js';
import { TOPICS } from '../../../shared/topology.js';
import { createEngineFixture, lifecycleDelivery, type EngineFixture } from '../../support/engine-fixture.js';
import { deliver } from '../../../shared/edge.js';
import { lifecycleRoute } from '../../../shared/routes.js';

let f: EngineFixture;
let facts: Subscription;
const received: Array<{ type: string; instanceId?: string; eventId: string; payload: Record<string, unknown> }> = [];

beforeAll(async () => {
  f = await createEngineFixture(import.meta.url);
  [facts] = await f.pubsub.topic(TOPICS.events).createSubscription(`facts-${Date.now()}`);
  facts.on('message', (message: Message) => {
    received.push(JSON.parse(message.data.toString()) as (typeof received)[number]);
    message.ack();
  });
});
afterAll(async () => {
  await facts.close();
  await f.close();
});

async function eventually<T>(read: () => T | Promise<T>, done: (value: T) => boolean, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > until) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('outbox', () => {
  it('with Pub/Sub unreachable between commit and publish, no event is lost once it is back', async () => {
    const inst = await f.seedInstance();
    // A bus on a port where nothing listens: every publish fails after its deadline.
    const deadBus = createPubSubBus({ pubsub: new PubSub({ projectId: f.projectId, apiEndpoint: `127.0.0.1:${await freePort()}` }), deadlineMs: 300 });
    const cutOff = f.engineWith({ bus: deadBus });
    const envelope = f.command('instance.backup', inst.id, {});
    expect((await deliver(cutOff.deps, lifecycleRoute(cutOff), lifecycleDelivery(envelope))).kind).toBe('accepted');
    const ended = await f.driveToEnd(`op-${envelope.eventId}`, { engine: cutOff });
    expect(ended.status).toBe('succeeded');
    const left = await f.store.query({ collection: 'outbox', where: [{ field: 'envelope.instanceId', op: '==', value: inst.id }] });
    expect(left.map((d) => (d.data as { envelope: { type: string } }).envelope.type).sort()).toEqual(['operation.accepted', 'operation.succeeded']);
    expect(received.filter((e) => e.instanceId === inst.id)).toHaveLength(0);

    // Pub/Sub is back: the reconciler republishes what the outbox holds.
    const summary = await f.engine.reconcile({ outboxGraceMs: 0 });
    expect(summary.outbox.published).toBeGreaterThanOrEqual(2);
    const mine = await eventually(() => received.filter((e) => e.instanceId === inst.id), (list) => list.length >= 2);
    expect(mine.map((e) => e.type).sort()).toEqual(['operation.accepted', 'operation.succeeded']);
    expect(mine.find((e) => e.type === 'operation.succeeded')?.payload).toMatchObject({ operationId: `op-${envelope.eventId}`, operationType: 'backup' });
    expect(await f.store.query({ collection: 'outbox', where: [{ field: 'envelope.instanceId', op: '==', value: inst.id }] })).toHaveLength(0);
    await deadBus.close().catch(() => undefined);
  });
});

describe('stuck operations', () => {
  it('past its deadline an operation is reported stuck, keeps its lease while its run goes on, and is released by abandoning it', async () => {
    const inst = await f.seedInstance();
    f.fleet.executor.scriptHang({ instanceId: inst.id, action: 'upgrade' });
    const envelope = f.command('instance.upgrade', inst.id, { targetVersion: '5.5.0' });
    const operationId = `op-${envelope.eventId}`;
    await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    await f.driveToEnd(operationId, { rounds: 10 });
    expect((await f.operation(operationId))?.steps.find((s) => s.name === 'upgrade-application')?.status).toBe('running');

    f.clock.advance(5 * 3_600_000);
    await f.engine.reconcile({ outboxGraceMs: 0 });
    const stuck = await f.operation(operationId);
    expect(stuck).toMatchObject({ status: 'stuck' });
    expect((await f.instance(inst.id))?.lease?.operationId).toBe(operationId);
    const alerts = await eventually(
      () => received.filter((e) => e.instanceId === inst.id && (e.type === 'alert' || e.type === 'operation.stuck')),
      (list) => list.length >= 2,
    );
    expect(alerts.map((e) => e.type).sort()).toEqual(['alert', 'operation.stuck']);
    expect(alerts.find((e) => e.type === 'operation.stuck')?.payload).toMatchObject({ stillRunning: ['upgrade-application'] });

    // The executor says the run is still going: the lease stays, however often we look.
    for (let i = 0; i < 3; i += 1) {
      f.clock.advance(60_000);
      await f.engine.reconcile({ outboxGraceMs: 0 });
    }
    expect(await f.operation(operationId)).toMatchObject({ status: 'stuck' });
    expect((await f.instance(inst.id))?.lease?.operationId).toBe(operationId);
    await expect(deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(f.command('instance.backup', inst.id, {})))).resolves.toMatchObject({ kind: 'rejected', code: 'busy' });

    const abandoned = await f.engine.abandon(operationId, 'bob@example.com', 'runner host lost; upgrade verified by hand');
    expect(abandoned).toMatchObject({ status: 'abandoned', abandoned: { by: 'bob@example.com', why: 'runner host lost; upgrade verified by hand' } });
    expect(await f.instance(inst.id)).toMatchObject({ lease: null, status: 'failed', version: '5.4.2' });
    const audit = await f.store.query<AuditRecord>({ collection: 'audit', where: [{ field: 'operationId', op: '==', value: operationId }] });
    expect(audit.map((a) => a.data)).toContainEqual(expect.objectContaining({ action: 'operation.abandoned', actor: 'bob@example.com', why: 'runner host lost; upgrade verified by hand' }));
  });

  it('a stuck operation whose work is confirmed finished is released without an operator', async () => {
    const inst = await f.seedInstance();
    f.fleet.executor.scriptHang({ instanceId: inst.id, action: 'upgrade' });
    const envelope = f.command('instance.upgrade', inst.id, { targetVersion: '5.5.0' });
    const operationId = `op-${envelope.eventId}`;
    await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    await f.driveToEnd(operationId, { rounds: 10 });
    f.clock.advance(5 * 3_600_000);
    await f.engine.reconcile({ outboxGraceMs: 0 });
    expect(await f.operation(operationId)).toMatchObject({ status: 'stuck' });
    // The run ends, but its result message is lost: the reconciler asks the executor.
    f.fleet.executor.finishRun(`${operationId}:upgrade-application`, 'failed', 'runner restarted');
    f.clock.advance(60_000);
    await f.engine.reconcile({ outboxGraceMs: 0 });
    expect(await f.operation(operationId)).toMatchObject({ status: 'failed', failure: { step: 'upgrade-application' } });
    expect((await f.instance(inst.id))?.lease).toBeNull();
  });

  it('an operation that is not stuck cannot be abandoned', async () => {
    const inst = await f.seedInstance();
    const envelope = f.command('instance.backup', inst.id, {});
    await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    await expect(f.engine.abandon(`op-${envelope.eventId}`, 'bob@example.com', 'impatient')).rejects.toThrow(/is running; only a stuck operation/);
    expect((await f.instance(inst.id))?.lease?.operationId).toBe(`op-${envelope.eventId}`);
  });
});

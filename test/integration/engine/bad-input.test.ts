import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { type LedgerEntry } from '../../../shared/engine/index.js';
import { createFirestore, createFirestoreStore } from '../../../shared/gcp/firestore-store.js';
import { freePort } from '../../../cli/dev/emulators.js';
import { useServices } from '../../../functions/wiring.js';
import { servicesWith } from '../../support/services.js';
import '../../../functions/index.js';
import { pubSubCloudEvent } from '../../../harness/cloud-event.js';
import { controlPlaneFailure } from '../../support/failures.js';
import { ControlPlaneError } from '../../../shared/errors.js';
import { createEngineFixture, lifecycleDelivery, uniqueId, type EngineFixture } from '../../support/engine-fixture.js';
import { paths } from '../../../shared/store/collections.js';
import { deliver } from '../../../shared/edge.js';
import { lifecycleRoute } from '../../../shared/routes.js';

let f: EngineFixture;
beforeAll(async () => {
  f = await createEngineFixture(import.meta.url);
  useServices(servicesWith({ engine: f.engine }, f.engine.deps));
});
afterAll(async () => {
  await f.close();
});

/** A classic Pub/Sub push body, as the push subscription POSTs it to the function. */
function pushBody(data: string, messageId: string) {
  return {
    subscription: `projects/${f.projectId}/subscriptions/mi-lifecycle--lifecycle`,
    message: { data, messageId, publishTime: new Date().toISOString(), attributes: {} },
  };
}

async function operationCount(): Promise<number> {
  return f.store.count({ collection: 'operations' });
}

describe('bad input on mi-lifecycle', () => {
  it.each([
    ['bad base64', '%%%not-base64%%%', 'data.message.data: is not valid base64'],
    ['not JSON', Buffer.from('{"eventId": ').toString('base64'), 'data.message.data: is not JSON'],
    ['no event id', Buffer.from(JSON.stringify({ type: 'instance.backup' })).toString('base64'), 'eventId: is missing'],
  ])('%s: acknowledged (2xx), recorded under msg-<message id> with the reason, and a redelivery is a duplicate', async (_label, data, reason) => {
    const messageId = String(Date.now()) + String(Math.floor(Math.random() * 1000));
    const before = await operationCount();
    const first = await request(getTestServer('lifecycle')).post('/').set('Content-Type', 'application/json').send(pushBody(data, messageId));
    expect(first.status).toBeLessThan(300);
    const entry = await f.store.get<LedgerEntry>(paths.ledger(`msg-${messageId}`));
    expect(entry).toMatchObject({ outcome: 'invalid', code: 'invalid', messageId });
    expect(entry?.reason).toContain(reason);
    const again = await deliver(f.engine.deps, lifecycleRoute(f.engine), pubSubCloudEvent({ raw: data }, { message: { messageId } }));
    expect(again).toMatchObject({ kind: 'invalid', duplicate: true });
    expect(await operationCount()).toBe(before);
  });

  it('a schema violation is recorded under its event id, naming the field, and changes nothing', async () => {
    const inst = await f.seedInstance();
    const envelope = { ...f.command('instance.upgrade', inst.id, { targetVersion: '5.5.0' }), payload: { targetVersion: '5.x' } };
    const outcome = await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope as never));
    expect(outcome).toMatchObject({ kind: 'invalid', ledgerKey: envelope.eventId });
    expect(await f.store.get<LedgerEntry>(paths.ledger(envelope.eventId))).toMatchObject({
      outcome: 'invalid',
      field: 'payload.targetVersion',
      reason: 'payload.targetVersion: expected a semantic version such as 5.4.2, got "5.x"',
    });
    expect(await f.instance(inst.id)).toEqual(inst);
    expect(await f.operation(`op-${envelope.eventId}`)).toBeUndefined();
  });

  it('an unknown type is recorded as invalid', async () => {
    const envelope = { ...f.command('instance.backup', 'some-inst', {}), type: 'instance.reboot' };
    const outcome = await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope as never));
    expect(outcome).toMatchObject({ kind: 'invalid' });
    expect((await f.store.get<LedgerEntry>(paths.ledger(envelope.eventId)))?.reason).toMatch(/^type: unknown event type "instance.reboot"/);
  });

  it('a command for an unknown instance is rejected unknown-instance, acknowledged, nothing half-written', async () => {
    const id = uniqueId('ghost');
    const envelope = f.command('instance.upgrade', id, { targetVersion: '9.9.9' });
    const response = await request(getTestServer('lifecycle'))
      .post('/')
      .set('Content-Type', 'application/json')
      .send(pushBody(Buffer.from(JSON.stringify(envelope)).toString('base64'), '77'));
    expect(response.status).toBeLessThan(300);
    expect(await f.store.get<LedgerEntry>(paths.ledger(envelope.eventId))).toMatchObject({ outcome: 'rejected', code: 'unknown-instance' });
    expect(await f.instance(id)).toBeUndefined();
    expect(await f.operation(`op-${envelope.eventId}`)).toBeUndefined();
  });
});

describe('input no ledger entry could hold', () => {
  /** The push as the subscription sends it, answered by the function. */
  async function push(envelope: unknown, messageId: string) {
    const data = Buffer.from(JSON.stringify(envelope)).toString('base64');
    return request(getTestServer('lifecycle')).post('/').set('Content-Type', 'application/json').send(pushBody(data, messageId));
  }

  it('an event type of 2 MB is recorded under its event id with a short reason, acknowledged, and a redelivery is a duplicate', async () => {
    const envelope = { ...f.command('instance.backup', 'some-inst', {}), type: 'x'.repeat(2 * 1024 * 1024) };
    const response = await push(envelope, '5001');
    expect(response.status).toBeLessThan(300);
    const entry = await f.store.get<LedgerEntry>(paths.ledger(envelope.eventId));
    expect(entry).toMatchObject({ outcome: 'invalid', field: 'type' });
    // The ledger and audit quote nothing of the input beyond a short prefix.
    expect(entry?.reason?.length).toBeLessThan(300);
    const audit = await f.store.query({ collection: 'audit', where: [{ field: 'ledgerKey', op: '==', value: envelope.eventId }] });
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit[0]?.data).length).toBeLessThan(2_000);
    expect((await push(envelope, '5002')).status).toBeLessThan(300);
    expect(await f.store.count({ collection: 'audit', where: [{ field: 'ledgerKey', op: '==', value: envelope.eventId }] })).toBe(1);
  });

  it('a lone UTF-16 surrogate in the reason is refused by the schema, naming the field, recorded and acknowledged', async () => {
    const inst = await f.seedInstance();
    const envelope = { ...f.command('instance.backup', inst.id, {}), reason: 'half a pair: \ud83d' };
    const response = await push(envelope, '5003');
    expect(response.status).toBeLessThan(300);
    expect(await f.store.get<LedgerEntry>(paths.ledger(envelope.eventId))).toMatchObject({
      outcome: 'invalid',
      field: 'reason',
      reason: 'reason: is not well-formed Unicode (a lone surrogate at position 13)',
    });
    expect(await f.instance(inst.id)).toEqual(inst);
  });

  it('an event id in upper case is the same event as in lower case: one operation, one ledger entry', async () => {
    const inst = await f.seedInstance();
    const envelope = f.command('instance.backup', inst.id, {});
    const upper = { ...envelope, eventId: envelope.eventId.toUpperCase() };
    const first = await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    const second = await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(upper));
    expect([first.kind, second.kind]).toEqual(['accepted', 'duplicate']);
    expect(await f.store.count({ collection: 'operations', where: [{ field: 'instanceId', op: '==', value: inst.id }] })).toBe(1);
    expect(await f.store.get(paths.ledger(upper.eventId))).toBeUndefined();
  });

  it('a message id that is no valid document id is recorded under a hashed key', async () => {
    const response = await request(getTestServer('lifecycle'))
      .post('/')
      .set('Content-Type', 'application/json')
      .send(pushBody('%%%', 'a/b/../c'));
    expect(response.status).toBeLessThan(300);
    const entries = await f.store.query<LedgerEntry>({ collection: 'processedEvents', where: [{ field: 'messageId', op: '==', value: 'a/b/../c' }] });
    expect(entries.map((e) => e.id)).toEqual([expect.stringMatching(/^msg-h-[0-9a-f]{40}$/)]);
  });

  it('a message the store refuses for good is recorded under a minimal entry that echoes nothing, and acknowledged', async () => {
    const inst = await f.seedInstance();
    // The store refuses the accepting transaction as Firestore refuses a document it cannot hold.
    let refusals = 0;
    const refusing = {
      ...f.store,
      transaction: <T>(work: Parameters<typeof f.store.transaction<T>>[0]) => {
        if (refusals === 0) {
          refusals += 1;
          return Promise.reject(new ControlPlaneError('internal', 'firestore transaction failed: 3 INVALID_ARGUMENT: Document exceeds the maximum size', { retryable: false }));
        }
        return f.store.transaction<T>(work);
      },
    };
    const engine = f.engineWith({ store: refusing });
    const envelope = f.command('instance.backup', inst.id, {});
    await expect(deliver(engine.deps, lifecycleRoute(engine), lifecycleDelivery(envelope))).resolves.toMatchObject({ kind: 'unprocessable', ledgerKey: envelope.eventId });
    const entry = await f.store.get<LedgerEntry>(paths.ledger(envelope.eventId));
    expect(entry).toMatchObject({ outcome: 'invalid', code: 'unprocessable', eventType: null, source: 'lifecycle' });
    expect(entry?.reason).not.toContain('integration test');
    expect(await f.instance(inst.id)).toEqual(inst);
    // Delivered again, it is the same message: found in the ledger.
    await expect(deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope))).resolves.toMatchObject({ kind: 'duplicate' });
  });
});

describe('transient faults', () => {
  it('a dead Firestore makes the handler fail retryably, so Pub/Sub redelivers', async () => {
    const saved = process.env.FIRESTORE_EMULATOR_HOST;
    const port = await freePort();
    // The emulator variable outranks explicit settings: point it at the dead port while building.
    process.env.FIRESTORE_EMULATOR_HOST = `127.0.0.1:${port}`;
    const deadFirestore = createFirestore(f.projectId);
    process.env.FIRESTORE_EMULATOR_HOST = saved;
    const deadStore = createFirestoreStore({ firestore: deadFirestore, deadlineMs: 500, transactionDeadlineMs: 1000 });
    const engine = f.engineWith({ store: deadStore });
    const inst = await f.seedInstance();
    const delivery = lifecycleDelivery(f.command('instance.backup', inst.id, {}));
    const error = await controlPlaneFailure(deliver(engine.deps, lifecycleRoute(engine), delivery));
    expect(error.retryable).toBe(true);
    expect(await f.instance(inst.id)).toEqual(inst);

    // Through the function: a 5xx answer, which is what makes a push subscription retry.
    useServices(servicesWith({ engine }, engine.deps));
    try {
      const response = await request(getTestServer('lifecycle')).post('/').set('Content-Type', 'application/json').send(pushBody(delivery.data.message.data, '99'));
      expect(response.status).toBeGreaterThanOrEqual(500);
    } finally {
      useServices(servicesWith({ engine: f.engine }, f.engine.deps));
    }
  });
});

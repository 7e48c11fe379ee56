/**
 * What a function logs, as Cloud Logging will read it: a message pushed to the lifecycle
 * function through the functions framework, as Eventarc pushes it (a binary-mode CloudEvent with
 * its `traceparent`), logs lines that carry that trace and the instance, operation and event
 * the message is about, and two messages served at once never trade their traces or labels.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { useServices } from '../../../functions/wiring.js';
import '../../../functions/index.js';
import { ControlPlaneError } from '../../../shared/errors.js';
import { ALERT_KIND_LOG_FIELD, jsonLogger, withLogContext, type Logger } from '../../../shared/log.js';
import { makeEnvelope } from '../../../shared/events/index.js';
import { publishOutbox } from '../../../shared/store/outbox.js';
import { TOPICS } from '../../../shared/topology.js';
import { servicesWith } from '../../support/services.js';
import { createEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { randomBytes } from 'node:crypto';

let f: EngineFixture;
const lines: Record<string, unknown>[] = [];
let log: Logger;

beforeAll(async () => {
  f = await createEngineFixture(import.meta.url);
  // Cloud SQL answers 503 to everything: the backup's first step fails retryably, and says so in a warning.
  const sql = f.fleet.ports().cloudSql;
  const unavailable = new Proxy(sql, {
    get: (target, name): unknown => {
      const value: unknown = Reflect.get(target, name);
      return typeof value === 'function' ? () => Promise.reject(new ControlPlaneError('unavailable', 'Cloud SQL Admin answered HTTP 503', { retryable: true })) : value;
    },
  });
  log = jsonLogger((line) => lines.push(JSON.parse(line) as Record<string, unknown>), { project: f.projectId, service: 'lifecycle', version: 'lifecycle-00042' });
  const engine = f.engineWith({ cloudSql: unavailable, log });
  useServices(servicesWith({ engine }, engine.deps));
});
afterAll(async () => {
  await f.close();
});

/** Pushes one envelope as Eventarc does: the Pub/Sub message as the data of a binary-mode CloudEvent. */
async function push(envelope: object, traceparent: string): Promise<number> {
  const messageId = String(Date.now()) + randomBytes(3).toString('hex');
  const response = await request(getTestServer('lifecycle'))
    .post('/')
    .set({
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
      'ce-source': `//pubsub.googleapis.com/projects/${f.projectId}/topics/mi-lifecycle`,
      'ce-id': messageId,
      'ce-traceparent': traceparent,
    })
    .send({ subscription: `projects/${f.projectId}/subscriptions/mi-lifecycle--lifecycle`, message: { data: Buffer.from(JSON.stringify(envelope)).toString('base64'), messageId, publishTime: new Date().toISOString(), attributes: {} } });
  return response.status;
}

describe('log lines of a function', () => {
  it('carry the trace of the push and the instance, operation and event, and two at once keep their own', async () => {
    const [one, two] = await Promise.all([f.seedInstance(), f.seedInstance()]);
    const first = f.command('instance.backup', String(one?.id), {});
    const second = f.command('instance.backup', String(two?.id), {});
    const traces = [randomBytes(16).toString('hex'), randomBytes(16).toString('hex')];
    const statuses = await Promise.all([push(first, `00-${traces[0]}-${'a1'.repeat(8)}-01`), push(second, `00-${traces[1]}-${'b2'.repeat(8)}-00`)]);
    expect(statuses.every((s) => s < 300)).toBe(true);

    for (const [index, envelope] of [first, second].entries()) {
      const about = lines.filter((l) => (l['logging.googleapis.com/labels'] as Record<string, string> | undefined)?.event === envelope.eventId);
      // The first step's failure, a warning: at least one line, each with the whole context.
      expect(about.some((l) => l.severity === 'WARNING' && String(l.message).includes('step start failed'))).toBe(true);
      for (const line of about) {
        expect(line['logging.googleapis.com/trace']).toBe(`projects/${f.projectId}/traces/${traces[index]}`);
        expect(line['logging.googleapis.com/spanId']).toBe(index === 0 ? 'a1'.repeat(8) : 'b2'.repeat(8));
        expect(line['logging.googleapis.com/trace_sampled']).toBe(index === 0);
        expect(line['logging.googleapis.com/labels']).toEqual({ function: 'lifecycle', event: envelope.eventId, instance: envelope.instanceId, operation: `op-${envelope.eventId}` });
      }
    }
  });

  it('a push without a trace logs no trace, and still its labels', async () => {
    const inst = await f.seedInstance();
    const envelope = f.command('instance.backup', inst.id, {});
    expect(await push(envelope, 'not-a-traceparent')).toBeLessThan(300);
    const about = lines.filter((l) => (l['logging.googleapis.com/labels'] as Record<string, string> | undefined)?.event === envelope.eventId);
    expect(about.length).toBeGreaterThan(0);
    for (const line of about) {
      expect(line).not.toHaveProperty('logging.googleapis.com/trace');
      expect(line['logging.googleapis.com/labels']).toMatchObject({ instance: inst.id });
    }
  });

  it('an alert published from the outbox is one WARNING line with its kind, the field the alert policies match', async () => {
    const inst = await f.seedInstance();
    const alert = makeEnvelope({ type: 'alert', instanceId: inst.id, payload: { kind: 'operation-stuck', severity: 'critical', summary: `op-x on ${inst.id} is stuck`, details: {} }, actor: 'system:reconcile', reason: 'stuck' });
    const before = lines.length;
    await withLogContext({ labels: { function: 'reconcile' } }, () => publishOutbox({ store: f.store, bus: f.bus, log }, [{ topic: TOPICS.events, envelope: alert, orderingKey: null, createdAt: new Date().toISOString() }]));
    const published = lines.slice(before).filter((l) => l[ALERT_KIND_LOG_FIELD] !== undefined);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ severity: 'WARNING', [ALERT_KIND_LOG_FIELD]: 'operation-stuck', alertSeverity: 'critical', alertEventId: alert.eventId, instanceId: inst.id });
    expect(String(published[0]?.message)).toContain(`is stuck`);
  });
});

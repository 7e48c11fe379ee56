import { describe, expect, it } from 'vitest';
import {
  decodePubSubEvent,
  DecodeError,
  EVENT_TYPES,
  LIFECYCLE_COMMANDS,
  makeEnvelope,
  readPubSubMessage,
  type AnyEnvelope,
} from '../../../shared/events/index.js';
import { pubSubCloudEvent } from '../../../harness/cloud-event.js';
import { commandEnvelope, devSpec, EVENT_ID, INSTANCE_ID, prodSpec, REMOVE, withField } from './fixtures.js';

const MESSAGE_ID = '9876543210123';
const LIFECYCLE_LIST = LIFECYCLE_COMMANDS.join(', ');

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** What JSON.parse says about `text` on this Node.js version, as the decoder quotes it. */
function jsonErrorOf(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${text} is valid JSON`);
}

interface MalformedCase {
  label: string;
  data: unknown;
  stage: DecodeError['stage'];
  field: string | undefined;
  message: string;
  ledgerKey: string;
}

const BY_MESSAGE = `msg-${MESSAGE_ID}`;
const NOT_AN_ENVELOPE = 'expected an event envelope (a JSON object)';
const TRUNCATED_JSON = '{"eventId": "0b6d1a8e-3f43-4f4e-9d55-2f1c0d7a9b11", "type":';

const MALFORMED: MalformedCase[] = [
  {
    label: 'data that is not base64',
    data: { raw: 'not base64!' },
    stage: 'base64',
    field: 'data.message.data',
    message: 'data.message.data: is not valid base64',
    ledgerKey: BY_MESSAGE,
  },
  {
    label: 'base64 with its padding cut off',
    data: { raw: base64('{"a":1}').replace(/=+$/, '') },
    stage: 'base64',
    field: 'data.message.data',
    message: 'data.message.data: is not valid base64',
    ledgerKey: BY_MESSAGE,
  },
  {
    label: 'bytes that are not UTF-8',
    data: { raw: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]).toString('base64') },
    stage: 'utf8',
    field: 'data.message.data',
    message: 'data.message.data: is not UTF-8 text',
    ledgerKey: BY_MESSAGE,
  },
  {
    label: 'text that is not JSON',
    data: { raw: base64(TRUNCATED_JSON) },
    stage: 'json',
    field: 'data.message.data',
    message: `data.message.data: is not JSON (${jsonErrorOf(TRUNCATED_JSON)})`,
    ledgerKey: BY_MESSAGE,
  },
  {
    label: 'plain text',
    data: { raw: base64('upgrade acme to 5.5.0') },
    stage: 'json',
    field: 'data.message.data',
    message: `data.message.data: is not JSON (${jsonErrorOf('upgrade acme to 5.5.0')})`,
    ledgerKey: BY_MESSAGE,
  },
  { label: 'a JSON array', data: [commandEnvelope()], stage: 'envelope', field: undefined, message: NOT_AN_ENVELOPE, ledgerKey: BY_MESSAGE },
  { label: 'a JSON number', data: 42, stage: 'envelope', field: undefined, message: NOT_AN_ENVELOPE, ledgerKey: BY_MESSAGE },
  { label: 'JSON null', data: null, stage: 'envelope', field: undefined, message: NOT_AN_ENVELOPE, ledgerKey: BY_MESSAGE },
  { label: 'a JSON string', data: 'instance.upgrade', stage: 'envelope', field: undefined, message: NOT_AN_ENVELOPE, ledgerKey: BY_MESSAGE },
  {
    label: 'an envelope without eventId',
    data: withField(commandEnvelope(), 'eventId', REMOVE),
    stage: 'envelope',
    field: 'eventId',
    message: 'eventId: is missing (expected a UUID chosen by the publisher)',
    ledgerKey: BY_MESSAGE,
  },
  {
    label: 'an eventId that is not a UUID',
    data: withField(commandEnvelope(), 'eventId', 'upgrade-acme-1'),
    stage: 'envelope',
    field: 'eventId',
    message: 'eventId: expected a UUID chosen by the publisher',
    ledgerKey: BY_MESSAGE,
  },
  {
    label: 'an eventId that is a number',
    data: withField(commandEnvelope(), 'eventId', 12345),
    stage: 'envelope',
    field: 'eventId',
    message: 'eventId: expected a UUID chosen by the publisher',
    ledgerKey: BY_MESSAGE,
  },
  {
    label: 'an unknown type',
    data: withField(commandEnvelope(), 'type', 'instance.resize'),
    stage: 'type',
    field: 'type',
    message: `type: unknown event type "instance.resize"; expected one of ${LIFECYCLE_LIST}`,
    ledgerKey: EVENT_ID,
  },
  {
    label: 'a type this topic does not carry',
    data: { ...commandEnvelope(), type: 'alert', payload: { severity: 'info', summary: 's', details: {} } },
    stage: 'type',
    field: 'type',
    message: `type: event type "alert" is not accepted here; expected one of ${LIFECYCLE_LIST}`,
    ledgerKey: EVENT_ID,
  },
  {
    label: 'a string where the schema version number belongs',
    data: withField(commandEnvelope(), 'schemaVersion', '1'),
    stage: 'envelope',
    field: 'schemaVersion',
    message: 'schemaVersion: expected schemaVersion 1',
    ledgerKey: EVENT_ID,
  },
  {
    label: 'a number where the actor string belongs',
    data: withField(commandEnvelope(), 'actor', 42),
    stage: 'envelope',
    field: 'actor',
    message: 'actor: expected who asked (a string)',
    ledgerKey: EVENT_ID,
  },
  {
    label: 'a number where the target version string belongs',
    data: commandEnvelope('instance.upgrade', { targetVersion: 5 }),
    stage: 'payload',
    field: 'payload.targetVersion',
    message: 'payload.targetVersion: expected a semantic version (a string)',
    ledgerKey: EVENT_ID,
  },
  {
    label: 'a string where the maintenance hours number belongs',
    data: commandEnvelope('instance.create', { spec: withField(prodSpec(), 'maintenanceWindow.hours', '4') }),
    stage: 'payload',
    field: 'payload.spec.maintenanceWindow.hours',
    message: 'payload.spec.maintenanceWindow.hours: expected a number of hours',
    ledgerKey: EVENT_ID,
  },
  {
    label: 'an array where the spec object belongs',
    data: commandEnvelope('instance.create', { spec: [prodSpec()] }),
    stage: 'payload',
    field: 'payload.spec',
    message: 'payload.spec: expected an instance spec object',
    ledgerKey: EVENT_ID,
  },
  {
    label: 'an extra field in the envelope',
    data: { ...commandEnvelope(), traceId: 'abc' },
    stage: 'envelope',
    field: 'traceId',
    message: 'traceId: unexpected field',
    ledgerKey: EVENT_ID,
  },
  {
    label: 'an extra field in the payload',
    data: commandEnvelope('instance.upgrade', { targetVersion: '5.5.0', skipChecks: true }),
    stage: 'payload',
    field: 'payload.skipChecks',
    message: 'payload.skipChecks: unexpected field',
    ledgerKey: EVENT_ID,
  },
  {
    label: 'an extra field nested in the spec',
    data: commandEnvelope('instance.create', { spec: { ...devSpec(), size: 'large' } }),
    stage: 'payload',
    field: 'payload.spec.size',
    message: 'payload.spec.size: unexpected field',
    ledgerKey: EVENT_ID,
  },
  {
    label: 'an extra field nested in the maintenance window',
    data: commandEnvelope('instance.create', { spec: withField(prodSpec(), 'maintenanceWindow.end', '06:00') }),
    stage: 'payload',
    field: 'payload.spec.maintenanceWindow.end',
    message: 'payload.spec.maintenanceWindow.end: unexpected field',
    ledgerKey: EVENT_ID,
  },
];

describe('decodePubSubEvent: malformed messages', () => {
  it.each(MALFORMED)('rejects $label at the $stage stage, recorded under $ledgerKey', (c) => {
    const result = decodePubSubEvent(pubSubCloudEvent(c.data, { message: { messageId: MESSAGE_ID } }), LIFECYCLE_COMMANDS);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(DecodeError);
    expect(result.error.stage).toBe(c.stage);
    expect(result.error.field).toBe(c.field);
    expect(result.error.message).toBe(c.message);
    expect(result.ledgerKey).toBe(c.ledgerKey);
    expect(result.message.messageId).toBe(MESSAGE_ID);
  });

  it.each([
    { label: 'no data field', data: REMOVE },
    { label: 'empty data', data: '' },
  ])('rejects a message with $label, recorded under its message id', ({ data }) => {
    const event = pubSubCloudEvent(commandEnvelope(), {
      message: { messageId: MESSAGE_ID, data: data === REMOVE ? undefined : (data as string) },
    });
    const result = decodePubSubEvent(event, LIFECYCLE_COMMANDS);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.stage).toBe('base64');
    expect(result.error.field).toBe('data.message.data');
    expect(result.error.message).toBe('data.message.data: is missing (the message has no data)');
    expect(result.ledgerKey).toBe(BY_MESSAGE);
  });

  it('rejects a message without a messageId, recorded under the CloudEvent id', () => {
    const event = pubSubCloudEvent(commandEnvelope(), { id: '555', message: { messageId: undefined } });
    expect(event.data.message).not.toHaveProperty('messageId');
    const result = decodePubSubEvent(event, LIFECYCLE_COMMANDS);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.stage).toBe('cloudevent');
    expect(result.error.field).toBe('data.message.messageId');
    expect(result.error.message).toBe('data.message.messageId: is missing (expected the Pub/Sub message id)');
    expect(result.ledgerKey).toBe('msg-555');
    expect(result.message.messageId).toBe('555');
  });

  it('rejects a CloudEvent that carries no Pub/Sub message, recorded under its id', () => {
    const result = decodePubSubEvent({ id: '777', source: 'test', type: 'google.cloud.pubsub.topic.v1.messagePublished', data: {} }, LIFECYCLE_COMMANDS);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.stage).toBe('cloudevent');
    expect(result.error.field).toBe('data.message');
    expect(result.error.message).toBe('data.message: is missing (expected a Pub/Sub message)');
    expect(result.ledgerKey).toBe('msg-777');
  });

  it('throws when the event has no id at all, since there is nothing to record it under', () => {
    const event = pubSubCloudEvent(commandEnvelope(), { id: '', message: { messageId: undefined } });
    expect(() => decodePubSubEvent(event, LIFECYCLE_COMMANDS)).toThrow(DecodeError);
    expect(() => decodePubSubEvent(event, LIFECYCLE_COMMANDS)).toThrow('data.message.messageId: is missing (expected the Pub/Sub message id)');
    expect(() => decodePubSubEvent(null, LIFECYCLE_COMMANDS)).toThrow('expected a CloudEvent');
  });

  it('records a failure under the event id as soon as a valid one could be read', () => {
    const result = decodePubSubEvent(
      pubSubCloudEvent(withField(commandEnvelope(), 'reason', ''), { message: { messageId: MESSAGE_ID } }),
      LIFECYCLE_COMMANDS,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.eventId).toBe(EVENT_ID);
    expect(result.ledgerKey).toBe(EVENT_ID);
  });
});

describe('decodePubSubEvent: delivery metadata', () => {
  it('reports the message id, publish time, attributes and subscription beside the envelope', () => {
    const event = pubSubCloudEvent(commandEnvelope(), {
      subscription: 'projects/p/subscriptions/mi-lifecycle-sub',
      message: { messageId: MESSAGE_ID, publishTime: '2026-11-26T10:00:01.5Z', attributes: { origin: 'cli' } },
    });
    const result = decodePubSubEvent(event, LIFECYCLE_COMMANDS);
    expect(result.ok).toBe(true);
    expect(result.message).toEqual({
      messageId: MESSAGE_ID,
      publishTime: '2026-11-26T10:00:01.5Z',
      attributes: { origin: 'cli' },
      subscription: 'projects/p/subscriptions/mi-lifecycle-sub',
    });
  });

  it('reads the snake_case message_id and publish_time that some deliveries carry', () => {
    const event = pubSubCloudEvent(commandEnvelope(), { message: { messageId: undefined, publishTime: undefined } });
    const snakeCase = { ...event.data.message, message_id: '31', publish_time: '2026-11-26T10:00:02Z' };
    const { message } = readPubSubMessage({ ...event, data: { ...event.data, message: snakeCase } });
    expect(message.messageId).toBe('31');
    expect(message.publishTime).toBe('2026-11-26T10:00:02Z');
  });

  it('rejects attributes that are not strings, naming the attribute', () => {
    const event = pubSubCloudEvent(commandEnvelope(), { id: '88', message: { attributes: { retries: 3 as unknown as string } } });
    const result = decodePubSubEvent(event, LIFECYCLE_COMMANDS);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.stage).toBe('cloudevent');
    expect(result.error.message).toBe('data.message.attributes.retries: expected a string (attribute values are strings)');
  });
});

const ACTOR = { actor: 'alice@example.com', reason: 'round trip', instanceId: INSTANCE_ID };

const MADE: AnyEnvelope[] = [
  makeEnvelope({ ...ACTOR, type: 'instance.create', payload: { spec: prodSpec() } }),
  makeEnvelope({ ...ACTOR, type: 'instance.create', payload: { spec: devSpec(), ttlHours: 48 } }),
  makeEnvelope({ ...ACTOR, type: 'instance.upgrade', payload: { targetVersion: '5.5.0' } }),
  makeEnvelope({
    ...ACTOR,
    type: 'instance.restore',
    payload: {
      source: {
        kind: 'backup',
        cloudSqlBackupRunId: '1700000000123',
        gkeBackup: 'projects/p/locations/us-central1/backupPlans/daily/backups/b1',
      },
    },
  }),
  makeEnvelope({ ...ACTOR, type: 'instance.restore', payload: { source: { kind: 'point-in-time', time: '2026-11-26T09:45:00Z' } } }),
  makeEnvelope({ ...ACTOR, type: 'instance.delete', payload: { confirmSlug: 'acme' } }),
  makeEnvelope({ ...ACTOR, type: 'instance.delete', payload: {} }),
  makeEnvelope({ ...ACTOR, type: 'instance.disaster-recovery', payload: { targetRegion: 'us-east4' } }),
  makeEnvelope({ ...ACTOR, type: 'instance.backup', payload: { note: 'ünïcödé ✓ — before migration' } }),
  makeEnvelope({ ...ACTOR, type: 'instance.backup', payload: {}, issuedAt: '2026-11-26T11:00:00+01:00' }),
  makeEnvelope({
    actor: 'control-plane',
    reason: 'operation done',
    type: 'operation.succeeded',
    payload: { operationId: 'op-1', operationType: 'instance.upgrade', result: { version: '5.5.0' } },
  }),
  makeEnvelope({
    actor: 'control-plane',
    reason: 'run a step',
    type: 'executor.run-requested',
    payload: { runKey: 'op-1:provision', action: 'provision', params: { region: 'us-central1', nodes: 3, dryRun: false }, refuseAfter: '2026-11-26T12:00:00Z' },
  }),
];

describe('round trip', () => {
  it.each(MADE.map((envelope) => ({ type: envelope.type, envelope })))(
    '$type comes back unchanged from makeEnvelope, Pub/Sub encoding and decoding',
    ({ envelope }) => {
      const result = decodePubSubEvent(pubSubCloudEvent(envelope), EVENT_TYPES);
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      expect(result.envelope).toStrictEqual(envelope);
    },
  );
});

import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DecodeError, FACT_TYPES, LIFECYCLE_COMMANDS, makeEnvelope, parseEnvelope, quote } from '../../../shared/events/index.js';
import { accepted, commandEnvelope, EVENT_ID, fieldAt, INSTANCE_ID, rejected, REMOVE, withField } from './fixtures.js';

const LIFECYCLE_LIST = LIFECYCLE_COMMANDS.join(', ');

describe('envelope fields', () => {
  it.each([
    { field: 'eventId', label: 'a random UUID', value: randomUUID() },
    { field: 'schemaVersion', label: '1', value: 1 },
    { field: 'instanceId', label: 'the shortest id', value: 'ab' },
    { field: 'instanceId', label: 'a 40-character id', value: `a${'b'.repeat(38)}9` },
    { field: 'actor', label: 'a service identity', value: 'ci:release-bot' },
    { field: 'actor', label: '200 characters', value: 'a'.repeat(200) },
    { field: 'reason', label: 'one character', value: 'x' },
    { field: 'reason', label: '1000 characters', value: 'r'.repeat(1000) },
    { field: 'issuedAt', label: 'a UTC timestamp with milliseconds', value: '2026-11-26T10:00:00.123Z' },
    { field: 'issuedAt', label: 'a timestamp with an offset', value: '2026-11-26T11:00:00+01:00' },
  ])('accepts $field = $label', ({ field, value }) => {
    const envelope = accepted(withField(commandEnvelope(), field, value));
    expect(fieldAt(envelope, field)).toEqual(value);
  });

  it.each([
    { field: 'eventId', label: 'missing', value: REMOVE, message: 'eventId: is missing (expected a UUID chosen by the publisher)' },
    { field: 'eventId', label: 'not a UUID', value: 'evt-42', message: 'eventId: expected a UUID chosen by the publisher' },
    { field: 'eventId', label: 'a number', value: 42, message: 'eventId: expected a UUID chosen by the publisher' },
    { field: 'type', label: 'missing', value: REMOVE, message: 'type: is missing (expected an event type (a string))' },
    { field: 'type', label: 'a number', value: 7, message: 'type: expected an event type (a string)' },
    { field: 'schemaVersion', label: '2', value: 2, message: 'schemaVersion: expected schemaVersion 1' },
    { field: 'schemaVersion', label: 'the string "1"', value: '1', message: 'schemaVersion: expected schemaVersion 1' },
    { field: 'schemaVersion', label: 'missing', value: REMOVE, message: 'schemaVersion: is missing (expected schemaVersion 1)' },
    {
      field: 'instanceId',
      label: 'uppercase with an underscore',
      value: 'SRC_1A2B',
      message: 'instanceId: expected an instance id: 2-40 lowercase letters, digits or hyphens, starting with a letter',
    },
    {
      field: 'instanceId',
      label: 'starting with a digit',
      value: '1a2b3c',
      message: 'instanceId: expected an instance id: 2-40 lowercase letters, digits or hyphens, starting with a letter',
    },
    {
      field: 'instanceId',
      label: 'ending with a hyphen',
      value: 'src-',
      message: 'instanceId: expected an instance id: 2-40 lowercase letters, digits or hyphens, starting with a letter',
    },
    {
      field: 'instanceId',
      label: '41 characters',
      value: `a${'b'.repeat(39)}9`,
      message: 'instanceId: expected an instance id: 2-40 lowercase letters, digits or hyphens, starting with a letter',
    },
    { field: 'instanceId', label: 'a number', value: 42, message: 'instanceId: expected an instance id (a string)' },
    { field: 'actor', label: 'empty', value: '', message: 'actor: expected who asked, not an empty string' },
    { field: 'actor', label: '201 characters', value: 'a'.repeat(201), message: 'actor: expected at most 200 characters' },
    { field: 'actor', label: 'missing', value: REMOVE, message: 'actor: is missing (expected who asked (a string))' },
    { field: 'actor', label: 'an object', value: { email: 'alice@example.com' }, message: 'actor: expected who asked (a string)' },
    { field: 'reason', label: 'empty', value: '', message: 'reason: expected why, not an empty string' },
    { field: 'reason', label: '1001 characters', value: 'r'.repeat(1001), message: 'reason: expected at most 1000 characters' },
    { field: 'reason', label: 'missing', value: REMOVE, message: 'reason: is missing (expected why (a string))' },
    { field: 'reason', label: 'a number', value: 3, message: 'reason: expected why (a string)' },
    {
      field: 'issuedAt',
      label: 'free text',
      value: 'yesterday',
      message: 'issuedAt: expected an ISO 8601 timestamp such as 2026-11-26T10:00:00Z',
    },
    {
      field: 'issuedAt',
      label: 'a date without a time',
      value: '2026-11-26',
      message: 'issuedAt: expected an ISO 8601 timestamp such as 2026-11-26T10:00:00Z',
    },
    {
      field: 'issuedAt',
      label: 'a local time without an offset',
      value: '2026-11-26T10:00:00',
      message: 'issuedAt: expected an ISO 8601 timestamp such as 2026-11-26T10:00:00Z',
    },
    {
      field: 'issuedAt',
      label: 'epoch milliseconds',
      value: 1_795_000_000_000,
      message: 'issuedAt: expected an ISO 8601 timestamp such as 2026-11-26T10:00:00Z',
    },
    {
      field: 'issuedAt',
      label: 'missing',
      value: REMOVE,
      message: 'issuedAt: is missing (expected an ISO 8601 timestamp such as 2026-11-26T10:00:00Z)',
    },
    { field: 'payload', label: 'missing', value: REMOVE, message: 'payload: is missing (expected a payload object)' },
    { field: 'payload', label: 'a string', value: '5.5.0', message: 'payload: expected a payload object' },
    { field: 'payload', label: 'an array', value: ['5.5.0'], message: 'payload: expected a payload object' },
    { field: 'payload', label: 'null', value: null, message: 'payload: expected a payload object' },
  ])('rejects $field $label: "$message"', ({ field, value, message }) => {
    const error = rejected(withField(commandEnvelope(), field, value));
    expect(error).toBeInstanceOf(DecodeError);
    expect(error.stage).toBe('envelope');
    expect(error.field).toBe(field);
    expect(error.message).toBe(message);
  });

  it('rejects a field the envelope does not define', () => {
    const error = rejected({ ...commandEnvelope(), priority: 'high' });
    expect(error.stage).toBe('envelope');
    expect(error.field).toBe('priority');
    expect(error.message).toBe('priority: unexpected field');
  });

  it('rejects a lifecycle command that names no instance', () => {
    const error = rejected(withField(commandEnvelope('instance.backup'), 'instanceId', REMOVE));
    expect(error.stage).toBe('envelope');
    expect(error.field).toBe('instanceId');
    expect(error.message).toBe('instanceId: is missing (every instance.backup names its instance)');
  });

  it('accepts a fact without an instance id when its type needs none', () => {
    const alert = {
      ...withField(commandEnvelope(), 'instanceId', REMOVE),
      type: 'alert',
      payload: { severity: 'warning', summary: 'backup plan lagging', details: {} },
    };
    const envelope = accepted(alert, FACT_TYPES);
    expect(envelope.type).toBe('alert');
    expect(envelope).not.toHaveProperty('instanceId');
  });
});

describe('envelope type', () => {
  it.each(LIFECYCLE_COMMANDS)('accepts %s on the lifecycle topic', (type) => {
    expect(accepted(commandEnvelope(type)).type).toBe(type);
  });

  it('rejects a type no topic defines, listing the types it expected', () => {
    const error = rejected({ ...commandEnvelope(), type: 'instance.explode' });
    expect(error.stage).toBe('type');
    expect(error.field).toBe('type');
    expect(error.message).toBe(`type: unknown event type "instance.explode"; expected one of ${LIFECYCLE_LIST}`);
  });

  it('rejects a known type that this topic does not carry', () => {
    const error = rejected({ ...commandEnvelope(), type: 'operation.accepted', payload: { operationId: 'op-1', operationType: 'upgrade' } });
    expect(error.stage).toBe('type');
    expect(error.field).toBe('type');
    expect(error.message).toBe(`type: event type "operation.accepted" is not accepted here; expected one of ${LIFECYCLE_LIST}`);
  });

  it('rejects a command on a subscriber that allows only some commands', () => {
    const error = rejected(commandEnvelope('instance.delete'), ['instance.backup']);
    expect(error.message).toBe('type: event type "instance.delete" is not accepted here; expected one of instance.backup');
  });
});

describe('makeEnvelope', () => {
  it('fills in a fresh event id, the schema version and the time of issue', () => {
    const envelope = makeEnvelope({
      type: 'instance.upgrade',
      instanceId: INSTANCE_ID,
      actor: 'alice@example.com',
      reason: 'monthly release',
      payload: { targetVersion: '5.5.0' },
    });
    expect(envelope.eventId).not.toBe(EVENT_ID);
    expect(envelope.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(envelope.schemaVersion).toBe(1);
    expect(Number.isNaN(Date.parse(envelope.issuedAt))).toBe(false);
  });

  it('throws a DecodeError naming the field when the envelope would be invalid', () => {
    const make = () =>
      makeEnvelope({
        type: 'instance.upgrade',
        instanceId: INSTANCE_ID,
        actor: 'alice@example.com',
        reason: 'monthly release',
        payload: { targetVersion: '5.x' },
      });
    expect(make).toThrow(DecodeError);
    expect(make).toThrow('payload.targetVersion: expected a semantic version such as 5.4.2, got "5.x"');
  });
});

describe('every string of a message is well-formed and bounded', () => {
  const parse = (value: unknown) => () => parseEnvelope(value, LIFECYCLE_COMMANDS);

  it.each([
    { label: 'a lone high surrogate in the reason', envelope: { ...commandEnvelope(), reason: 'ok \ud800' }, message: 'reason: is not well-formed Unicode (a lone surrogate at position 3)' },
    { label: 'a lone low surrogate deep in the payload', envelope: { ...commandEnvelope(), payload: { targetVersion: '\udc00' } }, message: 'payload.targetVersion: is not well-formed Unicode (a lone surrogate at position 0)' },
    { label: 'a payload string past the global limit', envelope: { ...commandEnvelope(), payload: { note: 'n'.repeat(20_001) } }, message: 'payload.note: is 20001 characters long; at most 20000 are allowed' },
  ])('refuses $label, naming the field', ({ envelope, message }) => {
    expect(parse(envelope)).toThrow(message);
  });

  it('accepts a well-formed pair (an emoji) where a lone half is refused', () => {
    expect(parseEnvelope({ ...commandEnvelope(), reason: 'ship it \ud83d\ude80' }, LIFECYCLE_COMMANDS).reason).toBe('ship it 🚀');
  });

  it('a long unknown type is quoted by its first 40 characters and its length, never whole', () => {
    const error = (() => {
      try {
        parseEnvelope({ ...commandEnvelope(), type: 'y'.repeat(99) }, LIFECYCLE_COMMANDS);
      } catch (caught) {
        return caught as DecodeError;
      }
      throw new Error('expected a DecodeError');
    })();
    expect(error.message).toBe(`type: unknown event type ${JSON.stringify('y'.repeat(40))}… (99 characters); expected one of ${LIFECYCLE_LIST}`);
  });

  it('an event id in upper case is the same id, lower-cased', () => {
    expect(parseEnvelope({ ...commandEnvelope(), eventId: EVENT_ID.toUpperCase() }, LIFECYCLE_COMMANDS).eventId).toBe(EVENT_ID.toLowerCase());
  });

  it('quote renders a short prefix of anything, lone surrogates replaced', () => {
    expect(quote('short')).toBe('"short"');
    expect(quote('z'.repeat(50))).toBe(`"${'z'.repeat(40)}"… (50 characters)`);
    expect(quote('\ud800')).toBe('"\ufffd"');
    expect(quote({ a: 1 })).toBe('"{\\"a\\":1}"');
  });
});

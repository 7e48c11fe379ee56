import { describe, expect, it } from 'vitest';
import type { InstanceSpec } from '../../../shared/events/index.js';
import { accepted, commandEnvelope, devSpec, fieldAt, INSTANCE_ID, prodSpec, rejected, REMOVE, withField } from './fixtures.js';

/** instance.create carrying `spec`, with the envelope's instanceId equal to the spec's id. */
function create(spec: InstanceSpec | Record<string, unknown>): Record<string, unknown> {
  return commandEnvelope('instance.create', { spec });
}

const ID_RULE = 'expected an instance id: 2-40 lowercase letters, digits or hyphens, starting with a letter';
const SLUG_RULE = 'expected a slug: 1-32 lowercase letters, digits or hyphens, not starting or ending with a hyphen';
const DOMAIN_RULE = 'expected a lowercase domain name such as acme.example.com';
const REGION_RULE = 'expected a Google Cloud region such as us-central1';
const DAY_RULE = 'expected a day: mon, tue, wed, thu, fri, sat or sun';
const START_RULE = 'expected a start time "HH:MM" between 00:00 and 23:59';
const TIME_ZONE_RULE = 'expected an IANA time zone such as America/New_York';
const TIMESTAMP_RULE = 'expected an ISO 8601 timestamp such as 2026-11-26T10:00:00Z';

describe('instance.create payload.spec', () => {
  it.each([
    { field: 'slug', label: 'one character', value: 'a', base: prodSpec },
    { field: 'slug', label: '32 characters', value: `a${'b'.repeat(30)}c`, base: prodSpec },
    { field: 'slug', label: 'digits and hyphens', value: 'acme-2', base: prodSpec },
    { field: 'environment', label: 'dev', value: 'dev', base: devSpec },
    { field: 'environment', label: 'prod', value: 'prod', base: prodSpec },
    { field: 'tier', label: 'internal in prod', value: 'internal', base: prodSpec },
    { field: 'tier', label: 'customer in prod', value: 'customer', base: prodSpec },
    { field: 'domain', label: 'a deep domain', value: 'acme-eu.customers.example.co.uk', base: prodSpec },
    { field: 'region', label: 'us-central1', value: 'us-central1', base: prodSpec },
    { field: 'region', label: 'northamerica-northeast2', value: 'northamerica-northeast2', base: prodSpec },
    { field: 'region', label: 'a two-digit region', value: 'europe-west10', base: prodSpec },
    { field: 'version', label: 'a release', value: '5.4.2', base: prodSpec },
    { field: 'version', label: 'a pre-release', value: '6.0.0-rc.1', base: prodSpec },
    { field: 'maintenanceWindow.days', label: 'every day', value: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], base: prodSpec },
    { field: 'maintenanceWindow.days', label: 'one day', value: ['wed'], base: prodSpec },
    { field: 'maintenanceWindow.start', label: 'midnight', value: '00:00', base: prodSpec },
    { field: 'maintenanceWindow.start', label: 'the last minute', value: '23:59', base: prodSpec },
    { field: 'maintenanceWindow.hours', label: '1', value: 1, base: prodSpec },
    { field: 'maintenanceWindow.hours', label: '24', value: 24, base: prodSpec },
    { field: 'maintenanceWindow.timeZone', label: 'UTC', value: 'UTC', base: prodSpec },
    { field: 'maintenanceWindow.timeZone', label: 'Europe/Paris', value: 'Europe/Paris', base: prodSpec },
    {
      field: 'maintenanceWindow',
      label: 'a window on an internal dev instance',
      value: { days: ['fri'], start: '22:00', hours: 2, timeZone: 'UTC' },
      base: devSpec,
    },
    { field: 'expiresAt', label: 'a dev expiry with an offset', value: '2026-12-03T00:00:00+01:00', base: devSpec },
  ])('accepts $field = $label', ({ field, value, base }) => {
    const envelope = accepted(create(withField(base(), field, value)));
    expect(fieldAt(envelope, `payload.spec.${field}`)).toEqual(value);
  });

  it('accepts a dev instance without an expiry, leaving the lifetime to ttlHours', () => {
    const envelope = accepted(create(withField(devSpec(), 'expiresAt', REMOVE)));
    expect(envelope.type === 'instance.create' && envelope.payload.spec.expiresAt).toBeUndefined();
  });

  it('accepts an internal prod instance without a maintenance window', () => {
    const spec = withField(withField(prodSpec(), 'tier', 'internal'), 'maintenanceWindow', REMOVE);
    const envelope = accepted(create(spec));
    expect(envelope.type === 'instance.create' && envelope.payload.spec).toEqual(spec);
  });

  it.each([
    { field: 'id', label: 'uppercase', value: 'SRC-1A2B3C4D', message: ID_RULE },
    { field: 'id', label: 'starting with a digit', value: '1a2b3c4d', message: ID_RULE },
    { field: 'id', label: 'a number', value: 12345, message: 'expected an instance id (a string)' },
    { field: 'id', label: 'missing', value: REMOVE, message: 'is missing (expected an instance id (a string))' },
    { field: 'slug', label: 'starting with a hyphen', value: '-acme', message: SLUG_RULE },
    { field: 'slug', label: 'ending with a hyphen', value: 'acme-', message: SLUG_RULE },
    { field: 'slug', label: 'uppercase', value: 'Acme', message: SLUG_RULE },
    { field: 'slug', label: 'with a dot', value: 'acme.corp', message: SLUG_RULE },
    { field: 'slug', label: '33 characters', value: `a${'b'.repeat(31)}c`, message: SLUG_RULE },
    { field: 'slug', label: 'empty', value: '', message: SLUG_RULE },
    { field: 'slug', label: 'a number', value: 7, message: 'expected a slug (a string)' },
    { field: 'slug', label: 'missing', value: REMOVE, message: 'is missing (expected a slug (a string))' },
    { field: 'environment', label: 'staging', value: 'staging', message: 'expected "dev" or "prod"' },
    { field: 'environment', label: 'uppercase', value: 'PROD', message: 'expected "dev" or "prod"' },
    { field: 'environment', label: 'missing', value: REMOVE, message: 'is missing (expected "dev" or "prod")' },
    { field: 'tier', label: 'gold', value: 'gold', message: 'expected "internal" or "customer"' },
    { field: 'tier', label: 'missing', value: REMOVE, message: 'is missing (expected "internal" or "customer")' },
    { field: 'domain', label: 'uppercase', value: 'ACME.example.com', message: DOMAIN_RULE },
    { field: 'domain', label: 'a single label', value: 'localhost', message: DOMAIN_RULE },
    { field: 'domain', label: 'a URL', value: 'https://acme.example.com', message: DOMAIN_RULE },
    { field: 'domain', label: 'with a trailing dot', value: 'acme.example.com.', message: DOMAIN_RULE },
    {
      field: 'domain',
      label: '254 characters',
      value: `${'a'.repeat(62)}.${'b'.repeat(62)}.${'c'.repeat(62)}.${'d'.repeat(62)}.com`,
      message: 'expected a domain name of at most 253 characters',
    },
    { field: 'domain', label: 'a number', value: 42, message: 'expected a domain name (a string)' },
    { field: 'domain', label: 'missing', value: REMOVE, message: 'is missing (expected a domain name (a string))' },
    { field: 'region', label: 'with a space', value: 'us central1', message: REGION_RULE },
    { field: 'region', label: 'without a number', value: 'us-central', message: REGION_RULE },
    { field: 'region', label: 'uppercase', value: 'US-CENTRAL1', message: REGION_RULE },
    { field: 'region', label: 'a zone', value: 'us-central1-a', message: REGION_RULE },
    { field: 'region', label: 'a number', value: 1, message: 'expected a region (a string)' },
    { field: 'region', label: 'missing', value: REMOVE, message: 'is missing (expected a region (a string))' },
    { field: 'version', label: 'a range', value: '5.x', message: 'expected a semantic version such as 5.4.2, got "5.x"' },
    { field: 'version', label: 'with a leading v', value: 'v5.4.2', message: 'expected a semantic version such as 5.4.2, got "v5.4.2"' },
    { field: 'version', label: 'two parts', value: '5.4', message: 'expected a semantic version such as 5.4.2, got "5.4"' },
    { field: 'version', label: 'a number', value: 5.4, message: 'expected a semantic version (a string)' },
    { field: 'version', label: 'missing', value: REMOVE, message: 'is missing (expected a semantic version (a string))' },
    {
      field: 'maintenanceWindow',
      label: 'a string',
      value: 'weekends',
      message: 'expected a maintenance window {days, start, hours, timeZone}',
    },
    { field: 'maintenanceWindow.days', label: 'empty', value: [], message: 'expected at least one day' },
    { field: 'maintenanceWindow.days', label: 'repeating a day', value: ['sat', 'sat'], message: 'expected each day at most once' },
    { field: 'maintenanceWindow.days', label: 'a string', value: 'sat', message: 'expected a list of days' },
    { field: 'maintenanceWindow.days', label: 'missing', value: REMOVE, message: 'is missing (expected a list of days)' },
    { field: 'maintenanceWindow.start', label: '24:00', value: '24:00', message: START_RULE },
    { field: 'maintenanceWindow.start', label: 'without a leading zero', value: '2:00', message: START_RULE },
    { field: 'maintenanceWindow.start', label: 'minute 60', value: '02:60', message: START_RULE },
    { field: 'maintenanceWindow.start', label: 'a number', value: 200, message: 'expected a start time "HH:MM"' },
    { field: 'maintenanceWindow.start', label: 'missing', value: REMOVE, message: 'is missing (expected a start time "HH:MM")' },
    { field: 'maintenanceWindow.hours', label: '0', value: 0, message: 'expected at least 1 hour' },
    { field: 'maintenanceWindow.hours', label: '25', value: 25, message: 'expected at most 24 hours' },
    { field: 'maintenanceWindow.hours', label: 'a fraction', value: 1.5, message: 'expected a whole number of hours' },
    { field: 'maintenanceWindow.hours', label: 'a string', value: '4', message: 'expected a number of hours' },
    { field: 'maintenanceWindow.hours', label: 'missing', value: REMOVE, message: 'is missing (expected a number of hours)' },
    { field: 'maintenanceWindow.timeZone', label: 'an unknown zone', value: 'Mars/Olympus', message: TIME_ZONE_RULE },
    { field: 'maintenanceWindow.timeZone', label: 'empty', value: '', message: TIME_ZONE_RULE },
    { field: 'maintenanceWindow.timeZone', label: 'an offset in hours', value: -5, message: TIME_ZONE_RULE },
    { field: 'maintenanceWindow.timeZone', label: 'missing', value: REMOVE, message: `is missing (${TIME_ZONE_RULE})` },
  ])('rejects $field $label: "$message"', ({ field, value, message }) => {
    const error = rejected(create(withField(prodSpec(), field, value)));
    expect(error.stage).toBe('payload');
    expect(error.field).toBe(`payload.spec.${field}`);
    expect(error.message).toBe(`payload.spec.${field}: ${message}`);
  });

  it('rejects a day that is not a weekday name, pointing at its position', () => {
    const error = rejected(create(withField(prodSpec(), 'maintenanceWindow.days', ['sat', 'sunday'])));
    expect(error.field).toBe('payload.spec.maintenanceWindow.days[1]');
    expect(error.message).toBe(`payload.spec.maintenanceWindow.days[1]: ${DAY_RULE}`);
  });

  it.each([
    { label: 'free text', value: 'next week', message: TIMESTAMP_RULE },
    { label: 'a date only', value: '2026-12-03', message: TIMESTAMP_RULE },
    { label: 'a number', value: 1_796_256_000, message: TIMESTAMP_RULE },
  ])('rejects expiresAt $label: "$message"', ({ value, message }) => {
    const error = rejected(create(withField(devSpec(), 'expiresAt', value)));
    expect(error.stage).toBe('payload');
    expect(error.field).toBe('payload.spec.expiresAt');
    expect(error.message).toBe(`payload.spec.expiresAt: ${message}`);
  });

  it('rejects a field the spec does not define', () => {
    const error = rejected(create({ ...prodSpec(), team: 'alice' }));
    expect(error.field).toBe('payload.spec.team');
    expect(error.message).toBe('payload.spec.team: unexpected field');
  });

  it('rejects a field the maintenance window does not define', () => {
    const error = rejected(create(withField(prodSpec(), 'maintenanceWindow.durationHours', 4)));
    expect(error.field).toBe('payload.spec.maintenanceWindow.durationHours');
    expect(error.message).toBe('payload.spec.maintenanceWindow.durationHours: unexpected field');
  });
});

describe('instance.create cross-field rules', () => {
  it('every dev instance names its owner by email, told before it expires', () => {
    expect(rejected(create(withField(devSpec(), 'owner', REMOVE))).message).toBe("payload.spec.owner: is missing (every dev instance names its owner's email: they are told before it expires)");
    expect(rejected(create(withField(devSpec(), 'owner', 'dana'))).message).toBe("payload.spec.owner: expected the owner's email");
    expect(accepted(create({ ...prodSpec(), owner: 'dana@example.com' })).payload).toMatchObject({ spec: { owner: 'dana@example.com' } });
  });

  it('every dev instance must be internal', () => {
    const error = rejected(create({ ...devSpec(), tier: 'customer', maintenanceWindow: prodSpec().maintenanceWindow }));
    expect(error.stage).toBe('payload');
    expect(error.field).toBe('payload.spec.tier');
    expect(error.message).toBe('payload.spec.tier: expected "internal": every dev instance is internal');
  });

  it('a customer instance must have a maintenance window', () => {
    const error = rejected(create(withField(prodSpec(), 'maintenanceWindow', REMOVE)));
    expect(error.stage).toBe('payload');
    expect(error.field).toBe('payload.spec.maintenanceWindow');
    expect(error.message).toBe('payload.spec.maintenanceWindow: is missing (every customer instance needs a maintenance window)');
  });

  it('a prod instance must not expire', () => {
    const error = rejected(create({ ...prodSpec(), expiresAt: '2026-12-03T00:00:00Z' }));
    expect(error.stage).toBe('payload');
    expect(error.field).toBe('payload.spec.expiresAt');
    expect(error.message).toBe('payload.spec.expiresAt: expected no expiry: a prod instance does not expire');
  });

  it("spec.id must equal the envelope's instanceId", () => {
    const error = rejected(create({ ...prodSpec(), id: 'src-ffff0000' }));
    expect(error.stage).toBe('payload');
    expect(error.field).toBe('payload.spec.id');
    expect(error.message).toBe(`payload.spec.id: expected the envelope's instanceId "${INSTANCE_ID}", got "src-ffff0000"`);
  });

  it('reports a malformed field before a cross-field rule', () => {
    const error = rejected(create({ ...devSpec(), tier: 'customer', version: '5.x' }));
    expect(error.message).toBe('payload.spec.version: expected a semantic version such as 5.4.2, got "5.x"');
  });
});

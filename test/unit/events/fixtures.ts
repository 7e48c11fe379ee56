import { expect } from 'vitest';
import {
  decodePubSubEvent,
  LIFECYCLE_COMMANDS,
  type AnyEnvelope,
  type DecodeError,
  type Decoded,
  type EventType,
  type InstanceSpec,
  type LifecycleCommandType,
} from '../../../shared/events/index.js';
import { pubSubCloudEvent } from '../../../harness/cloud-event.js';

export const EVENT_ID = '0b6d1a8e-3f43-4f4e-9d55-2f1c0d7a9b11';
export const INSTANCE_ID = 'src-1a2b3c4d';

/** A prod customer instance, as in DESIGN.md. */
export function prodSpec(): InstanceSpec {
  return {
    id: INSTANCE_ID,
    slug: 'acme',
    environment: 'prod',
    tier: 'customer',
    domain: 'acme.example.com',
    region: 'us-central1',
    version: '5.4.2',
    maintenanceWindow: { days: ['sat', 'sun'], start: '02:00', hours: 4, timeZone: 'America/New_York' },
  };
}

/** A dev instance: internal, no maintenance window, an expiry. */
export function devSpec(): InstanceSpec {
  return {
    id: INSTANCE_ID,
    slug: 'feature-x',
    environment: 'dev',
    tier: 'internal',
    domain: 'feature-x.dev.example.com',
    region: 'europe-west1',
    version: '5.5.0-rc.1',
    expiresAt: '2026-12-03T00:00:00Z',
    owner: 'dana@example.com',
  };
}

/** A valid payload of every lifecycle command. */
export const VALID_PAYLOADS: { [K in LifecycleCommandType]: () => Record<string, unknown> } = {
  'instance.create': () => ({ spec: prodSpec() }),
  'instance.upgrade': () => ({ targetVersion: '5.5.0' }),
  'instance.restore': () => ({ source: { kind: 'backup', cloudSqlBackupRunId: '1700000000123' } }),
  'instance.delete': () => ({ confirmSlug: 'acme' }),
  'instance.disaster-recovery': () => ({ targetRegion: 'us-east4' }),
  'instance.backup': () => ({ note: 'before the 5.5 migration' }),
  'instance.check': () => ({ checks: ['health'], note: 'after the pager fired' }),
  'instance.module-apply': () => ({ module: 'networking', commit: 'a'.repeat(40), action: 'plan', applyId: 'src-1a2b3c4d.networking.aaaaaaaaaaaa' }),
  'instance.remediate': () => ({ runId: 'verify-backups-20261126t0200z', controls: ['sql.point-in-time-recovery'] }),
  'instance.restore-drill': () => ({ runId: 'restore-drill-20261123t0400z' }),
};

/** A valid envelope of a lifecycle command, as plain JSON data. */
export function commandEnvelope(
  type: LifecycleCommandType = 'instance.upgrade',
  payload: Record<string, unknown> = VALID_PAYLOADS[type](),
): Record<string, unknown> {
  return {
    eventId: EVENT_ID,
    type,
    schemaVersion: 1,
    instanceId: INSTANCE_ID,
    actor: 'alice@example.com',
    reason: 'monthly release',
    issuedAt: '2026-11-26T10:00:00Z',
    payload,
  };
}

/** Marks a field to remove in `withField`. */
export const REMOVE = Symbol('remove');

/** A deep copy of `value` with the field at a dotted path set (or removed with REMOVE). */
export function withField<T>(value: T, path: string, fieldValue: unknown): T {
  const copy = structuredClone(value);
  const keys = path.split('.');
  const last = keys.pop();
  if (last === undefined) throw new Error('withField needs a path');
  let node = copy as Record<string, unknown>;
  for (const key of keys) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) throw new Error(`withField: no object at ${key} in ${path}`);
    node = next as Record<string, unknown>;
  }
  if (fieldValue === REMOVE) delete node[last];
  else node[last] = fieldValue;
  return copy;
}

/** Publishes `data` as a Pub/Sub CloudEvent and decodes it, as a lifecycle subscriber would. */
export function decode(data: unknown, allowed: readonly EventType[] = LIFECYCLE_COMMANDS): Decoded {
  return decodePubSubEvent(pubSubCloudEvent(data), allowed);
}

/** Decodes and expects success. */
export function accepted(data: unknown, allowed?: readonly EventType[]): AnyEnvelope {
  const result = decode(data, allowed);
  if (!result.ok) expect.fail(`expected the event to decode, got: ${result.error.message}`);
  return result.envelope;
}

/** Decodes and expects a failure. */
export function rejected(data: unknown, allowed?: readonly EventType[]): DecodeError {
  const result = decode(data, allowed);
  if (result.ok) expect.fail('expected the event to be rejected, but it decoded');
  return result.error;
}

/** Reads a field at a dotted path of a decoded envelope. */
export function fieldAt(value: unknown, path: string): unknown {
  let node = value;
  for (const key of path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { lazySchema } from '../lazy-schema.js';
import { LIFECYCLE_COMMANDS, LIFECYCLE_PAYLOAD_SCHEMAS, type LifecyclePayloads } from './commands.js';
import { EXECUTOR_PAYLOAD_SCHEMAS, EXECUTOR_TYPES, type ExecutorPayloads } from './executor.js';
import { COMPLIANCE_PAYLOAD_SCHEMAS, COMPLIANCE_TYPES, type CompliancePayloads } from './compliance.js';
import { FACT_PAYLOAD_SCHEMAS, FACT_TYPES, type FactPayloads } from './facts.js';
import { ROLLOUT_PAYLOAD_SCHEMAS, ROLLOUT_TYPES, type RolloutPayloads } from './rollout.js';
import { DEPLOYMENT_PAYLOAD_SCHEMAS, DEPLOYMENT_TYPES, type DeploymentPayloads } from './deployments.js';
import { instanceIdSchema, isoTimestampSchema } from './instance.js';
import { quote } from './text.js';

/** Every event type of every topic, with the schema of its payload. */
export const PAYLOAD_SCHEMAS = {
  ...LIFECYCLE_PAYLOAD_SCHEMAS,
  ...FACT_PAYLOAD_SCHEMAS,
  ...EXECUTOR_PAYLOAD_SCHEMAS,
  ...COMPLIANCE_PAYLOAD_SCHEMAS,
  ...ROLLOUT_PAYLOAD_SCHEMAS,
  ...DEPLOYMENT_PAYLOAD_SCHEMAS,
} as const;
export type EventPayloads = LifecyclePayloads & FactPayloads & ExecutorPayloads & CompliancePayloads & RolloutPayloads & DeploymentPayloads;
export type EventType = keyof EventPayloads;
export const EVENT_TYPES = [...LIFECYCLE_COMMANDS, ...FACT_TYPES, ...EXECUTOR_TYPES, ...COMPLIANCE_TYPES, ...ROLLOUT_TYPES, ...DEPLOYMENT_TYPES] as const satisfies readonly EventType[];

/** Types whose envelope must name an instance. */
const NEEDS_INSTANCE: ReadonlySet<string> = new Set<string>([...LIFECYCLE_COMMANDS, 'instance.expiring']);

export const SCHEMA_VERSION = 1;

/**
 * Which part of the control plane vouches for the actor of a command: `commands` (a person,
 * by a verified ID token), `webhook` (a signed push to the deployment repository), `rollout`,
 * `retention` and `compliance` (the control plane's own schedules). Only the control plane's
 * service accounts may publish, so the origin is the publisher's word, not the sender's claim.
 */
export const ORIGINS = ['commands', 'webhook', 'rollout', 'retention', 'compliance'] as const;
export type Origin = (typeof ORIGINS)[number];

/** The longest string any field of any message may hold; fields have tighter limits of their own. */
export const MAX_STRING_LENGTH = 20_000;
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Every string of a decoded message, keys included, is well-formed Unicode (no lone surrogate:
 * Firestore cannot store one) and of bounded length. Fails with the first field at fault.
 */
export function checkStrings(value: unknown, stage: DecodeError['stage'], eventId?: string): void {
  const walk = (node: unknown, path: PropertyKey[]): void => {
    if (typeof node === 'string') {
      const match = LONE_SURROGATE.exec(node);
      if (match) throw new DecodeError(stage, fieldOf(path) || undefined, `is not well-formed Unicode (a lone surrogate at position ${match.index})`, eventId);
      if (node.length > MAX_STRING_LENGTH) throw new DecodeError(stage, fieldOf(path) || undefined, `is ${node.length} characters long; at most ${MAX_STRING_LENGTH} are allowed`, eventId);
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((item, index) => walk(item, [...path, index]));
      return;
    }
    if (typeof node === 'object' && node !== null) {
      for (const [key, item] of Object.entries(node)) {
        if (LONE_SURROGATE.test(key) || key.length > 200) throw new DecodeError(stage, fieldOf(path) || undefined, `has a field name that is not well-formed or too long: ${quote(key)}`, eventId);
        walk(item, [...path, key]);
      }
    }
  };
  walk(value, []);
}

/** The envelope's own fields; the payload is checked against its type's schema afterwards. */
export const envelopeSchema = lazySchema(() =>
  z.strictObject(
    {
      // Lower-cased: the same UUID in another case is the same event (one ledger entry).
      eventId: z.uuid({ error: 'expected a UUID chosen by the publisher' }).transform((id) => id.toLowerCase()),
      type: z.string({ error: 'expected an event type (a string)' }).max(100, { error: 'expected an event type of at most 100 characters' }),
      schemaVersion: z.literal(SCHEMA_VERSION, { error: `expected schemaVersion ${SCHEMA_VERSION}` }),
      instanceId: instanceIdSchema.optional(),
      actor: z
        .string({ error: 'expected who asked (a string)' })
        .min(1, { error: 'expected who asked, not an empty string' })
        .max(200, { error: 'expected at most 200 characters' }),
      reason: z
        .string({ error: 'expected why (a string)' })
        .min(1, { error: 'expected why, not an empty string' })
        .max(1000, { error: 'expected at most 1000 characters' }),
      issuedAt: isoTimestampSchema,
      origin: z.enum(ORIGINS, { error: `expected who vouches for the actor: one of ${ORIGINS.join(', ')}` }).optional(),
      /** Checked against the schema of its type once the type is known; here only its presence and shape. */
      payload: z.looseObject({}, { error: 'expected a payload object' }),
    },
    { error: 'expected an event envelope (a JSON object)' },
  ),
);

/** One event on any topic. */
export interface Envelope<T extends EventType = EventType> {
  eventId: string;
  type: T;
  schemaVersion: typeof SCHEMA_VERSION;
  instanceId?: string;
  actor: string;
  reason: string;
  issuedAt: string;
  /** Absent on facts and on commands published before origins were recorded. */
  origin?: Origin;
  payload: EventPayloads[T];
}

export type AnyEnvelope = { [K in EventType]: Envelope<K> }[EventType];

/** Where a message failed to decode, and which field was at fault. */
export class DecodeError extends Error {
  constructor(
    readonly stage: 'cloudevent' | 'base64' | 'utf8' | 'json' | 'envelope' | 'type' | 'payload',
    readonly field: string | undefined,
    message: string,
    /** The event id, when the message got far enough to have one. */
    readonly eventId?: string,
  ) {
    super(field ? `${field}: ${message}` : message);
    this.name = 'DecodeError';
  }
}

function fieldOf(path: readonly PropertyKey[]): string {
  return path.map((part) => (typeof part === 'number' ? `[${part}]` : String(part))).join('.').replace(/\.\[/g, '[');
}

/** Turns the first schema issue into a DecodeError naming the field. */
export function issueToDecodeError(
  stage: DecodeError['stage'],
  error: z.ZodError,
  prefix: readonly PropertyKey[],
  eventId?: string,
): DecodeError {
  const issue = error.issues[0];
  if (issue === undefined) return new DecodeError(stage, undefined, 'invalid', eventId);
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '?';
    return new DecodeError(stage, fieldOf([...prefix, ...issue.path, key]), 'unexpected field', eventId);
  }
  // Any issue about an absent value (a wrong type, a literal, an enum) reads better as "is missing".
  const missing = issue.code !== 'custom' && 'input' in issue && issue.input === undefined;
  const message = missing ? `is missing (${issue.message})` : issue.message;
  const field = fieldOf([...prefix, ...issue.path]);
  return new DecodeError(stage, field === '' ? undefined : field, message, eventId);
}

/** Validates a parsed JSON value as an envelope of one of the allowed types. */
export function parseEnvelope(value: unknown, allowed: readonly EventType[]): AnyEnvelope {
  const candidate = value as { eventId?: unknown } | null;
  const eventId =
    typeof candidate === 'object' && candidate !== null && typeof candidate.eventId === 'string' && z.uuid().safeParse(candidate.eventId).success
      ? candidate.eventId.toLowerCase()
      : undefined;
  checkStrings(value, 'envelope', eventId);
  const base = envelopeSchema.safeParse(value, { reportInput: true });
  if (!base.success) throw issueToDecodeError('envelope', base.error, [], eventId);
  const envelope = base.data;
  if (!(allowed as readonly string[]).includes(envelope.type)) {
    const known = (EVENT_TYPES as readonly string[]).includes(envelope.type);
    const what = known ? `event type ${quote(envelope.type)} is not accepted here` : `unknown event type ${quote(envelope.type)}`;
    throw new DecodeError('type', 'type', `${what}; expected one of ${allowed.join(', ')}`, envelope.eventId);
  }
  const type = envelope.type as EventType;
  if (NEEDS_INSTANCE.has(type) && envelope.instanceId === undefined) {
    throw new DecodeError('envelope', 'instanceId', `is missing (every ${type} names its instance)`, envelope.eventId);
  }
  const payload = PAYLOAD_SCHEMAS[type].safeParse(envelope.payload, { reportInput: true });
  if (!payload.success) throw issueToDecodeError('payload', payload.error, ['payload'], envelope.eventId);
  if (type === 'instance.create') {
    const spec = (payload.data as LifecyclePayloads['instance.create']).spec;
    if (spec.id !== envelope.instanceId) {
      throw new DecodeError(
        'payload',
        'payload.spec.id',
        `expected the envelope's instanceId ${quote(envelope.instanceId)}, got ${quote(spec.id)}`,
        envelope.eventId,
      );
    }
  }
  return { ...envelope, type, payload: payload.data } as AnyEnvelope;
}

/** Builds a valid envelope for publishing; throws a DecodeError naming the field when it is not. */
export function makeEnvelope<T extends EventType>(input: {
  type: T;
  payload: EventPayloads[T];
  actor: string;
  reason: string;
  instanceId?: string;
  eventId?: string;
  issuedAt?: string;
  origin?: Origin;
}): Envelope<T> {
  const envelope = {
    eventId: input.eventId ?? randomUUID(),
    type: input.type,
    schemaVersion: SCHEMA_VERSION,
    ...(input.instanceId === undefined ? {} : { instanceId: input.instanceId }),
    actor: input.actor,
    reason: input.reason,
    issuedAt: input.issuedAt ?? new Date().toISOString(),
    ...(input.origin === undefined ? {} : { origin: input.origin }),
    payload: input.payload,
  };
  return parseEnvelope(envelope, [input.type]) as unknown as Envelope<T>;
}

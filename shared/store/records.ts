/**
 * The records every decision leaves behind, written inside the deciding transaction: the
 * append-only audit trail, the ledger of processed events, and the outbox of events to publish.
 */
import { randomBytes } from 'node:crypto';
import { makeEnvelope, type Origin, type AnyEnvelope, type DecodeError, type DeliveredMessage, type EventPayloads, type EventType } from '../events/index.js';
import { ControlPlaneError } from '../errors.js';
import type { Clock, StateStore, StoreTransaction } from '../ports.js';
import { TOPICS } from '../topics.js';
import { paths } from './collections.js';

export const LEDGER_RETENTION_DAYS = 30;

/**
 * How long the audit trail and the compliance runs and findings are kept: at least the locked
 * retention of the evidence bucket their anchors are in (SOC2 asks for a twelve-month window),
 * then deleted by the TTL policies the topology declares on `expireAt`.
 */
export const RECORD_RETENTION_DAYS = 400;

/** When a record written now may expire. */
export function recordExpiry(now: Date): Date {
  return new Date(now.getTime() + RECORD_RETENTION_DAYS * 86_400_000);
}

export interface AuditRecord {
  actor: string;
  action: string;
  instanceId: string | null;
  operationId: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  causeEventId: string | null;
  at: string;
  [key: string]: unknown;
}

let sequence = 0;

/**
 * Audit ids sort by time, then by this process's sequence (records of one millisecond stay in
 * the order they were decided), then by a random suffix that keeps processes apart.
 */
export function auditId(now: Date): string {
  sequence = (sequence + 1) % 1_000_000;
  return `${auditIdPrefix(now)}-${String(sequence).padStart(6, '0')}-${randomBytes(4).toString('hex')}`;
}

/** The id prefix of a moment (audit ids start with their time, so ids sort by it). */
export function auditIdPrefix(at: Date | string): string {
  return (typeof at === 'string' ? at : at.toISOString()).replace(/[-:.]/g, '');
}

/** The moment an audit id starts with, or null when it is not an audit id. */
export function auditIdTime(id: string): Date | null {
  const stamp = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(id);
  if (stamp === null) return null;
  const [, y, mo, d, h, mi, s, ms] = stamp;
  return new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
}

/** Appends one audit record (create: an audit record is never overwritten). */
export function appendAudit(tx: StoreTransaction, record: Omit<AuditRecord, 'at'>, now: Date): void {
  tx.create(paths.audit(auditId(now)), { ...record, at: now.toISOString(), expireAt: recordExpiry(now) });
}

export type LedgerOutcome = 'accepted' | 'rejected' | 'invalid';

export interface LedgerEntry {
  outcome: LedgerOutcome;
  eventType: string | null;
  operationId: string | null;
  code: string | null;
  reason: string | null;
  field: string | null;
  messageId: string;
  recordedAt: string;
  expireAt: Date;
  [key: string]: unknown;
}

/** Records that an event was handled, and how (create: a second writer fails the commit). */
export function recordInLedger(
  tx: StoreTransaction,
  key: string,
  entry: Omit<LedgerEntry, 'recordedAt' | 'expireAt'>,
  now: Date,
): void {
  tx.create(paths.ledger(key), {
    ...entry,
    recordedAt: now.toISOString(),
    expireAt: new Date(now.getTime() + LEDGER_RETENTION_DAYS * 86_400_000),
  });
}

export interface OutboxEntry {
  topic: string;
  envelope: AnyEnvelope;
  orderingKey: string | null;
  createdAt: string;
  [key: string]: unknown;
}

/** Queues a built envelope for publishing after the transaction commits; returns what to publish. */
export function enqueueEnvelope(tx: StoreTransaction, topic: string, envelope: AnyEnvelope, now: Date): OutboxEntry {
  const entry: OutboxEntry = { topic, envelope, orderingKey: null, createdAt: now.toISOString() };
  tx.create(paths.outbox(envelope.eventId), entry);
  return entry;
}

/** Queues an event for publishing after the transaction commits; returns what to publish. */
export function enqueue<T extends EventType>(
  tx: StoreTransaction,
  event: { type: T; payload: EventPayloads[T]; instanceId?: string; actor: string; reason: string; origin?: Origin },
  now: Date,
  topic: string = TOPICS.events,
): OutboxEntry {
  const envelope = makeEnvelope({ ...event, issuedAt: now.toISOString() }) as unknown as AnyEnvelope;
  return enqueueEnvelope(tx, topic, envelope, now);
}

/**
 * Records a message that could not be decoded, under its event id or `msg-<messageId>`, so it
 * is acknowledged once and never redelivered forever. A second delivery finds the entry.
 */
export async function recordUndecodable(
  deps: { store: StateStore; clock: Clock },
  ledgerKey: string,
  error: DecodeError,
  message: DeliveredMessage,
  source: string,
): Promise<{ duplicate: boolean; outbox: OutboxEntry[] }> {
  return deps.store.transaction(async (tx: StoreTransaction) => {
    const now = deps.clock.now();
    if ((await tx.get(paths.ledger(ledgerKey))) !== undefined) return { duplicate: true, outbox: [] };
    recordInLedger(
      tx,
      ledgerKey,
      { outcome: 'invalid', eventType: null, operationId: null, code: 'invalid', reason: error.message, field: error.field ?? null, messageId: message.messageId, stage: error.stage, source },
      now,
    );
    appendAudit(
      tx,
      { actor: 'unknown', action: 'event.invalid', instanceId: null, operationId: null, before: null, after: null, causeEventId: error.eventId ?? null, reason: error.message, ledgerKey, source },
      now,
    );
    const fact = enqueue(
      tx,
      {
        type: 'operation.rejected',
        payload: { code: 'invalid', message: error.message, causeEventId: ledgerKey, causeType: 'unknown' },
        actor: `system:${source}`,
        reason: 'undecodable message',
      },
      now,
    );
    return { duplicate: false, outbox: [fact] };
  });
}

/**
 * Records a message that failed for a permanent reason (the store refused a document it cannot
 * hold or encode, a service refused for good) under a minimal ledger entry that echoes nothing
 * of the message, so it is acknowledged once instead of redelivered until it is dead-lettered.
 */
export async function recordUnprocessable(
  deps: { store: StateStore; clock: Clock },
  ledgerKey: string,
  message: Pick<DeliveredMessage, 'messageId'>,
  source: string,
  error: unknown,
): Promise<{ duplicate: boolean }> {
  const code = error instanceof ControlPlaneError ? error.code : 'internal';
  return deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    if ((await tx.get(paths.ledger(ledgerKey))) !== undefined) return { duplicate: true };
    const reason = `the message could not be processed for a permanent reason (${code}); nothing of it was kept`;
    recordInLedger(tx, ledgerKey, { outcome: 'invalid', eventType: null, operationId: null, code: 'unprocessable', reason, field: null, messageId: message.messageId, source }, now);
    appendAudit(tx, { actor: 'unknown', action: 'event.unprocessable', instanceId: null, operationId: null, before: null, after: null, causeEventId: null, reason, ledgerKey, source }, now);
    return { duplicate: false };
  });
}

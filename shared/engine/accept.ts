/**
 * Accepting a lifecycle command is one Firestore transaction: read the ledger entry and the
 * instance; stop if the event was seen; otherwise record either the rejection or the new
 * operation with the instance's lease, the audit record, the ledger entry and the facts to
 * publish. No other round trip happens inside it.
 */
import { decideAcceptance, type AcceptancePolicy, type PreflightFacts } from '../domain/acceptance.js';
import type { OperationRecord } from '../domain/operations.js';
import type { AnyEnvelope, DecodeError, DeliveredMessage, InstanceRecord, RejectionCode } from '../events/index.js';
import type { StoreTransaction } from '../ports.js';
import { ControlPlaneError } from '../errors.js';
import type { EngineDeps } from './deps.js';
import { paths } from './paths.js';
import { appendAudit, enqueue, recordInLedger, type LedgerEntry, type OutboxEntry } from './records.js';

export type AcceptOutcome =
  | { kind: 'duplicate'; ledger: LedgerEntry }
  | { kind: 'accepted'; operationId: string; outbox: OutboxEntry[] }
  | { kind: 'rejected'; code: RejectionCode; message: string; outbox: OutboxEntry[] };

function instanceView(instance: InstanceRecord | undefined): Record<string, unknown> | null {
  if (!instance) return null;
  return { status: instance.status, version: instance.version, lease: instance.lease, generation: instance.generation };
}

/** The accepting transaction for one decoded lifecycle command. */
export async function acceptCommand(
  deps: Pick<EngineDeps, 'store' | 'clock' | 'timings'> & { policy: AcceptancePolicy },
  envelope: AnyEnvelope,
  message: Pick<DeliveredMessage, 'messageId'>,
  facts: PreflightFacts = {},
): Promise<AcceptOutcome> {
  return deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const instancePath = paths.instance(envelope.instanceId ?? '');
    const reads = [paths.ledger(envelope.eventId), instancePath];
    // A create also checks that its slug is free in its environment, in the same transaction.
    const spec = envelope.type === 'instance.create' ? envelope.payload.spec : undefined;
    if (spec) reads.push(paths.slug(spec.environment, spec.slug));
    const [seen, instance, slug] = await tx.getAll<LedgerEntry | InstanceRecord | { instanceId: string }>(reads);
    if (seen !== undefined) return { kind: 'duplicate', ledger: seen as LedgerEntry };
    const current = instance as InstanceRecord | undefined;
    const decision = decideAcceptance({
      envelope,
      instance: current,
      slugOwner: (slug as { instanceId?: string } | undefined)?.instanceId,
      facts,
      now,
      policy: { ...deps.policy, timings: deps.timings },
    });
    const cause = { actor: envelope.actor, instanceId: envelope.instanceId ?? null, causeEventId: envelope.eventId };
    if (decision.kind === 'reject') {
      recordInLedger(
        tx,
        envelope.eventId,
        { outcome: 'rejected', eventType: envelope.type, operationId: null, code: decision.code, reason: decision.message, field: null, messageId: message.messageId },
        now,
      );
      appendAudit(
        tx,
        { ...cause, action: 'operation.rejected', operationId: null, before: instanceView(current), after: instanceView(current), code: decision.code, reason: decision.message, requestReason: envelope.reason, eventType: envelope.type },
        now,
      );
      const fact = enqueue(
        tx,
        {
          type: 'operation.rejected',
          payload: { code: decision.code, message: decision.message, causeEventId: envelope.eventId, causeType: envelope.type },
          ...(envelope.instanceId === undefined ? {} : { instanceId: envelope.instanceId }),
          actor: 'system:lifecycle',
          reason: decision.message,
        },
        now,
      );
      return { kind: 'rejected', code: decision.code, message: decision.message, outbox: [fact] };
    }
    if (decision.claimSlug) {
      tx.create(paths.slug(decision.claimSlug.environment, decision.claimSlug.slug), { instanceId: decision.instanceAfter.id, claimedAt: now.toISOString() });
    }
    const { operation, instanceAfter } = decision;
    tx.create(paths.operation(operation.id), { ...operation });
    if (current === undefined) tx.create(instancePath, { ...instanceAfter });
    else tx.set(instancePath, { ...instanceAfter });
    recordInLedger(
      tx,
      envelope.eventId,
      { outcome: 'accepted', eventType: envelope.type, operationId: operation.id, code: null, reason: null, field: null, messageId: message.messageId },
      now,
    );
    appendAudit(
      tx,
      { ...cause, action: 'operation.accepted', operationId: operation.id, before: instanceView(current), after: instanceView(instanceAfter), requestReason: envelope.reason, eventType: envelope.type, params: operation.params },
      now,
    );
    const fact = enqueue(
      tx,
      {
        type: 'operation.accepted',
        payload: { operationId: operation.id, operationType: operation.type },
        instanceId: operation.instanceId,
        actor: envelope.actor,
        reason: envelope.reason,
      },
      now,
    );
    return { kind: 'accepted', operationId: operation.id, outbox: [fact] };
  });
}

/**
 * Records a message that could not be decoded, under its event id or `msg-<messageId>`, so it
 * is acknowledged once and never redelivered forever. A second delivery finds the entry.
 */
export async function recordUndecodable(
  deps: Pick<EngineDeps, 'store' | 'clock'>,
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
  deps: Pick<EngineDeps, 'store' | 'clock'>,
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

export type { OperationRecord };

/**
 * Accepting a lifecycle command is one Firestore transaction: read the ledger entry and the
 * instance; stop if the event was seen; otherwise record either the rejection or the new
 * operation with the instance's lease, the audit record, the ledger entry and the facts to
 * publish. No other round trip happens inside it.
 */
import { decideAcceptance, rolloutOfCommand, type AcceptancePolicy, type PreflightFacts } from '../domain/lifecycle/acceptance.js';
import type { OperationRecord } from '../domain/lifecycle/operations.js';
import { describeError } from '../errors.js';
import type { AnyEnvelope, DeliveredMessage, InstanceRecord, RejectionCode } from '../events/index.js';
import type { Advance } from './advance.js';
import type { EngineDeps } from './deps.js';
import { gatherFacts } from './preflight.js';
import { appendAudit, enqueue, recordInLedger, type LedgerEntry, type OutboxEntry } from '../store/records.js';
import { paths, rolloutPaths } from '../store/collections.js';
import { publishOutbox } from '../store/outbox.js';

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
    // An upgrade a rollout decided is accepted only while that rollout has not halted: read in the same transaction.
    const rolloutId = rolloutOfCommand(envelope);
    if (rolloutId !== undefined) reads.push(rolloutPaths.rollout(rolloutId));
    const found = await tx.getAll<LedgerEntry | InstanceRecord | { instanceId?: string; status?: string }>(reads);
    const [seen, instance] = found;
    const slug = spec ? found[2] : undefined;
    const rollout = rolloutId === undefined ? undefined : (found[reads.length - 1] as { status: string } | undefined);
    if (seen !== undefined) return { kind: 'duplicate', ledger: seen as LedgerEntry };
    const current = instance as InstanceRecord | undefined;
    const decision = decideAcceptance({
      envelope,
      instance: current,
      slugOwner: (slug as { instanceId?: string } | undefined)?.instanceId,
      facts,
      ...(rolloutId === undefined ? {} : { rollout }),
      now,
      policy: { ...deps.policy, timings: deps.timings },
    });
    const cause = { actor: envelope.actor, origin: envelope.origin ?? 'unattributed', instanceId: envelope.instanceId ?? null, causeEventId: envelope.eventId };
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
          payload: { code: decision.code, message: decision.message, causeEventId: envelope.eventId, causeType: envelope.type, ...(rolloutId === undefined ? {} : { rolloutId }) },
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

export type { OperationRecord };

/** Accepts a decoded command in one transaction, publishes what it decided, takes the first steps. */
export async function acceptAndStart(deps: EngineDeps, advance: Advance, envelope: AnyEnvelope, message: DeliveredMessage): Promise<AcceptOutcome> {
  // Facts from the backup services are read first: the accepting transaction makes no other call.
  // Only restores and recoveries need facts: the others go straight to the one transaction.
  const needsFacts = (envelope.type === 'instance.restore' || envelope.type === 'instance.disaster-recovery') && envelope.instanceId !== undefined;
  const instance = needsFacts ? await deps.store.get<InstanceRecord>(paths.instance(envelope.instanceId ?? '')) : undefined;
  const facts = needsFacts ? await gatherFacts(deps, envelope, instance) : {};
  const outcome = await acceptCommand(deps, envelope, message, facts);
  if (outcome.kind === 'duplicate') return outcome;
  await publishOutbox(deps, outcome.outbox);
  if (outcome.kind === 'accepted') {
    try {
      await advance(outcome.operationId);
    } catch (error) {
      // Accepted and committed: the reconciler will take the first steps up.
      deps.log.warn('could not start the first steps; the reconciler will', { operationId: outcome.operationId, error: describeError(error) });
    }
  }
  return outcome;
}

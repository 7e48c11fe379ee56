/**
 * One change of an operation, in one transaction over fresh state: re-read it, apply the change,
 * audit what moved, schedule its next look, and when its steps say it is over, write its end
 * (the record, the instance and its lease, the audit, the fact in the outbox).
 */
import { writeBackOfOperation } from '../domain/deployments/write-back.js';
import {
  endOperation,
  scheduleNextRun,
  verdictOf,
  type OperationRecord,
  type Step,
} from '../domain/lifecycle/operations.js';
import { ControlPlaneError } from '../errors.js';
import type { InstanceRecord } from '../events/index.js';
import type { StoreTransaction } from '../ports.js';
import { paths } from '../store/collections.js';
import { TOPICS } from '../topics.js';
import { publishOutbox } from '../store/outbox.js';
import { appendAudit, enqueue, recordInLedger, type LedgerEntry, type OutboxEntry } from '../store/records.js';
import type { EngineDeps } from './deps.js';

function stepView(s: Step): Record<string, unknown> {
  return { step: s.name, status: s.status, attempts: s.attempts, handles: s.handles, error: s.error };
}

/** Audits every step whose status changed, and the operation's own status change. */
function auditChanges(tx: StoreTransaction, before: OperationRecord, after: OperationRecord, actor: string, now: Date): void {
  for (const next of after.steps) {
    const prev = before.steps.find((s) => s.name === next.name);
    if (prev && prev.status !== next.status) {
      appendAudit(
        tx,
        { actor, action: `step.${next.status}`, instanceId: after.instanceId, operationId: after.id, before: stepView(prev), after: stepView(next), causeEventId: after.causeEventId },
        now,
      );
    }
  }
}

function instanceView(i: InstanceRecord): Record<string, unknown> {
  return { status: i.status, version: i.version, lease: i.lease, generation: i.generation };
}

/** Writes the end of an operation: its record, the instance and its lease, audit, the fact. */
export function writeEnd(
  tx: StoreTransaction,
  before: OperationRecord,
  ended: { operation: OperationRecord; instance: InstanceRecord },
  instanceBefore: InstanceRecord,
  actor: string,
  now: Date,
  extra: Record<string, unknown> = {},
): OutboxEntry[] {
  const { operation, instance } = ended;
  tx.set(paths.operation(operation.id), { ...operation });
  tx.set(paths.instance(instance.id), { ...instance });
  // A deleted instance keeps its record (a tombstone) and its id; its slug may be used again.
  if (operation.type === 'delete' && operation.status === 'succeeded') tx.delete(paths.slug(instance.environment, instance.slug));
  appendAudit(
    tx,
    {
      actor,
      action: `operation.${operation.status}`,
      instanceId: operation.instanceId,
      operationId: operation.id,
      before: { operation: before.status, instance: instanceView(instanceBefore) },
      after: { operation: operation.status, instance: instanceView(instance), failure: operation.failure, result: operation.result },
      causeEventId: operation.causeEventId,
      ...extra,
    },
    now,
  );
  const base = { instanceId: operation.instanceId, actor: operation.actor, reason: operation.reason };
  const ref = { operationId: operation.id, operationType: operation.type, ...(operation.rolloutId === undefined ? {} : { rolloutId: operation.rolloutId }) };
  switch (operation.status) {
    case 'succeeded': {
      const fact = enqueue(tx, { ...base, type: 'operation.succeeded', payload: { ...ref, result: operation.result ?? {} } }, now);
      // The spec it changed goes back to config.yaml, through the deployments function, once.
      const writeBack = writeBackOfOperation(operation, instanceBefore, instance);
      if (writeBack === undefined) return [fact];
      const { operationId, operationType, before: was, after, spec } = writeBack;
      const payload = { environment: instance.environment, operationId, operationType, before: was, after, ...(spec === undefined ? {} : { spec }) };
      return [fact, enqueue(tx, { ...base, actor: 'system:engine', type: 'deployment.write-back', payload }, now, TOPICS.deployments)];
    }
    case 'abandoned':
      return [enqueue(tx, { ...base, type: 'operation.abandoned', payload: { ...ref, by: operation.abandoned?.by ?? actor, why: operation.abandoned?.why ?? '' } }, now)];
    default:
      return [enqueue(
        tx,
        { ...base, type: 'operation.failed', payload: { ...ref, failedStep: operation.failure?.step ?? 'unknown', reason: operation.failure?.reason ?? 'unknown' } },
        now,
      )];
  }
}

export interface OperationChange {
  operation: OperationRecord | undefined;
  changed: boolean;
  outbox: OutboxEntry[];
  /** The message this change answers was seen before (its ledger entry exists): nothing was done. */
  duplicate?: boolean;
}

/** The ledger entry of the message a change answers: written in the change's transaction, once. */
export interface LedgerRecord {
  key: string;
  entry: (changed: boolean) => Omit<LedgerEntry, 'recordedAt' | 'expireAt'>;
}

/**
 * One transaction: re-read the operation, apply `mutate`, schedule its next look, and end it
 * (releasing the lease, recording the instance) when its steps say it is over. With `ledger`,
 * the message that asked for the change is recorded in the same transaction, or found seen.
 */
export async function changeOperation(
  deps: Pick<EngineDeps, 'store' | 'clock' | 'timings'>,
  operationId: string,
  mutate: (op: OperationRecord, now: Date) => OperationRecord | undefined,
  actor = 'system:engine',
  ledger?: LedgerRecord,
): Promise<OperationChange> {
  return deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const reads = ledger === undefined ? [paths.operation(operationId)] : [paths.operation(operationId), paths.ledger(ledger.key)];
    const [stored, seen] = await tx.getAll<OperationRecord | LedgerEntry>(reads);
    const op = stored as OperationRecord | undefined;
    if (seen !== undefined) return { operation: op, changed: false, outbox: [], duplicate: true };
    // Written last: Firestore wants every read of a transaction before its first write.
    const record = (changed: boolean) => {
      if (ledger !== undefined) recordInLedger(tx, ledger.key, ledger.entry(changed), now);
    };
    const live = op !== undefined && (op.status === 'running' || op.status === 'stuck');
    const mutated = live ? mutate(op, now) : undefined;
    if (op === undefined || mutated === undefined) {
      record(false);
      return { operation: op, changed: false, outbox: [] };
    }
    const verdict = verdictOf(mutated);
    if (verdict.kind === 'continue') {
      auditChanges(tx, op, mutated, actor, now);
      tx.set(paths.operation(op.id), { ...scheduleNextRun(mutated, now, deps.timings) });
      record(true);
      return { operation: mutated, changed: true, outbox: [] };
    }
    const instance = await tx.get<InstanceRecord>(paths.instance(op.instanceId));
    if (instance === undefined) throw new ControlPlaneError('internal', `operation ${op.id} names missing instance ${op.instanceId}`);
    auditChanges(tx, op, mutated, actor, now);
    const ended = endOperation(mutated, instance, verdict, now);
    const published = writeEnd(tx, op, ended, instance, actor, now);
    record(true);
    return { operation: ended.operation, changed: true, outbox: published };
  });
}

/** A change without a ledger entry, its fact published once it commits: the changed operation, or undefined when nothing changed. */
export async function commit(
  deps: EngineDeps,
  operationId: string,
  mutate: (op: OperationRecord, now: Date) => OperationRecord | undefined,
  actor?: string,
): Promise<OperationRecord | undefined> {
  const change = await changeOperation(deps, operationId, mutate, actor);
  await publishOutbox(deps, change.outbox);
  return change.changed ? change.operation : undefined;
}

/** What a change that may start does, inside the caller's transaction: ask the engine, wait, or nothing; and its audit records. */
import { changeEventId } from '../../domain/deployments/changes.js';
import { dispatchDecision, type SpecChangeRecord, type SpecCommandType } from '../../domain/deployments/spec-changes.js';
import { appendAudit, type OutboxEntry } from '../../store/records.js';
import { ControlPlaneError } from '../../errors.js';
import type { InstanceRecord } from '../../events/index.js';
import type { StoreTransaction } from '../../ports.js';
import { queueCommand } from '../commands.js';
import type { OfferOutcome } from './model.js';

const SYSTEM_ACTOR = 'system:deployments';

/** The command a change asks for, queued in `tx` under the change's current attempt. */
export function ask(tx: StoreTransaction, record: SpecChangeRecord, type: SpecCommandType, now: Date): OutboxEntry {
  const spec = record.spec;
  if (spec === null) throw new ControlPlaneError('internal', `spec change of ${record.instanceId} at ${record.commit} has no spec to ask for`, { retryable: false });
  const eventId = changeEventId(record.commit, record.instanceId, 'config', record.attempt);
  const reason = `merge ${record.commit.slice(0, 12)} of ${record.repository} changed ${record.file}`;
  const command = { eventId, instanceId: record.instanceId, actor: record.actor, reason };
  record.status = 'asked';
  record.request = { eventId, type, at: now.toISOString() };
  return type === 'instance.upgrade'
    ? queueCommand(tx, { ...command, type, payload: { targetVersion: spec.version } }, now)
    : queueCommand(tx, { ...command, type, payload: { spec } }, now);
}

/** Moves a change that may start on, given the instance as `tx` read it: ask, wait, or nothing to do. */
export function dispatch(tx: StoreTransaction, record: SpecChangeRecord, instance: InstanceRecord | undefined, now: Date): { entries: OutboxEntry[]; outcome: OfferOutcome } {
  if (record.spec === null) return { entries: [], outcome: { kind: 'recorded' } };
  const decision = dispatchDecision(record.spec, instance);
  switch (decision.kind) {
    case 'wait':
      record.status = 'waiting';
      record.request = null;
      return { entries: [], outcome: { kind: 'waiting', reason: decision.reason } };
    case 'unchanged':
      record.status = 'unchanged';
      record.outcome = decision.reason;
      return { entries: [], outcome: { kind: 'unchanged', reason: decision.reason } };
    case 'ask': {
      const entry = ask(tx, record, decision.type, now);
      return { entries: [entry], outcome: { kind: 'asked', type: decision.type, eventId: entry.envelope.eventId } };
    }
  }
}

/** One audit record of a change, by the system unless an actor is named. */
export function auditChange(tx: StoreTransaction, record: Pick<SpecChangeRecord, 'instanceId' | 'commit' | 'causeEventId' | 'file'>, action: string, extra: Record<string, unknown>, now: Date, actor = SYSTEM_ACTOR): void {
  appendAudit(tx, { actor, action, instanceId: record.instanceId, operationId: null, before: null, after: null, causeEventId: record.causeEventId, commit: record.commit, file: record.file, ...extra }, now);
}

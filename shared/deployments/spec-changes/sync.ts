/** The tick's part: start the waiting changes whose instance is free, record the engine's answers to those asked for. */
import { ACTIVE_SPEC_CHANGE_STATUSES, answerDecision, dispatchDecision, type SpecChangeRecord } from '../../domain/deployments/spec-changes.js';
import type { LedgerEntry, OutboxEntry } from '../../store/records.js';
import { describeError } from '../../errors.js';
import type { InstanceRecord } from '../../events/index.js';
import { REPUBLISH_AFTER_MS } from '../commands.js';
import { COLLECTIONS, deploymentPaths, paths } from '../../store/collections.js';
import { ask, auditChange, dispatch } from './dispatch.js';
import type { SpecChangeDeps } from './model.js';

/** A waiting change: one read to learn the lease is still held (nothing is written while it is), then asked for; true when it wrote something. */
async function startWaiting(deps: SpecChangeDeps, change: SpecChangeRecord): Promise<boolean> {
  const path = deploymentPaths.specChange(change.instanceId);
  const instance = await deps.store.get<InstanceRecord>(paths.instance(change.instanceId));
  if (change.spec === null || dispatchDecision(change.spec, instance).kind === 'wait') return false;
  const entries = await deps.store.transaction(async (tx) => {
    const current = await tx.get<SpecChangeRecord>(path);
    if (current?.commit !== change.commit || current.status !== 'waiting') return undefined;
    const now = deps.clock.now();
    const record: SpecChangeRecord = { ...current, updatedAt: now.toISOString() };
    const moved = dispatch(tx, record, await tx.get<InstanceRecord>(paths.instance(change.instanceId)), now);
    if (moved.outcome.kind === 'waiting') return undefined;
    if (moved.outcome.kind === 'unchanged') auditChange(tx, record, 'deployment.change-unchanged', { reason: moved.outcome.reason }, now);
    tx.set(path, record);
    return moved.entries;
  });
  if (entries === undefined) return false;
  await deps.publish(entries);
  return true;
}

/** An asked-for change: the engine's answer recorded, or the command asked again; true when it wrote something. */
async function recordAnswer(deps: SpecChangeDeps, change: SpecChangeRecord): Promise<boolean> {
  if (change.status !== 'asked' || change.request === null) return false;
  const path = deploymentPaths.specChange(change.instanceId);
  const request = change.request;
  const answer = await deps.store.get<LedgerEntry>(paths.ledger(request.eventId));
  const decision = answerDecision(change, answer, deps.clock.now(), REPUBLISH_AFTER_MS);
  if (decision.kind === 'pending') return false;
  const entries = await deps.store.transaction(async (tx) => {
    const current = await tx.get<SpecChangeRecord>(path);
    if (current?.commit !== change.commit || current.status !== 'asked' || current.request?.eventId !== request.eventId) return undefined;
    const now = deps.clock.now();
    const record: SpecChangeRecord = { ...current, updatedAt: now.toISOString() };
    const out: OutboxEntry[] = [];
    switch (decision.kind) {
      case 'ask-again':
        // The same event id: if the first did arrive, the engine's ledger makes this one a no-op.
        out.push(ask(tx, record, request.type, now));
        break;
      case 'applied':
        record.status = 'applied';
        record.operationId = decision.operationId;
        auditChange(tx, record, 'deployment.change-applied', { eventId: request.eventId, command: request.type, operationId: decision.operationId, targetVersion: record.spec?.version ?? null, attempt: record.attempt }, now, record.actor);
        break;
      case 'wait':
        // Busy is never a failure: wait for the lease again, and ask under the next attempt's id.
        record.status = 'waiting';
        record.attempt = decision.attempt;
        record.request = null;
        break;
      case 'refused':
        record.status = 'refused';
        record.outcome = decision.reason;
        auditChange(tx, record, 'deployment.change-refused', { eventId: request.eventId, command: request.type, reason: decision.reason }, now, record.actor);
        break;
    }
    tx.set(path, record);
    return out;
  });
  if (entries === undefined) return false;
  await deps.publish(entries);
  return true;
}

/** Moves one change on; true when it wrote something. */
export function syncChange(deps: SpecChangeDeps, change: SpecChangeRecord): Promise<boolean> {
  return change.status === 'waiting' ? startWaiting(deps, change) : recordAnswer(deps, change);
}

/** The tick: start the waiting changes whose instance is free, record the engine's answers. */
export async function syncSpecChanges(deps: SpecChangeDeps, options: { limit?: number } = {}): Promise<{ active: number; moved: number }> {
  const active = await deps.store.query<SpecChangeRecord>({
    collection: COLLECTIONS.specChanges,
    where: [{ field: 'status', op: 'in', value: ACTIVE_SPEC_CHANGE_STATUSES }],
    limit: options.limit ?? 500,
  });
  let moved = 0;
  for (const doc of active) {
    try {
      if (await syncChange(deps, doc.data)) moved += 1;
    } catch (error) {
      deps.log.warn('could not move a spec change on; the next tick will', { instanceId: doc.id, error: describeError(error) });
    }
  }
  return { active: active.length, moved };
}

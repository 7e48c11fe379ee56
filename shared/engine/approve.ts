/**
 * A second person approves an operation waiting for it (a prod delete), in one transaction:
 * the approver comes from a verified identity, and the requester cannot approve their own.
 */
import { approveOperation } from '../domain/lifecycle/approval.js';
import { scheduleNextRun, type OperationRecord } from '../domain/lifecycle/operations.js';
import { describeError } from '../errors.js';
import type { VerifiedCaller } from '../ports.js';
import { paths } from '../store/collections.js';
import { appendAudit } from '../store/records.js';
import type { Advance } from './advance.js';
import type { EngineDeps } from './deps.js';

/** What approving an operation can come to; refusals are answers, not failures. */
export type ApprovalResult =
  | { kind: 'approved'; operationId: string }
  | { kind: 'refused'; code: 'not-found' | 'not-awaiting-approval' | 'self-approval'; message: string };

/** Records an approval (in one transaction): the operation must wait for one, from someone other than its requester. */
export interface Approver {
  approve(operationId: string, approver: VerifiedCaller): Promise<ApprovalResult>;
}

/** Records `approver`'s approval with its audit, then moves the operation on. */
export async function approve(deps: EngineDeps, advance: Advance, operationId: string, approver: VerifiedCaller): Promise<ApprovalResult> {
  const decided = await deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const op = await tx.get<OperationRecord>(paths.operation(operationId));
    const decision = approveOperation(op, operationId, approver.email, now);
    if (decision.kind === 'refused' || op === undefined) return decision;
    tx.set(paths.operation(operationId), { ...scheduleNextRun(decision.operation, now, deps.timings) });
    appendAudit(
      tx,
      {
        actor: approver.email,
        action: 'operation.approved',
        instanceId: op.instanceId,
        operationId,
        before: { approval: op.approval },
        after: { approval: decision.operation.approval },
        causeEventId: op.causeEventId,
        verifiedSubject: approver.subject,
      },
      now,
    );
    return decision;
  });
  if (decided.kind === 'refused') return decided;
  try {
    await advance(operationId);
  } catch (error) {
    deps.log.warn('could not advance after an approval; the reconciler will', { operationId, error: describeError(error) });
  }
  return { kind: 'approved', operationId };
}

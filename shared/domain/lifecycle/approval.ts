/**
 * A second person's approval of an operation that needs one (a prod delete): pure. The
 * approver comes from a verified identity; the requester may not approve their own.
 */
import type { OperationRecord } from './operations.js';

export type ApprovalDecision =
  | { kind: 'approved'; operation: OperationRecord }
  | { kind: 'refused'; code: 'not-found' | 'not-awaiting-approval' | 'self-approval'; message: string };

/** Records `approver`'s approval on the operation's approval step, or says why not. */
export function approveOperation(operation: OperationRecord | undefined, operationId: string, approver: string, now: Date): ApprovalDecision {
  if (operation === undefined) return { kind: 'refused', code: 'not-found', message: `no operation ${operationId}` };
  const step = operation.steps.find((s) => s.kind === 'approval');
  const waiting = step !== undefined && (step.status === 'pending' || step.status === 'starting' || step.status === 'running');
  if (operation.status !== 'running' || step === undefined || !waiting || operation.approval === null) {
    return { kind: 'refused', code: 'not-awaiting-approval', message: `operation ${operationId} is ${operation.status} and not waiting for an approval` };
  }
  if (approver.trim().toLowerCase() === operation.approval.requestedBy.trim().toLowerCase()) {
    return { kind: 'refused', code: 'self-approval', message: `${approver} asked for operation ${operationId} and cannot also approve it: a second person must` };
  }
  const at = now.toISOString();
  return {
    kind: 'approved',
    operation: {
      ...operation,
      updatedAt: at,
      approval: { ...operation.approval, approvedBy: approver, approvedAt: at },
      steps: operation.steps.map((s) =>
        s.name === step.name
          ? { ...s, status: 'succeeded', claim: null, startedAt: s.startedAt ?? at, finishedAt: at, handles: { ...s.handles, approvedBy: approver } }
          : s,
      ),
    },
  };
}

/**
 * The operation engine: accepts lifecycle commands, advances operations step by step,
 * records executor results, reconciles what is due, drains the outbox. Functions call it (through
 * the edge); it talks to the world only through the ports it is given (deps.ts).
 *
 * - index.ts: createEngine, the engine's entry points (accept, recordResult, reconcile, approve, abandon);
 * - accept.ts: accepting a command in one transaction, with preflight.ts's facts read before it;
 * - advance.ts: moving an operation on (poll, claim, start, settle a failing one);
 * - change.ts: one change of an operation in one transaction, and writing its end;
 * - stuck.ts: past the deadline: stuck, confirmed idle and released, or abandoned;
 * - steps/: what each kind of step does in the world, one file per service.
 */
import { DEFAULT_TIMINGS, scheduleNextRun, type EngineTimings, type OperationRecord } from '../domain/lifecycle/operations.js';
import { DEFAULT_POLICY } from '../domain/lifecycle/acceptance.js';
import { approveOperation } from '../domain/lifecycle/approval.js';
import type { InstanceRecord } from '../events/index.js';
import type { VerifiedCaller } from '../ports.js';
import { gatherFacts } from './preflight.js';
import { appendAudit } from '../store/records.js';
import { ControlPlaneError, describeError } from '../errors.js';
import type { AnyEnvelope, DeliveredMessage, Envelope } from '../events/index.js';
import { silentLogger } from '../log.js';
import { indexedQuery } from '../topology.js';
import { acceptCommand, type AcceptOutcome } from './accept.js';
import { advanceOperation, type AdvanceResult } from './advance.js';
import { changeOperation } from './change.js';
import { releaseOperation } from './stuck.js';
import type { EngineDeps } from './deps.js';
import { drainOutbox, publishOutbox } from '../store/outbox.js';
import { createStepRunners } from './steps/index.js';
import { finishStep } from '../domain/lifecycle/operations.js';
import { paths } from '../store/collections.js';

export type { EngineDeps } from './deps.js';
export type { AuditRecord, LedgerEntry, OutboxEntry } from '../store/records.js';
export { gkeBackupIdFor, sqlBackupDescription } from './steps/index.js';

/** What approving an operation can come to; refusals are answers, not failures. */
export type ApprovalResult =
  | { kind: 'approved'; operationId: string }
  | { kind: 'refused'; code: 'not-found' | 'not-awaiting-approval' | 'self-approval'; message: string };

/** Records an approval (in one transaction): the operation must wait for one, from someone other than its requester. */
export interface Approver {
  approve(operationId: string, approver: VerifiedCaller): Promise<ApprovalResult>;
}

export type ResultOutcome = { kind: 'recorded' | 'ignored' | 'duplicate'; reason?: string };
export type { AcceptOutcome };

export interface ReconcileSummary {
  due: number;
  advanced: number;
  failed: Array<{ operationId: string; error: string }>;
  outbox: { found: number; published: number };
}

const DUE_OPERATIONS = indexedQuery('due-operations');

/** Wires the engine to its ports. */
export function createEngine(input: Omit<EngineDeps, 'timings' | 'log' | 'policy'> & Partial<Pick<EngineDeps, 'timings' | 'log' | 'policy'>>) {
  const timings = input.timings ?? DEFAULT_TIMINGS;
  const deps: EngineDeps = { ...input, timings, policy: { ...(input.policy ?? DEFAULT_POLICY), timings }, log: input.log ?? silentLogger };
  const runners = createStepRunners(deps);

  const advance = (operationId: string): Promise<AdvanceResult> => advanceOperation(deps, runners, operationId);

  /** Accepts a decoded command in one transaction, publishes what it decided, takes the first steps. */
  const accept = async (envelope: AnyEnvelope, message: DeliveredMessage): Promise<AcceptOutcome> => {
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
  };

  /** Records an executor run's outcome on its step (and the result in the ledger, once), then moves the operation on. */
  const recordResult = async (envelope: Envelope<'executor.run-finished'>, message: DeliveredMessage): Promise<ResultOutcome> => {
    const { runKey, outcome, detail } = envelope.payload;
    const split = runKey.lastIndexOf(':');
    // A key that names no step names no operation either: looked up as itself, found missing.
    const operationId = split > 0 ? runKey.slice(0, split) : runKey;
    const stepName = runKey.slice(split + 1);
    const ledger = {
      key: envelope.eventId,
      entry: (changed: boolean) => ({
        outcome: changed ? ('accepted' as const) : ('rejected' as const),
        eventType: envelope.type,
        operationId,
        code: changed ? null : 'not-waiting',
        reason: changed ? null : `no step of ${operationId} was waiting for run ${runKey}`,
        field: null,
        messageId: message.messageId,
      }),
    };
    const change = await changeOperation(
      deps,
      operationId,
      (op, now) => {
        const step = op.steps.find((s) => s.name === stepName && s.kind === 'executor-run');
        if (step === undefined) return undefined;
        const next = finishStep(
          op,
          stepName,
          outcome === 'succeeded' ? { ok: true, handles: { runKey } } : { ok: false, error: `executor run ${runKey} failed: ${detail}` },
          now,
        );
        return next === op ? undefined : next;
      },
      'system:executor',
      ledger,
    );
    if (change.duplicate === true) return { kind: 'duplicate', reason: `event ${envelope.eventId} was recorded before` };
    await publishOutbox(deps, change.outbox);
    if (change.operation === undefined) {
      deps.log.warn('executor result for no known operation', { runKey });
      return { kind: 'ignored', reason: `no operation for run ${runKey}` };
    }
    if (!change.changed) return { kind: 'ignored', reason: `step ${stepName} of ${operationId} was not waiting for this result` };
    try {
      await advance(operationId);
    } catch (error) {
      deps.log.warn('could not advance after a result; the reconciler will', { operationId, error: describeError(error) });
    }
    return { kind: 'recorded' };
  };

  return {
    deps,

    /** A lifecycle command (from `mi-lifecycle`, through the edge): accept in one transaction, publish, start the first steps. */
    accept,

    /** An executor run's outcome (from `mi-executor-results`, through the edge): record it on its step, then move on. */
    recordResult,

    advance,

    /** Every minute: advance due operations (flagging stuck ones), then republish what the outbox holds. */
    async reconcile(options: { limit?: number; concurrency?: number; outboxGraceMs?: number } = {}): Promise<ReconcileSummary> {
      const now = deps.clock.now();
      const due = await deps.store.queryIds({
        collection: DUE_OPERATIONS.collection,
        where: [
          { field: 'status', op: 'in', value: ['running', 'stuck'] },
          { field: 'nextRunAt', op: '<=', value: now.toISOString() },
        ],
        orderBy: [{ field: 'nextRunAt', direction: 'asc' }],
        limit: options.limit ?? 100,
      });
      const failed: ReconcileSummary['failed'] = [];
      let advanced = 0;
      const queue = [...due];
      const worker = async () => {
        for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
          try {
            await advance(id);
            advanced += 1;
          } catch (error) {
            failed.push({ operationId: id, error: describeError(error) });
            deps.log.error('reconcile could not advance an operation', error, { operationId: id });
          }
        }
      };
      await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
      const outbox = await drainOutbox(deps, { graceMs: options.outboxGraceMs ?? 5_000 });
      return { due: due.length, advanced, failed, outbox };
    },

    /**
     * A second person approves an operation waiting for it (a prod delete). `approver` comes
     * from a verified identity; the requester cannot approve their own.
     */
    async approve(operationId: string, approver: VerifiedCaller): Promise<ApprovalResult> {
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
    },

    /** An operator gives up on a stuck operation: recorded with who and why, lease released. */
    async abandon(operationId: string, by: string, why: string): Promise<OperationRecord> {
      const released = await releaseOperation(deps, operationId, { kind: 'abandoned', by, why }, by);
      if (released === undefined) throw new ControlPlaneError('internal', `operation ${operationId} was not released`);
      return released;
    },
  };
}

export type Engine = ReturnType<typeof createEngine>;
export type { EngineTimings };

/**
 * The operation engine: accepts lifecycle commands, advances operations step by step,
 * records executor results, reconciles what is due, drains the outbox. Functions call it (through
 * the edge); it talks to the world only through the ports it is given (deps.ts).
 *
 * - index.ts: createEngine, which wires the entry points below to the ports;
 * - accept.ts: accepting a command in one transaction (preflight.ts's facts read before it), then its first steps;
 * - result.ts: an executor run's outcome; approve.ts: a second person's approval;
 * - reconcile.ts: every minute, the due operations and the outbox;
 * - advance.ts: moving an operation on (poll, claim, start, settle a failing one);
 * - change.ts: one change of an operation in one transaction, and writing its end;
 * - stuck.ts: past the deadline: stuck, confirmed idle and released, or abandoned;
 * - steps/: what each kind of step does in the world, one file per service.
 */
import { DEFAULT_TIMINGS, type EngineTimings, type OperationRecord } from '../domain/lifecycle/operations.js';
import { DEFAULT_POLICY } from '../domain/lifecycle/acceptance.js';
import { ControlPlaneError } from '../errors.js';
import type { AnyEnvelope, DeliveredMessage, Envelope } from '../events/index.js';
import { silentLogger } from '../log.js';
import type { VerifiedCaller } from '../ports.js';
import { acceptAndStart, type AcceptOutcome } from './accept.js';
import { advanceOperation, type AdvanceResult } from './advance.js';
import { approve, type ApprovalResult } from './approve.js';
import type { EngineDeps } from './deps.js';
import { reconcile, type ReconcileOptions, type ReconcileSummary } from './reconcile.js';
import { recordResult, recordRunNotice, type ResultOutcome, type RunNotice } from './result.js';
import { createStepRunners } from './steps/index.js';
import { releaseOperation } from './stuck.js';

export type { EngineDeps } from './deps.js';
export type { AuditRecord, LedgerEntry, OutboxEntry } from '../store/records.js';
export { gkeBackupIdFor, sqlBackupDescription } from './steps/index.js';
export type { AcceptOutcome } from './accept.js';
export type { ApprovalResult, Approver } from './approve.js';
export type { ReconcileOptions, ReconcileSummary } from './reconcile.js';
export type { ResultOutcome } from './result.js';

/** Wires the engine to its ports. */
export function createEngine(input: Omit<EngineDeps, 'timings' | 'log' | 'policy'> & Partial<Pick<EngineDeps, 'timings' | 'log' | 'policy'>>) {
  const timings = input.timings ?? DEFAULT_TIMINGS;
  const deps: EngineDeps = { ...input, timings, policy: { ...(input.policy ?? DEFAULT_POLICY), timings }, log: input.log ?? silentLogger };
  const runners = createStepRunners(deps);

  const advance = (operationId: string): Promise<AdvanceResult> => advanceOperation(deps, runners, operationId);

  return {
    deps,

    /** A lifecycle command (from `mi-lifecycle`, through the edge): accept in one transaction, publish, start the first steps. */
    accept: (envelope: AnyEnvelope, message: DeliveredMessage): Promise<AcceptOutcome> => acceptAndStart(deps, advance, envelope, message),

    /** An executor run's outcome (from `mi-executor-results`, through the edge): record it on its step, then move on. */
    recordResult: (envelope: Envelope<'executor.run-finished'>, message: DeliveredMessage): Promise<ResultOutcome> => recordResult(deps, advance, envelope, message),

    /** A notification that a run changed state (Cloud Build's): the executor is asked, its word recorded. */
    recordRunNotice: (notice: RunNotice, message: DeliveredMessage): Promise<ResultOutcome> => recordRunNotice(deps, advance, notice, message),

    advance,

    /** Every minute: advance due operations (flagging stuck ones), then republish what the outbox holds. */
    reconcile: (options: ReconcileOptions = {}): Promise<ReconcileSummary> => reconcile(deps, advance, options),

    /**
     * A second person approves an operation waiting for it (a prod delete). `approver` comes
     * from a verified identity; the requester cannot approve their own.
     */
    approve: (operationId: string, approver: VerifiedCaller): Promise<ApprovalResult> => approve(deps, advance, operationId, approver),

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

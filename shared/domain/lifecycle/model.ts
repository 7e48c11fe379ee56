/**
 * What an operation is: its types, its steps and their statuses, the stored record, the
 * engine's timings, and the ids derived from events and steps.
 */
import type { InstanceRecord, LifecycleCommandType, Origin } from '../../events/index.js';

export const OPERATION_TYPES = ['create', 'upgrade', 'restore', 'delete', 'disaster-recovery', 'backup', 'module-apply', 'remediate', 'restore-drill', 'check'] as const;
export type OperationType = (typeof OPERATION_TYPES)[number];

export const OPERATION_OF_COMMAND: Record<LifecycleCommandType, OperationType> = {
  'instance.create': 'create',
  'instance.upgrade': 'upgrade',
  'instance.restore': 'restore',
  'instance.delete': 'delete',
  'instance.disaster-recovery': 'disaster-recovery',
  'instance.backup': 'backup',
  'instance.module-apply': 'module-apply',
  'instance.remediate': 'remediate',
  'instance.restore-drill': 'restore-drill',
  'instance.check': 'check',
};

export const OPERATION_STATUSES = ['accepted', 'running', 'succeeded', 'failed', 'stuck', 'abandoned'] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];
export type StepStatus = 'pending' | 'starting' | 'running' | 'succeeded' | 'failed';
export type StepKind =
  | 'sql-backup'
  | 'gke-backup'
  | 'executor-run'
  | 'approval'
  | 'sql-configure-backups'
  | 'gke-ensure-backup-plan'
  | 'gke-ensure-backup-channel'
  | 'verify-backup-policy'
  | 'sql-restore-backup'
  | 'sql-clone'
  | 'gke-restore'
  | 'sql-final-backup-delete'
  | 'sql-deletion-protection'
  | 'sql-create-throwaway'
  | 'sql-restore-latest'
  | 'drill-verify'
  | 'sql-delete-throwaway'
  | 'drill-verdict'
  | 'health-check';

export type StepParams = Record<string, string | number | boolean>;

export interface Step {
  name: string;
  kind: StepKind;
  /** Steps that must have succeeded before this one may start. */
  after: string[];
  params: StepParams;
  /** Changes the application or its data: once started, a failure needs a person. */
  destructive: boolean;
  status: StepStatus;
  attempts: number;
  /** Who claimed the step and until when; a claim left by a crash expires. */
  claim: { token: string; until: string } | null;
  /** What the step started: backup run id, GKE backup name, executor run key. */
  handles: Record<string, string>;
  /**
   * An attempt's call may have taken effect and no service has yet said how it ended (a crash
   * after the claim, a timeout, an answer lost on the way back): until a service does, the
   * step is in flight, whatever its status says. Absent on documents written before it existed.
   */
  mayHaveStarted?: boolean;
  /** A retried step waits until then. */
  notBefore: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
}

export interface OperationRecord {
  id: string;
  type: OperationType;
  instanceId: string;
  status: OperationStatus;
  steps: Step[];
  params: StepParams;
  actor: string;
  /** Whose word the actor is (see ORIGINS); `unattributed` for commands sent before origins were recorded. */
  origin: Origin | 'unattributed';
  reason: string;
  causeEventId: string;
  createdAt: string;
  updatedAt: string;
  /** Past this, a running operation is stuck. */
  deadline: string;
  /** When the reconciler should look at it next. */
  nextRunAt: string;
  finishedAt: string | null;
  failure: { step: string; reason: string } | null;
  result: Record<string, string | number | boolean> | null;
  stuckSince: string | null;
  abandoned: { by: string; why: string; at: string } | null;
  /** For operations that need a second person: who asked, who approved. */
  approval: { requestedBy: string; approvedBy: string | null; approvedAt: string | null } | null;
  /** What the instance becomes when the operation succeeds (new version, region, resources...). */
  onSuccess: Partial<Pick<InstanceRecord, 'version' | 'region' | 'resources'>> & { status?: InstanceRecord['status'] };
  /** The rollout that started it (an upgrade of a rollout): its facts name it, so the outcome is recorded there. */
  rolloutId?: string;
}

export interface EngineTimings {
  /** How long a claimed step may stay in `starting` before another worker may take it. */
  claimMs: number;
  /** How often running steps are polled. */
  pollMs: number;
  /** First delay after a retryable failure; doubled per attempt up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** A step failing retryably this many times fails for good. */
  maxAttempts: number;
  /**
   * How long after a step's first claim the executor may still take its run up; past that the
   * runner refuses the request, so a run it does not know of will never start.
   */
  executorPickupMs: number;
  deadlineMs: Record<OperationType, number>;
}

export const DEFAULT_TIMINGS: EngineTimings = {
  // Longer than any function's timeout (topology.ts), so a live worker never holds an expired claim.
  claimMs: 10 * 60_000,
  pollMs: 30_000,
  backoffMs: 15_000,
  maxBackoffMs: 10 * 60_000,
  maxAttempts: 12,
  executorPickupMs: 15 * 60_000,
  deadlineMs: {
    create: 3 * 3_600_000,
    upgrade: 4 * 3_600_000,
    restore: 4 * 3_600_000,
    // A prod delete waits for a second person's approval.
    delete: 24 * 3_600_000,
    'disaster-recovery': 6 * 3_600_000,
    backup: 2 * 3_600_000,
    // One executor run (a Terraform plan or apply of one module).
    'module-apply': 2 * 3_600_000,
    remediate: 3_600_000,
    // Creating, restoring into and deleting a throwaway Cloud SQL instance.
    'restore-drill': 6 * 3_600_000,
    // Probes and reads only: the health gate's window and a few reads.
    check: 3_600_000,
  },
};

/** The operation an event creates has an id derived from the event id, so a second create collides. */
export function operationIdFor(eventId: string): string {
  return `op-${eventId}`;
}

/** The key an executor run or a backup carries: one per operation and step. */
export function sideEffectKey(operationId: string, stepName: string): string {
  return `${operationId}:${stepName}`;
}

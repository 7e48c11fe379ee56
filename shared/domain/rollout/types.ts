/**
 * The shape of a rollout (`rollouts/{id}`) and of its per-instance progress
 * (`rollouts/{id}/instances/{instanceId}`): plain data, shared by the planner, the functions
 * that tick and record, and `mi rollout`.
 */
import type { Environment, InstanceRecord, MaintenanceWindow } from '../../events/index.js';

export const WAVE_NAMES = ['dev', 'internal', 'canary', 'customers'] as const;
export type WaveName = (typeof WAVE_NAMES)[number];

/** Failures a wave tolerates: `max(min, floor(percent% of the wave))`; it halts when failures EXCEED it. */
export interface FailureBudget {
  percent: number;
  min: number;
}

export interface WaveSpec {
  name: WaveName;
  /** Upgrades of this wave in flight at once, never more. */
  maxInFlight: number;
  failureBudget: FailureBudget;
  /** How long the wave must have been complete before the next one starts. */
  soakMs: number;
  /** The wave waits for `mi rollout promote` before it starts. */
  manualGate: boolean;
  /** The canary's share of customer instances (at least one instance). */
  percent?: number;
}

export type WaveStatus = 'pending' | 'awaiting-gate' | 'active' | 'soaking' | 'done' | 'halted';

export interface WaveState {
  name: WaveName;
  status: WaveStatus;
  startedAt: string | null;
  completedAt: string | null;
  soakUntil: string | null;
  gatePassedAt: string | null;
  gatePassedBy: string | null;
  /** Failures an operator accepted when resuming a halted wave; only failures beyond them count. */
  forgivenFailures: number;
}

/** awaiting-approval: a workflow that changes prod, until a second person approves it. */
export type RolloutStatus = 'awaiting-approval' | 'running' | 'paused' | 'halted' | 'completed' | 'aborted';
export const ACTIVE_ROLLOUT_STATUSES: readonly RolloutStatus[] = ['awaiting-approval', 'running', 'paused', 'halted'];

/**
 * What a fan-out does to each member: a release upgrade (a rollout), one of the executor's
 * actions run across a filtered set of instances (a workflow), or the apply of a module a merge
 * changed (a module change).
 */
export type FanOutKind = 'upgrade' | 'workflow' | 'module-change';

/** A module change from a merge: one module at one commit, applied to the instances the merge changed (auto, or once a person confirmed each plan). */
export interface ModuleChangeTask {
  module: string;
  commit: string;
  repository: string;
  mode: 'auto' | 'confirm';
  /** The push that recorded it. */
  causeEventId: string;
}

/**
 * A workflow's actions: plan a module (read-only, its plan saved to the plans bucket), apply the
 * plans a plan workflow saved (changes the instances), take a backup (Cloud SQL and GKE), a
 * health check (healthy on its recorded version), and every read-only check (health and the
 * backup configuration against the policy).
 */
export const WORKFLOW_ACTIONS = ['plan', 'apply', 'backup', 'health', 'check'] as const;
export type WorkflowAction = (typeof WORKFLOW_ACTIONS)[number];

/** A workflow's work: the action, where, on which instances, and (for a change to prod) who approved it. */
export interface WorkflowTask {
  action: WorkflowAction;
  environment: Environment;
  /** The `--filter` terms as given (key=value, all must match). */
  filter: string[];
  /** plan and apply: the module, and the repository commit its builds run. */
  module?: string;
  commit?: string;
  /** apply: the plan workflow whose saved plans it applies (each member its own plan's digest). */
  plansOf?: string;
  /** A workflow that changes prod waits for a second person (not its starter) to approve it. */
  approval: { required: boolean; approvedBy: string | null; approvedAt: string | null; reason: string | null };
}

/** Counts of one wave as of the last tick (`mi rollout status` recounts them live). */
export interface WaveSummary {
  wave: WaveName;
  total: number;
  succeeded: number;
  failed: number;
  inFlight: number;
  skipped: number;
  /** Not started yet: pending, or waiting to try a busy instance again. */
  waiting: number;
  budget: number;
}

export interface RolloutHalt {
  wave: WaveName;
  reason: string;
  failed: string[];
  at: string;
}

/**
 * The calendar maintenance windows are read on, when not the real one: it runs `speedup` times
 * faster than the clock from `epochMs` (mi dev's, so a week of customers' windows opens within
 * minutes). Recorded on each fan-out as it starts, so its ticks read windows as its start did.
 */
export interface WindowClock {
  speedup: number;
  epochMs: number;
}

/** `rollouts/{id}`: a fan-out, a release upgrade (a rollout) or a workflow; both tick on the same planner. */
export interface RolloutRecord {
  id: string;
  /** Absent on rollouts recorded before workflows existed: an upgrade. */
  kind?: FanOutKind;
  /** An upgrade's version; a workflow's is empty (its work is `workflow`). */
  targetVersion: string;
  workflow?: WorkflowTask;
  moduleChange?: ModuleChangeTask;
  /** The deployment repository's commit every upgrade of the rollout runs (the branch head when it started); absent on older rollouts. */
  commit?: string;
  status: RolloutStatus;
  waves: WaveSpec[];
  waveStates: WaveState[];
  halt: RolloutHalt | null;
  actor: string;
  reason: string;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
  /** When the last tick started planning: a tick issued before it is already covered. */
  lastTickAt: string | null;
  /** When this document was last written (created, ticked, controlled): writes stay a second apart. */
  lastWriteAt: string | null;
  tickSeq: number;
  /** Bumped by every write (ticks and operators): a tick that finds it moved plans again. */
  revision: number;
  /** A busy instance is tried again this long after its upgrade was refused. */
  busyRetryMs: number;
  /**
   * Who is in it, recorded once when it started (one progress document per member): how many
   * members each wave has. The failure budgets and totals come from these.
   */
  membership: { recordedAt: string; sizes: Partial<Record<WaveName, number>> };
  summary: WaveSummary[];
  /** The calendar its members' windows are read on, when not the real one (mi dev's compressed weeks). */
  windowClock?: WindowClock;
}

/** pending: not started; waiting: started before and to be tried again (busy, or refused after a halt). */
export type ProgressState = 'pending' | 'in-flight' | 'succeeded' | 'failed' | 'skipped' | 'waiting';
/** States a member can still start from. */
export const OPEN_STATES: readonly ProgressState[] = ['pending', 'waiting'];

export interface InstanceProgress {
  instanceId: string;
  wave: WaveName;
  state: ProgressState;
  /** The event id of the upgrade command in flight: its facts carry `op-<eventId>`. */
  eventId: string | null;
  operationId: string | null;
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
  /**
   * When a pending or waiting member may next start: its next maintenance window's opening, or
   * a busy instance's retry time. A tick reads only members whose time has come, soonest first.
   * Null once it has started or ended.
   */
  eligibleAt: string | null;
  /** A customer's maintenance window, as it was when the rollout started (none for a workflow that changes nothing). */
  window?: MaintenanceWindow;
  /** An apply: the digest of the saved plan it applies (a plan workflow's, or the one a person confirmed). */
  planDigest?: string;
  /** A module change: the member's `moduleApplies` document, and who its apply acts for (who confirmed its plan, or merged it). */
  applyId?: string;
  actor?: string;
  detail: string | null;
  updatedAt: string;
}

/** A fleet-wide change freeze: nothing starts from `from` (inclusive) to `to` (exclusive). */
export interface ChangeFreeze {
  from: string;
  to: string;
  reason: string;
}

export interface Calendar {
  freezes: ChangeFreeze[];
}

/** What the planner reads of an instance. */
export type FleetInstance = Pick<InstanceRecord, 'id' | 'environment' | 'tier' | 'version' | 'status' | 'lease' | 'maintenanceWindow'> & Partial<Pick<InstanceRecord, 'slug' | 'region'>>;

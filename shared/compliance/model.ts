/**
 * The documents of compliance runs (`complianceRuns/{runId}`, `.../findings/{instanceId}`,
 * `.../plan/{page}`) and the dependencies of the compliance functions.
 */
import type { ControlResult } from '../domain/compliance/controls.js';
import type { RetentionPolicy } from '../domain/compliance/retention.js';
import type { Logger } from '../log.js';
import type { AccessPort, Clock, CloudSqlPort, EventBus, EvidenceBucketPort, FirestoreAdminPort, GkeBackupPort, IamPolicyPort, SchedulerPort, StateStore } from '../ports.js';
import type { Schedule } from '../topology.js';

/** The finding of the Cloud Scheduler jobs, beside the instances' (ids of instances start with a letter). */
export const SCHEDULES_FINDING_ID = '_schedules';

export type RunSchedule = 'verify-backups' | 'check-retention' | 'compliance-report' | 'restore-drill' | 'anchor-records' | 'drill-database';

/** Summary of a verify-backups run, derived from its findings (never counted up per check). */
export interface RunSummary {
  planned: number;
  /** Instance findings written. */
  checked: number;
  passed: number;
  failed: number;
  /** Planned, then deleted before its check: nothing to judge. */
  skipped: number;
  /** Planned without a finding: each is a failure of its own in the report. */
  notChecked: number;
  /** A finding without being planned: the plan did not hold every instance checked. */
  notPlanned: number;
  /** The first of each (the report names every one): a summary stays a small document. */
  notCheckedIds: string[];
  notPlannedIds: string[];
  /** Done, the plan covers every id, and the planned and checked id sets are equal. */
  complete: boolean;
  /** Why it is not complete, in words; [] when it is. */
  problems: string[];
  /** The schedules' finding: pass, fail, or missing. */
  schedules: 'pass' | 'fail' | 'missing';
  computedAt: string;
}

/** `complianceRuns/{runId}`. */
export interface ComplianceRun {
  runId: string;
  schedule: RunSchedule;
  trigger: 'schedule' | 'manual';
  /** The cron slot the run belongs to (a manual run: the slot it was asked in). */
  slotStart: string;
  slotEnd: string;
  /** The moment the run judges against: the trigger's publish time. */
  asOf: string;
  messageId: string;
  requestedBy: string;
  createdAt: string;
  /** planning: the fan-out (or the run's work) is under way; done: finished. */
  status: 'planning' | 'done';
  /** Who is doing the run's work, until when: a redelivery takes over only once it expired. */
  claim: { token: string; until: string } | null;
  /** Instances planned (fan-out): the ids of the verified plan, known once every page was published. */
  planned: number | null;
  doneAt: string | null;
  /** Written by the daily report from the findings. */
  summary: RunSummary | null;
  /** What the run did, for runs whose work is not findings (retention, drills, the report). */
  outcome: Record<string, unknown> | null;
  [key: string]: unknown;
}

/** `complianceRuns/{runId}/findings/{instanceId}`: one instance's verdict per control, with evidence. */
export interface Finding {
  runId: string;
  kind: 'instance' | 'schedules';
  instanceId: string | null;
  environment: string | null;
  tier: string | null;
  region: string | null;
  asOf: string;
  checkedAt: string;
  /** skipped: the instance was deleted after the run planned it. */
  outcome: 'pass' | 'fail' | 'skipped';
  /** Controls that failed (for array-contains queries). */
  failedControls: string[];
  /** Controls that could not be judged because what they depend on failed. */
  blockedControls: string[];
  controls: ControlResult[];
  /** The automatic remediation asked for, when drift was safe to fix. */
  remediation: { eventId: string; operationId: string; controls: string[] } | null;
  note: string | null;
  [key: string]: unknown;
}

/**
 * `complianceRuns/{runId}/plan/{page}`: a stretch of the instance id space and the ids the run
 * found in it. Written, awaited and read back before any check message goes out; marked once
 * every one of its messages was published, so a resumed run publishes only what may be missing.
 */
export interface PlanPage {
  /** The stretch covered: after `after` (exclusive; null from the first id) through `through` (inclusive; null to the last). */
  after: string | null;
  through: string | null;
  ids: string[];
  /** The claim token of the worker that wrote it, and when. */
  plannedBy: string;
  plannedAt: string;
  /** When every message of the page had been published; null until then. */
  publishedAt: string | null;
  [key: string]: unknown;
}

export interface ComplianceDeps {
  store: StateStore;
  bus: EventBus;
  cloudSql: CloudSqlPort;
  gkeBackup: GkeBackupPort;
  scheduler: SchedulerPort;
  clock: Clock;
  log: Logger;
  /** `projects/P/locations/L`: where the topology's Cloud Scheduler jobs live. */
  schedulerParent: string;
  /** The topology's schedules (default SCHEDULES). */
  schedules: readonly Schedule[];
  retention: RetentionPolicy;
  /** Instance ids per page of the fan-out query. */
  pageSize: number;
  /** How long a run's claim lasts: a redelivery after it resumes the work of a crashed one. */
  claimMs: number;
  /** Instances per weekly restore drill. */
  drillSampleSize: number;
  /** Ask for a remediation of drift that is safe to fix. */
  remediate: boolean;
  /** PAM and IAM policies, for the access review; without them that run fails, saying so. */
  access?: AccessReviewDeps;
  /** The control plane's project (named in each anchor). */
  project: string;
  /** The locked evidence bucket the daily anchors go to; without it anchor-records fails, saying so. */
  evidence?: EvidenceBucketPort;
  /** The Firestore Admin API of the control plane's project, for the drill of its own database; without it drill-database fails, saying so. */
  firestoreAdmin?: FirestoreAdminPort;
  /** How long one drill-database run follows a restore before it leaves it to the next tick (real time: the function's own). */
  drillFollowMs: number;
  /** How old a record must be before it is linked into its chain: older than any transaction that could still commit an earlier id. */
  sealSettleMs: number;
  /** How long one anchor-records run may link and anchor before it leaves the rest to the next. */
  sealBudgetMs: number;
}

/** What the access review needs: PAM and IAM policies read with the function's own account, and which entitlements exist. */
export interface AccessReviewDeps {
  pam: AccessPort;
  policies: IamPolicyPort;
  /** The entitlements' full names (`folders/…/locations/global/entitlements/prod-operator`). */
  entitlements: readonly string[];
}

/**
 * The steps of each operation type. Steps with no `after` run side by side; a step's params
 * override the operation's. `destructive` marks steps that change the application or its data:
 * once one has started, a failure leaves the instance for a person to look at.
 */
import { INSTANCE_CHECKS, type InstanceCheck } from '../../events/index.js';
import { DEFAULT_HEALTH_GATES, gateParams, type HealthGatePolicy } from './health-gates.js';
import type { Step, StepKind, StepParams } from './operations.js';

export interface StepSpec {
  name: string;
  kind: StepKind;
  after?: string[];
  params?: StepParams;
  destructive?: boolean;
}

/** A new pending step from its spec. */
export function newStep(spec: StepSpec): Step {
  return {
    name: spec.name,
    kind: spec.kind,
    after: spec.after ?? [],
    params: spec.params ?? {},
    destructive: spec.destructive ?? false,
    status: 'pending',
    attempts: 0,
    claim: null,
    handles: {},
    notBefore: null,
    startedAt: null,
    finishedAt: null,
    error: null,
  };
}

const SAFETY_BACKUPS: StepSpec[] = [
  { name: 'safety-sql-backup', kind: 'sql-backup' },
  { name: 'safety-gke-backup', kind: 'gke-backup' },
];
const AFTER_SAFETY = ['safety-sql-backup', 'safety-gke-backup'];

/**
 * Read-only checks, side by side: the health gate on the version the instance is recorded on,
 * and its backup configuration against the policy. No step is destructive.
 */
export function checkPlan(checks: readonly InstanceCheck[], version: string, gates: HealthGatePolicy = DEFAULT_HEALTH_GATES): StepSpec[] {
  const steps: Record<InstanceCheck, StepSpec> = {
    health: { name: 'health', kind: 'health-check', params: gateParams('check', gates, version) },
    'backup-policy': { name: 'backup-policy', kind: 'verify-backup-policy' },
  };
  return INSTANCE_CHECKS.filter((check) => checks.includes(check)).map((check) => steps[check]);
}

export function backupPlan(): StepSpec[] {
  return [
    { name: 'sql-backup', kind: 'sql-backup' },
    { name: 'gke-backup', kind: 'gke-backup' },
  ];
}

/**
 * Health gate, both backups, the rollout (the migration job, then the workloads), then the
 * instance must answer healthy on the target version. A rollback skips the gate before: the
 * instance it repairs is known not to pass it.
 */
export function upgradePlan(targetVersion: string, gates: HealthGatePolicy = DEFAULT_HEALTH_GATES, options: { rollback?: boolean } = {}): StepSpec[] {
  const before: StepSpec[] = options.rollback === true ? [] : [{ name: 'health-before', kind: 'health-check', params: gateParams('before', gates) }];
  const afterBefore = before.map((s) => s.name);
  return [
    ...before,
    ...backupPlan().map((s) => ({ ...s, after: afterBefore })),
    { name: 'upgrade-application', kind: 'executor-run', after: ['sql-backup', 'gke-backup'], params: { action: 'upgrade', version: targetVersion }, destructive: true },
    { name: 'health-after', kind: 'health-check', after: ['upgrade-application'], params: gateParams('after', gates, targetVersion) },
  ];
}

/**
 * One executor run of one infrastructure module at a merge commit: a plan (nothing changes) or
 * an apply. Not destructive: a module's infrastructure is not the application or its data, so a
 * failed apply leaves the instance active and the failure on the module apply for a person.
 */
export function moduleApplyPlan(input: { module: string; commit: string; action: 'plan' | 'apply'; applyId: string }, dataBearingModules: readonly string[] = DATA_BEARING_MODULES): StepSpec[] {
  const run: StepSpec = { name: input.action, kind: 'executor-run', params: { action: input.action, module: input.module, commit: input.commit, applyId: input.applyId } };
  // "A backup is always taken prior to a major operation": an apply that can touch the data
  // (the database, the cluster) takes a checkpoint of both first; a plan changes nothing.
  if (input.action !== 'apply' || !dataBearingModules.includes(input.module)) return [run];
  return [
    { name: 'checkpoint-sql-backup', kind: 'sql-backup' },
    { name: 'checkpoint-gke-backup', kind: 'gke-backup' },
    { ...run, after: ['checkpoint-sql-backup', 'checkpoint-gke-backup'] },
  ];
}

/** The modules whose apply can touch an instance's data: each apply of one takes both backups first. */
export const DATA_BEARING_MODULES: readonly string[] = ['infrastructure', 'database', 'cluster'];

/** Where an instance's final GKE backup will go: the backup channel its create makes. */
export interface BackupChannelTarget {
  name: string;
  destinationProject: string;
}

/**
 * Provision, configure both backups to policy, make the backup channel its final GKE backup
 * will need (to the central backup project), verify the configuration.
 */
export function createPlan(channel: BackupChannelTarget): StepSpec[] {
  return [
    { name: 'provision', kind: 'executor-run', params: { action: 'provision' }, destructive: true },
    { name: 'configure-sql-backups', kind: 'sql-configure-backups', after: ['provision'] },
    { name: 'create-gke-backup-plan', kind: 'gke-ensure-backup-plan', after: ['provision'] },
    { name: 'create-backup-channel', kind: 'gke-ensure-backup-channel', after: ['provision'], params: { backupChannel: channel.name, destinationProject: channel.destinationProject } },
    { name: 'verify-backup-policy', kind: 'verify-backup-policy', after: ['configure-sql-backups', 'create-gke-backup-plan', 'create-backup-channel'] },
  ];
}

/** A safety backup, then Cloud SQL and/or GKE restored in place, then the application verified. */
export function restoreFromBackupPlan(source: { cloudSqlBackupRunId?: string; gkeBackup?: string }): StepSpec[] {
  const restores: StepSpec[] = [];
  if (source.cloudSqlBackupRunId !== undefined) {
    restores.push({ name: 'restore-sql', kind: 'sql-restore-backup', after: AFTER_SAFETY, params: { backupRunId: source.cloudSqlBackupRunId }, destructive: true });
  }
  if (source.gkeBackup !== undefined) {
    restores.push({ name: 'restore-gke', kind: 'gke-restore', after: AFTER_SAFETY, params: { backup: source.gkeBackup }, destructive: true });
  }
  return [
    ...SAFETY_BACKUPS,
    ...restores,
    { name: 'verify-application', kind: 'executor-run', after: restores.map((r) => r.name), params: { action: 'verify' }, destructive: true },
  ];
}

/** A safety backup, a clone at the point in time (always a new instance), the switch-over, verification. */
export function restoreToPointInTimePlan(pointInTime: string, cloneName: string): StepSpec[] {
  return [
    ...SAFETY_BACKUPS,
    { name: 'clone-sql', kind: 'sql-clone', after: AFTER_SAFETY, params: { pointInTime, destinationInstanceName: cloneName } },
    { name: 'switch-over', kind: 'executor-run', after: ['clone-sql'], params: { action: 'switch-over', sqlInstance: cloneName }, destructive: true },
    { name: 'verify-application', kind: 'executor-run', after: ['switch-over'], params: { action: 'verify' }, destructive: true },
  ];
}

/**
 * Final backups first: a GKE backup in the central backup project (it outlives the instance's
 * project), then a Cloud SQL backup run. Only once both succeeded does deletion
 * protection go off, as a step of its own (Cloud SQL's switch; the stacks' `deletion_protection`
 * goes off in the destroy build). Then the delete, which takes the FINAL Cloud SQL backup that
 * outlives the instance (an ordinary run goes with it), then the destroy. A prod delete waits
 * for a second person's approval first.
 */
export function deletePlan(options: { needsApproval: boolean; finalPlan: { parent: string; backupPlanId: string; name: string }; finalRetentionDays: number }): StepSpec[] {
  const first: StepSpec[] = options.needsApproval ? [{ name: 'await-approval', kind: 'approval' }] : [];
  const afterApproval = options.needsApproval ? ['await-approval'] : [];
  return [
    ...first,
    {
      name: 'final-gke-backup-plan',
      kind: 'gke-ensure-backup-plan',
      after: afterApproval,
      params: { planParent: options.finalPlan.parent, planId: options.finalPlan.backupPlanId, backupPlan: options.finalPlan.name, scheduled: false },
    },
    { name: 'final-gke-backup', kind: 'gke-backup', after: ['final-gke-backup-plan'], params: { backupPlan: options.finalPlan.name } },
    // After the GKE one: what an approval starts (in the commands function) stays in the central backup project.
    { name: 'final-sql-backup', kind: 'sql-backup', after: ['final-gke-backup'] },
    { name: 'deletion-protection-off', kind: 'sql-deletion-protection', after: ['final-gke-backup', 'final-sql-backup'], params: { enabled: false }, destructive: true },
    {
      name: 'final-sql-backup-and-delete',
      kind: 'sql-final-backup-delete',
      after: ['deletion-protection-off'],
      params: { retentionDays: options.finalRetentionDays },
      destructive: true,
    },
    { name: 'destroy', kind: 'executor-run', after: ['final-sql-backup-and-delete'], params: { action: 'destroy' }, destructive: true },
  ];
}

/**
 * Rebuild in another region from the latest backups stored outside the failed one: provision,
 * restore Cloud SQL and GKE, switch over, then put the new instance under the backup policy.
 */
export function disasterRecoveryPlan(options: {
  target: { region: string; sqlInstance: string; gkeCluster: string; backupPlan: string };
  sqlBackupRunId: string;
  gkeBackup: string;
  /** The backup channel of the new region, for the rebuilt instance's final backup. */
  channel: BackupChannelTarget;
}): StepSpec[] {
  const { target } = options;
  return [
    {
      name: 'provision',
      kind: 'executor-run',
      params: { action: 'provision', region: target.region, sqlInstance: target.sqlInstance, gkeCluster: target.gkeCluster },
      destructive: true,
    },
    {
      name: 'restore-sql',
      kind: 'sql-restore-backup',
      after: ['provision'],
      params: { backupRunId: options.sqlBackupRunId, targetInstance: target.sqlInstance },
      destructive: true,
    },
    {
      name: 'restore-gke',
      kind: 'gke-restore',
      after: ['provision'],
      params: { backup: options.gkeBackup, cluster: target.gkeCluster },
      destructive: true,
    },
    {
      name: 'switch-over',
      kind: 'executor-run',
      after: ['restore-sql', 'restore-gke'],
      params: { action: 'switch-over', region: target.region, sqlInstance: target.sqlInstance, gkeCluster: target.gkeCluster },
      destructive: true,
    },
    { name: 'configure-sql-backups', kind: 'sql-configure-backups', after: ['switch-over'], params: { sqlInstance: target.sqlInstance } },
    {
      name: 'create-gke-backup-plan',
      kind: 'gke-ensure-backup-plan',
      after: ['switch-over'],
      params: { backupPlan: target.backupPlan, gkeCluster: target.gkeCluster },
    },
    { name: 'create-backup-channel', kind: 'gke-ensure-backup-channel', after: ['switch-over'], params: { backupChannel: options.channel.name, destinationProject: options.channel.destinationProject } },
    {
      name: 'verify-backup-policy',
      kind: 'verify-backup-policy',
      after: ['configure-sql-backups', 'create-gke-backup-plan', 'create-backup-channel'],
      params: { sqlInstance: target.sqlInstance, backupPlan: target.backupPlan, region: target.region },
    },
  ];
}

/** Controls whose drift the Cloud SQL backup configuration step fixes; the others are the GKE plan's. */
const SQL_REMEDIABLE = new Set(['sql.automated-backups', 'sql.point-in-time-recovery', 'sql.log-retention', 'sql.retained-backups']);

/**
 * An automatic remediation of drift a compliance run found safe to fix: patch the Cloud SQL
 * backup configuration and/or bring the GKE backup plan to policy, then verify the policy.
 */
export function remediatePlan(controls: readonly string[]): StepSpec[] {
  const fixes: StepSpec[] = [];
  if (controls.some((c) => SQL_REMEDIABLE.has(c))) fixes.push({ name: 'configure-sql-backups', kind: 'sql-configure-backups' });
  if (controls.some((c) => c.startsWith('gke.'))) fixes.push({ name: 'update-gke-backup-plan', kind: 'gke-ensure-backup-plan' });
  return [...fixes, { name: 'verify-backup-policy', kind: 'verify-backup-policy', after: fixes.map((f) => f.name) }];
}

/**
 * A restore drill: the latest Cloud SQL backup restored into a throwaway instance, the executor's
 * sanity check on it, the throwaway deleted, then the verdict. Restore and check record a failure
 * as evidence instead of stopping the operation, so the throwaway is deleted either way; the
 * verdict step fails the drill when either did.
 */
export function restoreDrillPlan(throwaway: string): StepSpec[] {
  return [
    { name: 'create-throwaway', kind: 'sql-create-throwaway', params: { throwaway } },
    { name: 'restore-latest-backup', kind: 'sql-restore-latest', after: ['create-throwaway'], params: { throwaway } },
    { name: 'sanity-check', kind: 'drill-verify', after: ['restore-latest-backup'], params: { action: 'verify', throwaway, drill: true } },
    { name: 'delete-throwaway', kind: 'sql-delete-throwaway', after: ['sanity-check'], params: { throwaway } },
    { name: 'verdict', kind: 'drill-verdict', after: ['delete-throwaway'] },
  ];
}

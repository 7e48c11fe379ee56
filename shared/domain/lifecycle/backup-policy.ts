/**
 * The backup policy every instance must meet (the SOC2 controls): Cloud SQL automated daily
 * backups with point-in-time recovery, 7 backups and 7 days of transaction logs kept; Backup for
 * GKE daily, kept 90 days, all namespaces with volume data and secrets, stored in a region other
 * than the instance's. Pure: the same check serves create, recovery and the compliance run.
 */
import type { GkeBackupPlan, GkeBackupPlanSpec, SqlBackupConfiguration, SqlInstance } from '../../ports.js';

export const SQL_BACKUP_POLICY: SqlBackupConfiguration = {
  enabled: true,
  startTime: '03:00',
  pointInTimeRecoveryEnabled: true,
  transactionLogRetentionDays: 7,
  backupRetentionSettings: { retentionUnit: 'COUNT', retainedBackups: 7 },
};

/** Daily at 03:00 in the plan's time zone (UTC). */
export const GKE_BACKUP_CRON = '0 3 * * *';
export const GKE_RETAIN_DAYS = 90;

/** The GKE backup plan an instance gets, for its cluster. */
export function gkeBackupPlanSpec(cluster: string): GkeBackupPlanSpec {
  return {
    cluster,
    cronSchedule: GKE_BACKUP_CRON,
    backupRetainDays: GKE_RETAIN_DAYS,
    allNamespaces: true,
    includeVolumeData: true,
    includeSecrets: true,
  };
}

/** The region a backup plan stores its backups in: the L of projects/P/locations/L/backupPlans/B. */
export function regionOfResource(name: string): string | undefined {
  return /\/locations\/([^/]+)\//.exec(name)?.[1];
}

/** Every way the Cloud SQL configuration differs from the policy, in words an auditor reads. */
export function sqlPolicyMismatches(instance: SqlInstance | undefined): string[] {
  if (instance === undefined) return ['the Cloud SQL instance does not exist'];
  const config = instance.settings.backupConfiguration;
  const problems: string[] = [];
  if (!config.enabled) problems.push('Cloud SQL automated backups are off');
  if (!config.pointInTimeRecoveryEnabled) problems.push('Cloud SQL point-in-time recovery is off');
  if (config.transactionLogRetentionDays < SQL_BACKUP_POLICY.transactionLogRetentionDays) {
    problems.push(`Cloud SQL keeps ${config.transactionLogRetentionDays} days of transaction logs, policy is ${SQL_BACKUP_POLICY.transactionLogRetentionDays}`);
  }
  if (config.backupRetentionSettings.retainedBackups < SQL_BACKUP_POLICY.backupRetentionSettings.retainedBackups) {
    problems.push(`Cloud SQL retains ${config.backupRetentionSettings.retainedBackups} backups, policy is ${SQL_BACKUP_POLICY.backupRetentionSettings.retainedBackups}`);
  }
  return problems;
}

/** Every way the GKE backup plan differs from the policy for an instance in `instanceRegion`. */
export function gkePolicyMismatches(plan: GkeBackupPlan | undefined, instanceRegion: string): string[] {
  if (plan === undefined) return ['the GKE backup plan does not exist'];
  const problems: string[] = [];
  if (plan.state !== 'READY' || plan.deactivated === true) problems.push(`the GKE backup plan is ${plan.deactivated === true ? 'deactivated' : plan.state}, not READY`);
  if (plan.backupSchedule?.paused === true) problems.push('the GKE backup schedule is paused');
  if (plan.backupSchedule?.cronSchedule !== GKE_BACKUP_CRON) problems.push(`the GKE backup schedule is ${JSON.stringify(plan.backupSchedule?.cronSchedule ?? null)}, policy is daily (${GKE_BACKUP_CRON})`);
  if ((plan.retentionPolicy?.backupRetainDays ?? 0) < GKE_RETAIN_DAYS) {
    problems.push(`GKE backups are kept ${plan.retentionPolicy?.backupRetainDays ?? 0} days, policy is ${GKE_RETAIN_DAYS}`);
  }
  if (plan.backupConfig?.allNamespaces !== true) problems.push('the GKE backup plan does not cover all namespaces');
  if (plan.backupConfig?.includeVolumeData !== true) problems.push('the GKE backup plan leaves out volume data');
  if (plan.backupConfig?.includeSecrets !== true) problems.push('the GKE backup plan leaves out secrets');
  if (regionOfResource(plan.name) === instanceRegion) problems.push(`GKE backups are stored in ${instanceRegion}, the instance's own region`);
  return problems;
}

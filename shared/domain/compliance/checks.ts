/**
 * The compliance checks as pure functions: what the APIs answered in, one verdict per control
 * out, each with its evidence. The per-instance check function gathers the answers and writes
 * what these return; nothing here reads or writes anything.
 */
import { CronExpressionParser } from 'cron-parser';
import { GKE_BACKUP_CRON, GKE_RETAIN_DAYS, regionOfResource, SQL_BACKUP_POLICY } from '../lifecycle/backup-policy.js';
import type { InstanceRecord } from '../../events/index.js';
import type { GkeBackup, GkeBackupPlan, SchedulerJob, SqlBackupRun, SqlInstance } from '../../ports.js';
import type { Schedule } from '../../topology.js';
import { MAX_BACKUP_AGE_HOURS, scheduleControl, type ControlResult, type EvidenceValue } from './controls.js';

const HOUR_MS = 3_600_000;

function hoursBetween(from: string, to: Date): number {
  return Math.round(((to.getTime() - Date.parse(from)) / HOUR_MS) * 10) / 10;
}

function result(control: string, status: ControlResult['status'], summary: string, source: string, evidence: Record<string, EvidenceValue>): ControlResult {
  return { control, status, summary, source, evidence };
}

/** What the Cloud SQL Admin API answered for one instance. */
export interface SqlFacts {
  project: string;
  instanceName: string;
  instance: SqlInstance | undefined;
  /** Backup runs listed (newest first), every page read. */
  runs: readonly SqlBackupRun[];
}

/** Cloud SQL: automated backups, PITR, 7 days of logs, 7 backups retained, a recent automated backup. */
export function checkCloudSql(facts: SqlFacts, asOf: Date): ControlResult[] {
  const instanceSource = `sqladmin instances.get projects/${facts.project}/instances/${facts.instanceName}`;
  const runsSource = `sqladmin backupRuns.list projects/${facts.project}/instances/${facts.instanceName}`;
  const ids = ['sql.automated-backups', 'sql.point-in-time-recovery', 'sql.log-retention', 'sql.retained-backups', 'sql.recent-backup'];
  if (facts.instance === undefined) {
    const [first, ...rest] = ids;
    return [
      result(first ?? '', 'fail', `the Cloud SQL instance ${facts.instanceName} does not exist`, instanceSource, { exists: false }),
      ...rest.map((id) => result(id, 'blocked', `not judged: the Cloud SQL instance ${facts.instanceName} does not exist`, instanceSource, { exists: false })),
    ];
  }
  const config = facts.instance.settings.backupConfiguration;
  const out: ControlResult[] = [];
  out.push(
    config.enabled
      ? result('sql.automated-backups', 'pass', 'automated backups are on', instanceSource, { 'settings.backupConfiguration.enabled': true, 'settings.backupConfiguration.startTime': config.startTime ?? null })
      : result('sql.automated-backups', 'fail', 'automated backups are off', instanceSource, { 'settings.backupConfiguration.enabled': false }),
  );
  out.push(
    result(
      'sql.point-in-time-recovery',
      config.pointInTimeRecoveryEnabled ? 'pass' : 'fail',
      config.pointInTimeRecoveryEnabled ? 'point-in-time recovery is on' : 'point-in-time recovery is off',
      instanceSource,
      { 'settings.backupConfiguration.pointInTimeRecoveryEnabled': config.pointInTimeRecoveryEnabled },
    ),
  );
  const logDays = config.transactionLogRetentionDays;
  out.push(
    result(
      'sql.log-retention',
      logDays >= SQL_BACKUP_POLICY.transactionLogRetentionDays ? 'pass' : 'fail',
      `${logDays} days of transaction logs kept (policy ${SQL_BACKUP_POLICY.transactionLogRetentionDays})`,
      instanceSource,
      { 'settings.backupConfiguration.transactionLogRetentionDays': logDays, policy: SQL_BACKUP_POLICY.transactionLogRetentionDays },
    ),
  );
  const kept = config.backupRetentionSettings.retainedBackups;
  const wanted = SQL_BACKUP_POLICY.backupRetentionSettings.retainedBackups;
  out.push(
    result('sql.retained-backups', kept >= wanted ? 'pass' : 'fail', `${kept} backups retained (policy ${wanted})`, instanceSource, {
      'settings.backupConfiguration.backupRetentionSettings.retentionUnit': config.backupRetentionSettings.retentionUnit,
      'settings.backupConfiguration.backupRetentionSettings.retainedBackups': kept,
      policy: wanted,
    }),
  );
  out.push(recentSqlBackup(facts.runs, asOf, runsSource));
  return out;
}

function recentSqlBackup(runs: readonly SqlBackupRun[], asOf: Date, source: string): ControlResult {
  let latest: SqlBackupRun | undefined;
  for (const run of runs) {
    if (run.type !== 'AUTOMATED' || run.status !== 'SUCCESSFUL' || run.endTime === undefined) continue;
    if (latest?.endTime === undefined || run.endTime > latest.endTime) latest = run;
  }
  if (latest?.endTime === undefined) {
    return result('sql.recent-backup', 'fail', `no successful automated backup among the ${runs.length} backup runs listed`, source, { runsListed: runs.length, latestBackupRunId: null });
  }
  const age = hoursBetween(latest.endTime, asOf);
  const evidence = { latestBackupRunId: latest.id, type: latest.type, status: latest.status, endTime: latest.endTime, ageHours: age, maxAgeHours: MAX_BACKUP_AGE_HOURS, runsListed: runs.length };
  return age < MAX_BACKUP_AGE_HOURS
    ? result('sql.recent-backup', 'pass', `the last successful automated backup ${latest.id} ended ${age} hours ago`, source, evidence)
    : result('sql.recent-backup', 'fail', `the last successful automated backup ${latest.id} ended ${age} hours ago (over ${MAX_BACKUP_AGE_HOURS})`, source, evidence);
}

/** What Backup for GKE answered for one instance. */
export interface GkeFacts {
  planName: string;
  plan: GkeBackupPlan | undefined;
  /** The plan's backups, every page read. */
  backups: readonly GkeBackup[];
}

/** GKE: the plan exists and is active, runs daily, keeps 90 days, covers everything, is stored elsewhere, and its last backup succeeded recently. */
export function checkGke(facts: GkeFacts, instanceRegion: string, asOf: Date): ControlResult[] {
  const planSource = `gkebackup backupPlans.get ${facts.planName}`;
  const dependent = ['gke.daily-schedule', 'gke.retention', 'gke.scope', 'gke.offsite', 'gke.recent-backup'];
  const plan = facts.plan;
  if (plan === undefined) {
    return [
      result('gke.plan-active', 'fail', `the backup plan ${facts.planName} does not exist`, planSource, { exists: false }),
      ...dependent.map((id) => result(id, 'blocked', 'not judged: the backup plan does not exist', planSource, { exists: false })),
    ];
  }
  const out: ControlResult[] = [];
  const active = plan.state === 'READY' && plan.deactivated !== true;
  out.push(
    result('gke.plan-active', active ? 'pass' : 'fail', active ? 'the backup plan is READY' : `the backup plan is ${plan.deactivated === true ? 'deactivated' : plan.state}`, planSource, {
      state: plan.state,
      deactivated: plan.deactivated ?? false,
    }),
  );
  const cron = plan.backupSchedule?.cronSchedule ?? null;
  const paused = plan.backupSchedule?.paused ?? false;
  const daily = cron === GKE_BACKUP_CRON && !paused;
  out.push(
    result('gke.daily-schedule', daily ? 'pass' : 'fail', daily ? `daily (${GKE_BACKUP_CRON})` : `schedule ${JSON.stringify(cron)}${paused ? ', paused' : ''}; policy is daily (${GKE_BACKUP_CRON})`, planSource, {
      'backupSchedule.cronSchedule': cron,
      'backupSchedule.paused': paused,
      policy: GKE_BACKUP_CRON,
    }),
  );
  const days = plan.retentionPolicy?.backupRetainDays ?? 0;
  out.push(
    result('gke.retention', days >= GKE_RETAIN_DAYS ? 'pass' : 'fail', `backups kept ${days} days (policy ${GKE_RETAIN_DAYS})`, planSource, {
      'retentionPolicy.backupRetainDays': days,
      policy: GKE_RETAIN_DAYS,
    }),
  );
  const scope = { allNamespaces: plan.backupConfig?.allNamespaces === true, includeVolumeData: plan.backupConfig?.includeVolumeData === true, includeSecrets: plan.backupConfig?.includeSecrets === true };
  const missing = Object.entries(scope).filter(([, on]) => !on).map(([name]) => name);
  out.push(
    result('gke.scope', missing.length === 0 ? 'pass' : 'fail', missing.length === 0 ? 'all namespaces, volume data and secrets' : `leaves out: ${missing.join(', ')}`, planSource, {
      'backupConfig.allNamespaces': scope.allNamespaces,
      'backupConfig.includeVolumeData': scope.includeVolumeData,
      'backupConfig.includeSecrets': scope.includeSecrets,
    }),
  );
  const stored = regionOfResource(plan.name) ?? null;
  const offsite = stored !== null && stored !== instanceRegion;
  out.push(
    result('gke.offsite', offsite ? 'pass' : 'fail', offsite ? `stored in ${stored}, instance in ${instanceRegion}` : `stored in ${stored ?? 'an unknown region'}, the instance's own region ${instanceRegion}`, planSource, {
      name: plan.name,
      backupRegion: stored,
      instanceRegion,
    }),
  );
  out.push(recentGkeBackup(facts, asOf));
  return out;
}

const UNFINISHED = new Set<GkeBackup['state']>(['CREATING', 'IN_PROGRESS', 'STATE_UNSPECIFIED']);

function recentGkeBackup(facts: GkeFacts, asOf: Date): ControlResult {
  const source = `gkebackup backups.list ${facts.planName}`;
  let latest: GkeBackup | undefined;
  for (const backup of facts.backups) {
    if (UNFINISHED.has(backup.state)) continue;
    if (latest === undefined || backup.createTime > latest.createTime) latest = backup;
  }
  if (latest === undefined) return result('gke.recent-backup', 'fail', `no finished backup among the ${facts.backups.length} listed`, source, { backupsListed: facts.backups.length, latestBackup: null });
  const evidence: Record<string, EvidenceValue> = {
    latestBackup: latest.name,
    state: latest.state,
    createTime: latest.createTime,
    completeTime: latest.completeTime ?? null,
    stateReason: latest.stateReason ?? null,
    backupsListed: facts.backups.length,
    maxAgeHours: MAX_BACKUP_AGE_HOURS,
  };
  if (latest.state !== 'SUCCEEDED') {
    return result('gke.recent-backup', 'fail', `the last backup ${latest.name} ended ${latest.state}${latest.stateReason ? `: ${latest.stateReason}` : ''}`, source, evidence);
  }
  const age = hoursBetween(latest.completeTime ?? latest.createTime, asOf);
  evidence.ageHours = age;
  return age < MAX_BACKUP_AGE_HOURS
    ? result('gke.recent-backup', 'pass', `the last backup succeeded ${age} hours ago`, source, evidence)
    : result('gke.recent-backup', 'fail', `the last backup succeeded ${age} hours ago (over ${MAX_BACKUP_AGE_HOURS})`, source, evidence);
}

/** A dev instance must not be past its expiry; prod has none. */
export function checkExpiry(instance: Pick<InstanceRecord, 'id' | 'environment' | 'expiresAt'>, asOf: Date): ControlResult {
  const source = `firestore instances/${instance.id}`;
  if (instance.environment !== 'dev') return result('dev.expiry', 'not-applicable', 'a prod instance does not expire', source, { environment: instance.environment });
  if (instance.expiresAt === undefined) return result('dev.expiry', 'fail', 'the dev instance has no expiry', source, { environment: 'dev', expiresAt: null });
  const overdue = hoursBetween(instance.expiresAt, asOf);
  return overdue > 0
    ? result('dev.expiry', 'fail', `expired ${overdue} hours ago (${instance.expiresAt})`, source, { environment: 'dev', expiresAt: instance.expiresAt, asOf: asOf.toISOString(), overdueHours: overdue })
    : result('dev.expiry', 'pass', `expires ${instance.expiresAt}`, source, { environment: 'dev', expiresAt: instance.expiresAt });
}

/** A cron as Cloud Scheduler keeps it, compared field by field: spacing is not a difference. */
export function normalizedCron(cron: string): string {
  return cron.trim().split(/\s+/).join(' ');
}

/** The canonical name of an IANA time zone (`UTC` and `Etc/UTC` are one zone), or undefined when it is not one. */
export function canonicalTimeZone(timeZone: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/**
 * The schedules themselves: every job of the topology exists, is enabled, fires on the cron and
 * in the time zone the topology requires (a job edited to run once a year still "ran recently"
 * by its own schedule), its last attempt succeeded, and it ran within the last two periods of
 * the topology's schedule (a job that silently stopped running is the worst failure: a paused
 * or broken check reports nothing). Every problem found is named, with the required and found values.
 */
export function checkSchedules(expected: readonly Schedule[], jobs: readonly SchedulerJob[], parent: string, asOf: Date): ControlResult[] {
  const source = `cloudscheduler jobs.list ${parent}`;
  return expected.map((schedule) => {
    const control = scheduleControl(schedule.name);
    const name = `${parent}/jobs/${schedule.name}`;
    const job = jobs.find((j) => j.name === name);
    if (job === undefined) return result(control, 'fail', `the job ${schedule.name} does not exist`, source, { name, exists: false });
    // Judged by the topology's schedule, never the job's own: an edited job cannot make itself look on time.
    const expression = CronExpressionParser.parse(schedule.cron, { currentDate: asOf, tz: schedule.timeZone });
    expression.prev();
    // Two periods back from now: a run missed once may be a retry in flight, twice is a job that stopped.
    const twoBack = expression.prev().toDate();
    const evidence: Record<string, EvidenceValue> = {
      name,
      state: job.state,
      schedule: job.schedule,
      'required.schedule': schedule.cron,
      timeZone: job.timeZone,
      'required.timeZone': schedule.timeZone,
      lastAttemptTime: job.lastAttemptTime ?? null,
      'status.code': job.status?.code ?? null,
      'status.message': job.status?.message ?? null,
      expectedSince: twoBack.toISOString(),
    };
    const problems: string[] = [];
    if (normalizedCron(job.schedule) !== normalizedCron(schedule.cron)) problems.push(`its cron is ${JSON.stringify(job.schedule)}, the topology requires ${JSON.stringify(schedule.cron)}`);
    const zone = canonicalTimeZone(job.timeZone);
    if (zone === undefined || zone !== canonicalTimeZone(schedule.timeZone)) problems.push(`its time zone is ${JSON.stringify(job.timeZone)}, the topology requires ${JSON.stringify(schedule.timeZone)}`);
    if (job.state !== 'ENABLED') problems.push(`it is ${job.state}`);
    if (job.lastAttemptTime === undefined) problems.push('it has never run');
    else if ((job.status?.code ?? 0) !== 0) problems.push(`its last run failed (code ${job.status?.code}: ${job.status?.message ?? 'no message'})`);
    if (job.lastAttemptTime !== undefined && Date.parse(job.lastAttemptTime) < twoBack.getTime()) {
      problems.push(`it last ran ${job.lastAttemptTime}, not since ${twoBack.toISOString()} as ${schedule.cron} (${schedule.timeZone}) requires`);
    }
    if (problems.length > 0) return result(control, 'fail', `the job ${schedule.name}: ${problems.join('; ')}`, source, evidence);
    return result(control, 'pass', `enabled on ${schedule.cron} (${schedule.timeZone}); last run ${job.lastAttemptTime ?? ''} succeeded`, source, evidence);
  });
}

/** A finding's outcome: any control failing or not judged fails it. */
export function outcomeOf(controls: readonly ControlResult[]): 'pass' | 'fail' {
  return controls.some((c) => c.status === 'fail' || c.status === 'blocked') ? 'fail' : 'pass';
}

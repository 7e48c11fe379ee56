/**
 * The controls a compliance run checks (the SOC2 controls of DESIGN.md), each named once with
 * the sentence an auditor reads, and whether drift from it is safe to fix automatically.
 */

export const INSTANCE_CONTROLS = {
  'sql.automated-backups': 'Cloud SQL automated daily backups are on',
  'sql.point-in-time-recovery': 'Cloud SQL point-in-time recovery is on',
  'sql.log-retention': 'Cloud SQL keeps 7 days of transaction logs',
  'sql.retained-backups': 'Cloud SQL retains 7 automated backups',
  'sql.recent-backup': 'The last successful automated Cloud SQL backup is less than 26 hours old',
  'gke.plan-active': 'A Backup for GKE plan exists and is active',
  'gke.daily-schedule': 'The GKE backup plan runs daily',
  'gke.retention': 'GKE backups are kept 90 days',
  'gke.scope': 'GKE backups include all namespaces, volume data and secrets',
  'gke.offsite': "GKE backups are stored outside the instance's region",
  'gke.recent-backup': 'The last GKE backup succeeded less than 26 hours ago',
  'dev.expiry': 'A dev instance is not past its expiry',
} as const;
export type InstanceControl = keyof typeof INSTANCE_CONTROLS;
export const INSTANCE_CONTROL_IDS = Object.keys(INSTANCE_CONTROLS) as InstanceControl[];

/** The access control, judged from PAM's grants and the access review's sweep. */
export const ACCESS_CONTROL = 'access.time-bound';
export const ACCESS_CONTROL_TEXT = 'No standing human access to prod: every grant justified, time-bound, and approved by someone other than its requester (break-glass reviewed afterwards)';

/** The recovery test: restores drilled from real backups, judged from the drills' operations. */
export const DRILL_CONTROL = 'drill.restore';
export const DRILL_CONTROL_TEXT = "Restores are tested: each week a sample of instances has its latest Cloud SQL backup restored into a throwaway instance, checked, and removed; every drill of the last 30 days succeeded";

/** The control of one Cloud Scheduler job: `schedule.<name>`. */
export function scheduleControl(name: string): string {
  return `schedule.${name}`;
}

/** What a control of the schedules says. */
export function scheduleControlText(name: string): string {
  return `The Cloud Scheduler job ${name} exists, is enabled, fires on the cron and in the time zone of the topology, and its last run succeeded`;
}

/** Every control's sentence, schedules included. */
export function controlText(control: string): string {
  if (control.startsWith('schedule.')) return scheduleControlText(control.slice('schedule.'.length));
  return (INSTANCE_CONTROLS as Record<string, string>)[control] ?? control;
}

/**
 * Drift that an automatic remediation may fix: backup settings and retention, which patching
 * to policy restores without touching the application or its data. A stale or failed backup,
 * backups stored in the wrong region, or an expired instance need a person (or their own
 * schedule): they are findings, not remediations.
 */
export const SAFE_TO_FIX: ReadonlySet<string> = new Set<InstanceControl>([
  'sql.automated-backups',
  'sql.point-in-time-recovery',
  'sql.log-retention',
  'sql.retained-backups',
  'gke.daily-schedule',
  'gke.retention',
  'gke.scope',
]);

/** Backups older than this fail the recency controls. */
export const MAX_BACKUP_AGE_HOURS = 26;

/** pass; fail; not-applicable (a prod instance has no expiry); blocked (cannot be judged: what it depends on failed). */
export type ControlStatus = 'pass' | 'fail' | 'not-applicable' | 'blocked';

export type EvidenceValue = string | number | boolean | null;

/** One control's verdict on one instance, with the evidence it rests on. */
export interface ControlResult {
  control: string;
  status: ControlStatus;
  /** One sentence: what was found. */
  summary: string;
  /** Where the evidence was read: the API call and resource. */
  source: string;
  /** The API fields read and their values, backup ids and times. */
  evidence: Record<string, EvidenceValue>;
}

/**
 * What an acceptance decision is given besides the command and the instance: the facts read
 * from the backup services beforehand, and the policy (timings, central backup project, dev
 * lifetime, final backup retention).
 */
import { DEFAULT_TIMINGS, type EngineTimings } from './model.js';
import { DEFAULT_HEALTH_GATES, type HealthGatePolicy } from './health-gates.js';
import { DATA_BEARING_MODULES } from './plans.js';

/** Facts read from Cloud SQL and Backup for GKE before the accepting transaction. */
export interface PreflightFacts {
  /** Point-in-time restore: the window Cloud SQL can restore to, or null when PITR is off. */
  recoveryWindow?: { earliest: string; latest: string } | null;
  /** Restore from named backups: what the services say of them (null: not found). */
  namedSqlRun?: { id: string; status: string; instance: string; endTime?: string } | null;
  namedGkeBackup?: { name: string; state: string; completeTime?: string } | null;
  /** Disaster recovery: the latest successful backups, or null when there are none. */
  latestSqlRun?: { id: string; endTime: string; location?: string } | null;
  latestGkeBackup?: { name: string; completeTime: string } | null;
}

export interface AcceptancePolicy {
  timings: EngineTimings;
  /** The project whose backup plans hold final backups of deleted instances. */
  centralBackupProject: string;
  /** How long a dev instance lives unless told otherwise. */
  devTtlHours: number;
  /** How long final backups are retained after deletion. */
  finalBackupRetentionDays: number;
  /** Modules whose apply takes a checkpoint backup of Cloud SQL and GKE first. */
  dataBearingModules: readonly string[];
  /** Where and how upgrades probe an instance's health, before the backups and after the rollout. */
  healthGates: HealthGatePolicy;
}

export const DEFAULT_POLICY: AcceptancePolicy = {
  timings: DEFAULT_TIMINGS,
  centralBackupProject: 'mi-central-backups',
  devTtlHours: 7 * 24,
  finalBackupRetentionDays: 365,
  dataBearingModules: DATA_BEARING_MODULES,
  healthGates: DEFAULT_HEALTH_GATES,
};

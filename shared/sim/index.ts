/**
 * The simulated fleet: Cloud SQL, Backup for GKE, the executor and Cloud Scheduler, in
 * process, implementing the same ports as the Google Cloud adapters.
 */
import type { InstanceResources } from '../events/index.js';
import type { Clock, SqlBackupConfiguration } from '../ports.js';
import { SimulatedCloudSql, type SqlDurations } from './cloud-sql.js';
import { SimulatedExecutor, type ExecutorSimOptions } from './executor.js';
import { SimulatedGkeBackup, type BackupPlanSeed, type GkeDurations } from './gke-backup.js';
import { resourceNamesFor } from './names.js';
import { SimulatedScheduler } from './scheduler.js';

export * from './clock.js';
export * from './cloud-sql.js';
export * from './executor.js';
export * from './faults.js';
export * from './gke-backup.js';
export * from './names.js';
export * from './scheduler.js';
export type { PageRequest, PagingRules, SortKey } from './paging.js';

export interface SimulatedFleetOptions {
  clock: Clock;
  sqlDurations?: Partial<SqlDurations>;
  gkeDurations?: Partial<GkeDurations>;
  executor?: Omit<ExecutorSimOptions, 'clock'>;
  /** Where the control plane's own scheduler jobs live; seeded from the topology when given. */
  scheduler?: { project: string; location: string };
}

export interface InstanceSeed {
  instanceId: string;
  region: string;
  sqlBackupConfiguration?: Partial<SqlBackupConfiguration>;
  backupPlan?: Omit<BackupPlanSeed, 'name' | 'cluster'>;
}

export interface SimulatedFleet {
  clock: Clock;
  cloudSql: SimulatedCloudSql;
  gkeBackup: SimulatedGkeBackup;
  executor: SimulatedExecutor;
  scheduler: SimulatedScheduler;
  /** Seeds one instance's Cloud SQL instance and GKE backup plan under the shared names. */
  seedInstance(seed: InstanceSeed): InstanceResources;
}

/** Builds the four simulators on one clock. */
export function createSimulatedFleet(options: SimulatedFleetOptions): SimulatedFleet {
  const { clock } = options;
  const cloudSql = new SimulatedCloudSql({ clock, ...(options.sqlDurations ? { durations: options.sqlDurations } : {}) });
  const gkeBackup = new SimulatedGkeBackup({ clock, ...(options.gkeDurations ? { durations: options.gkeDurations } : {}) });
  const executor = new SimulatedExecutor({ ...options.executor, clock });
  const scheduler = new SimulatedScheduler({ clock, ...options.scheduler });
  return {
    clock,
    cloudSql,
    gkeBackup,
    executor,
    scheduler,
    seedInstance(seed) {
      const names = resourceNamesFor(seed.instanceId, seed.region);
      cloudSql.addInstance({
        project: names.project,
        name: names.sqlInstance,
        region: seed.region,
        ...(seed.sqlBackupConfiguration ? { backupConfiguration: seed.sqlBackupConfiguration } : {}),
      });
      gkeBackup.addBackupPlan({ ...seed.backupPlan, name: names.backupPlan, cluster: names.gkeCluster });
      return names;
    },
  };
}

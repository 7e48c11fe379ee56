/**
 * The simulated fleet: Cloud SQL, Backup for GKE, the executor, Cloud Scheduler and the
 * instances' applications (their health endpoints), in
 * process, implementing the same ports as the Google Cloud adapters.
 */
import type { InstanceResources } from '../events/index.js';
import type { Clock, SqlBackupConfiguration } from '../ports.js';
import { SimulatedApplications, type ApplicationsSimOptions } from './applications.js';
import { SimulatedStorage } from './storage.js';
import { SimulatedCloudSql, type SqlDurations } from './cloud-sql.js';
import { SimulatedCloudBuild, type CloudBuildSimOptions } from './cloud-build.js';
import { SimulatedExecutor, type ExecutorEffects, type ExecutorSimOptions, type FinishedRun } from './executor.js';
import { SimulatedGkeBackup, type BackupPlanSeed, type GkeDurations } from './gke-backup.js';
import { backupChannelFor, projectIdFor, resourceNamesFor } from './names.js';
import { SimulatedScheduler } from './scheduler.js';
import type { SimState } from './state.js';

export * from './applications.js';
export * from './storage.js';
export * from './clock.js';
export * from './cloud-build.js';
export * from './cloud-sql.js';
export * from './executor.js';
export * from './faults.js';
export * from './gke-backup.js';
export * from './names.js';
export * from './scheduler.js';
export * from './state.js';
export type { PageRequest, PagingRules, SortKey } from './paging.js';

export interface SimulatedFleetOptions {
  clock: Clock;
  sqlDurations?: Partial<SqlDurations>;
  /** What Cloud SQL does with work sent to a busy instance (see SimulatedCloudSql). */
  sqlWhileBusy?: 'refuse' | 'queue';
  gkeDurations?: Partial<GkeDurations>;
  /** Its `effects`, when given, replace the fleet's own (see worldEffects). */
  executor?: Omit<ExecutorSimOptions, 'clock'>;
  /** The simulated Cloud Build's timings; its builds change the world as the executor's runs do. */
  cloudBuild?: Omit<CloudBuildSimOptions, 'clock' | 'effects'>;
  /** The applications' health endpoints: warm-up time and answer latency. */
  applications?: Omit<ApplicationsSimOptions, 'clock'>;
  /** Where the control plane's own scheduler jobs live; seeded from the topology when given. */
  scheduler?: { project: string; location: string };
  /**
   * Default true: succeeded executor runs change the simulated world (`provision` creates the
   * instance's Cloud SQL instance and GKE cluster, `destroy` deletes its project), as the real
   * runner's Terraform would. False leaves the world alone.
   */
  worldEffects?: boolean;
}

/** What the fleet did for one succeeded run, for tests (and `mi dev`) to read back. */
export interface AppliedEffect {
  runKey: string;
  action: FinishedRun['action'];
  /** What changed, such as `sql:mi-x/x-db created`; empty when the action changes nothing here. */
  changes: string[];
  /** Why part of the effect could not be applied (a parameter missing). */
  skipped?: string;
}

/** What deleteProject removed. */
export interface DeletedProject {
  sqlInstances: string[];
  backupPlans: string[];
  restorePlans: string[];
  clusters: string[];
}

/** The parts of a fleet's state, one per simulator (and the effects applied so far). */
export const FLEET_STATE_PARTS = ['cloudSql', 'gkeBackup', 'executor', 'cloudBuild', 'scheduler', 'applications', 'plans', 'effects'] as const;
export type FleetStatePart = (typeof FLEET_STATE_PARTS)[number];
export type FleetState = Partial<Record<FleetStatePart, SimState>>;

export interface InstanceSeed {
  instanceId: string;
  region: string;
  /** Cloud SQL's deletion protection (prod instances have it on, as their stacks set it). */
  deletionProtection?: boolean;
  sqlBackupConfiguration?: Partial<SqlBackupConfiguration>;
  backupPlan?: Omit<BackupPlanSeed, 'name' | 'cluster'>;
  /** The application already running (ready) on its domain, as an instance created earlier would. */
  application?: { domain: string; version: string };
  /**
   * The central backup project its create made a backup channel to (default mi-central-backups,
   * the control plane's default); null: none, as an instance created before channels existed.
   */
  centralBackupProject?: string | null;
}

export interface SimulatedFleet {
  clock: Clock;
  cloudSql: SimulatedCloudSql;
  gkeBackup: SimulatedGkeBackup;
  executor: SimulatedExecutor;
  /** Cloud Build, running the executor's builds (the deployed executor), with the same world effects. */
  cloudBuild: SimulatedCloudBuild;
  scheduler: SimulatedScheduler;
  /** The instances' applications: where the executor deployed them, answering their health gates. */
  applications: SimulatedApplications;
  /** The executor's plans buckets: Cloud Build's plan builds write there, the control plane reads plans for people. */
  plans: SimulatedStorage;
  /** Seeds one instance's Cloud SQL instance, GKE cluster and backup plan under the shared names. */
  seedInstance(seed: InstanceSeed): InstanceResources;
  /**
   * Deletes a GCP project as the real thing does: its Cloud SQL instances (ordinary backups
   * go, FINAL ones stay for their retention), GKE clusters, backup plans named under
   * projects/<project>/ with all their backups, and restore plans. Plans of other projects
   * (a central backup project) keep their backups.
   */
  deleteProject(project: string): DeletedProject;
  /** Effects applied for succeeded executor runs, oldest first. */
  appliedEffects(): AppliedEffect[];
  /** Every simulator's world as plain data, by simulator (state.ts): what a restart of the local stack must find. */
  exportState(): FleetState;
  /** Puts a world taken by exportState back (simulators the state does not name are left as they are). */
  importState(state: FleetState): void;
  /** Awaited after every call to any simulator's API, before its answer goes back (see FaultInjector.observe). */
  observe(observer: (() => Promise<void>) | undefined): void;
  /** The fleet as the services' ports: Cloud SQL, Backup for GKE, the executor, Cloud Scheduler. */
  ports(): { cloudSql: SimulatedCloudSql; gkeBackup: SimulatedGkeBackup; executor: SimulatedExecutor; scheduler: SimulatedScheduler; health: SimulatedApplications; plans: SimulatedStorage };
}

function stringParam(run: FinishedRun, name: string): string | undefined {
  const value = run.request.params[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Builds the four simulators on one clock. */
export function createSimulatedFleet(options: SimulatedFleetOptions): SimulatedFleet {
  const { clock } = options;
  const cloudSql = new SimulatedCloudSql({
    clock,
    ...(options.sqlDurations ? { durations: options.sqlDurations } : {}),
    ...(options.sqlWhileBusy ? { whileBusy: options.sqlWhileBusy } : {}),
  });
  const gkeBackup = new SimulatedGkeBackup({ clock, ...(options.gkeDurations ? { durations: options.gkeDurations } : {}) });
  const applications = new SimulatedApplications({ clock, ...options.applications });
  const applied: AppliedEffect[] = [];

  const deleteProject = (project: string): DeletedProject => {
    const sqlInstances = cloudSql.removeProject(project);
    return { sqlInstances, ...gkeBackup.removeProject(project) };
  };

  /** The application runs the run's version on the instance's domain (warming up first). */
  const deployApplication = (run: FinishedRun, effect: AppliedEffect): void => {
    const domain = stringParam(run, 'domain') ?? applications.domainOf(run.instanceId);
    const version = stringParam(run, 'version');
    if (domain === undefined || version === undefined) return;
    applications.deploy(domain, version, { instanceId: run.instanceId });
    effect.changes.push(`app:${domain} runs ${version}`);
  };

  /**
   * Names come from the run's params when it carries them (project, sqlInstance, gkeCluster,
   * region), else from the instance id by the shared naming rules of names.ts.
   */
  const worldEffects: ExecutorEffects = {
    onSucceeded(run) {
      const effect: AppliedEffect = { runKey: run.runKey, action: run.action, changes: [] };
      applied.push(effect);
      if (run.action === 'provision') {
        const region = stringParam(run, 'region');
        const derived = region === undefined || run.instanceId === '' ? undefined : resourceNamesFor(run.instanceId, region);
        const project = stringParam(run, 'project') ?? derived?.project;
        const sqlInstance = stringParam(run, 'sqlInstance') ?? derived?.sqlInstance;
        const cluster = stringParam(run, 'gkeCluster') ?? derived?.gkeCluster;
        if (project === undefined || sqlInstance === undefined || region === undefined) {
          effect.skipped = 'provision needs params.region (and the instance id, or params.project and params.sqlInstance) to create the Cloud SQL instance';
        } else if (!cloudSql.hasInstance(project, sqlInstance)) {
          const databaseVersion = stringParam(run, 'databaseVersion');
          const tier = stringParam(run, 'sqlTier');
          cloudSql.addInstance({
            project,
            name: sqlInstance,
            region,
            createTime: run.finishedAt,
            ...(databaseVersion === undefined ? {} : { databaseVersion }),
            ...(tier === undefined ? {} : { tier }),
          });
          effect.changes.push(`sql:${project}/${sqlInstance} created`);
        }
        if (cluster !== undefined && !gkeBackup.hasCluster(cluster)) {
          gkeBackup.addCluster(cluster);
          effect.changes.push(`cluster:${cluster} created`);
        }
        deployApplication(run, effect);
      } else if (run.action === 'upgrade') {
        deployApplication(run, effect);
      } else if (run.action === 'destroy') {
        const domain = stringParam(run, 'domain') ?? applications.domainOf(run.instanceId);
        if (domain !== undefined) applications.remove(domain);
        const project = stringParam(run, 'project') ?? (run.instanceId === '' ? undefined : projectIdFor(run.instanceId));
        if (project === undefined) {
          effect.skipped = 'destroy needs params.project (or the instance id) to know which project to delete';
        } else {
          const removed = deleteProject(project);
          effect.changes.push(`project:${project} deleted`, ...removed.sqlInstances.map((name) => `sql:${project}/${name} deleted`));
        }
      }
    },
  };

  const effects = options.executor?.effects ?? (options.worldEffects === false ? undefined : worldEffects);
  const executor = new SimulatedExecutor({ ...options.executor, clock, ...(effects === undefined ? {} : { effects }) });
  const plans = new SimulatedStorage(clock);
  const cloudBuild = new SimulatedCloudBuild({ ...options.cloudBuild, clock, plansBucket: plans, ...(effects === undefined ? {} : { effects }) });
  const scheduler = new SimulatedScheduler({ clock, ...options.scheduler });
  return {
    clock,
    cloudSql,
    gkeBackup,
    executor,
    cloudBuild,
    scheduler,
    applications,
    plans,
    seedInstance(seed) {
      const names = resourceNamesFor(seed.instanceId, seed.region);
      cloudSql.addInstance({
        project: names.project,
        name: names.sqlInstance,
        region: seed.region,
        ...(seed.sqlBackupConfiguration ? { backupConfiguration: seed.sqlBackupConfiguration } : {}),
        ...(seed.deletionProtection === undefined ? {} : { deletionProtection: seed.deletionProtection }),
      });
      gkeBackup.addCluster(names.gkeCluster);
      gkeBackup.addBackupPlan({ ...seed.backupPlan, name: names.backupPlan, cluster: names.gkeCluster });
      const central = seed.centralBackupProject === undefined ? 'mi-central-backups' : seed.centralBackupProject;
      if (central !== null) {
        const channel = backupChannelFor(names.project, seed.region, central);
        gkeBackup.addBackupChannel(channel.name, channel.destinationProject);
      }
      if (seed.application !== undefined) applications.deploy(seed.application.domain, seed.application.version, { ready: true, instanceId: seed.instanceId });
      return names;
    },
    deleteProject,
    appliedEffects: () => applied.map((effect) => structuredClone(effect)),
    exportState: () => ({
      cloudSql: cloudSql.exportState(),
      gkeBackup: gkeBackup.exportState(),
      executor: executor.exportState(),
      cloudBuild: cloudBuild.exportState(),
      scheduler: scheduler.exportState(),
      applications: applications.exportState(),
      plans: plans.exportState(),
      effects: { applied: structuredClone(applied) },
    }),
    importState(state) {
      if (state.cloudSql !== undefined) cloudSql.importState(state.cloudSql);
      if (state.gkeBackup !== undefined) gkeBackup.importState(state.gkeBackup);
      if (state.executor !== undefined) executor.importState(state.executor);
      if (state.cloudBuild !== undefined) cloudBuild.importState(state.cloudBuild);
      if (state.scheduler !== undefined) scheduler.importState(state.scheduler);
      if (state.applications !== undefined) applications.importState(state.applications);
      if (state.plans !== undefined) plans.importState(state.plans);
      const effects = state.effects?.applied;
      if (Array.isArray(effects)) applied.splice(0, applied.length, ...structuredClone(effects as AppliedEffect[]));
    },
    observe(observer) {
      for (const faults of [cloudSql.faults, gkeBackup.faults, executor.faults, cloudBuild.faults, scheduler.faults, plans.faults]) faults.observe(observer);
    },
    ports: () => ({ cloudSql, gkeBackup, executor, scheduler, health: applications, plans }),
  };
}

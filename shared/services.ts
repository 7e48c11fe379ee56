/**
 * The one composition root: every service of the control plane built from one set of ports and
 * one configuration. Production builds the Google Cloud ports (functions/production.ts), `mi dev`,
 * the benchmarks and the test fixtures the simulated ones, and all call this.
 */
import type { GitHubIdentities } from './domain/deployments/confirmers.js';
import { DEFAULT_POLICY, type AcceptancePolicy } from './domain/lifecycle/acceptance.js';
import type { EngineTimings } from './domain/lifecycle/operations.js';
import { createCompliance, type Compliance, type ComplianceDeps } from './compliance/index.js';
import { createDeploymentsConsumer, type DeploymentsConsumer } from './deployments/index.js';
import { checkWebhookConfig, type WebhookConfig, type WebhookDeps } from './webhook/index.js';
import { createEngine, type Engine } from './engine/index.js';
import { createCommands, type Commands } from './commands/index.js';
import { ControlPlaneError } from './errors.js';
import type { Logger } from './log.js';
import type { AccessPort, Clock, CloudSqlPort, DeploymentRepoPort, EventBus, ExecutorPort, GkeBackupPort, HealthPort, IamPolicyPort, IdentityPort, PlanFilesPort, SchedulerPort, StateStore } from './ports.js';
import { createRollouts, type RolloutDeps, type Rollouts } from './rollout/index.js';

/** What the commands function needs: who may call (verified), and the service that carries commands out. */
export interface CommandsFunctionDeps {
  identity: IdentityPort;
  /** The audiences ID tokens may carry: the function's URL, and gcloud's OAuth client for people's tokens. */
  audiences: readonly string[];
  /** Email domains allowed to call; any verified email when absent. */
  allowedDomains?: readonly string[];
  commands: Pick<Commands, 'run'>;
}

/** Everything the services need from the world. */
export interface Ports {
  store: StateStore;
  bus: EventBus;
  clock: Clock;
  log: Logger;
  cloudSql: CloudSqlPort;
  gkeBackup: GkeBackupPort;
  executor: ExecutorPort;
  /** The instances' health and version endpoints (the upgrade's gates). */
  health: HealthPort;
  scheduler: SchedulerPort;
  repo: DeploymentRepoPort;
  /** Verifies the Google ID tokens of the people calling the HTTP functions. */
  identity: IdentityPort;
  /** Privileged Access Manager, read with this process's own account (the access review). */
  access: AccessPort;
  iamPolicies: IamPolicyPort;
  /** The executor's plans buckets, read with this process's own account (`mi apply show` prints a saved plan). */
  plans: PlanFilesPort;
}

export interface ServicesConfig {
  timings?: EngineTimings;
  policy?: Partial<Omit<AcceptancePolicy, 'timings'>>;
  /** `projects/P/locations/L`: where the topology's Cloud Scheduler jobs live. */
  schedulerParent: string;
  /** The GitHub webhook's secret and repository: only where the webhook runs. */
  webhook?: WebhookConfig;
  /** Who may call the commands function. */
  callers: { audiences: readonly string[]; allowedDomains?: readonly string[] };
  autoApplyModules?: readonly string[];
  /** The deployment repository's protected default branch (write-backs go there); default main. */
  deploymentBranch?: string;
  /** GitHub logins → Google emails (MI_GITHUB_IDENTITIES): who pushed and wrote a merge, so that neither confirms it. */
  githubIdentities?: GitHubIdentities;
  /** The PAM entitlements' full names the access review reads (none: the review says access is not time-bound). */
  accessEntitlements?: readonly string[];
  compliance?: Partial<Pick<ComplianceDeps, 'drillSampleSize' | 'pageSize' | 'claimMs' | 'remediate' | 'schedules' | 'retention'>>;
  rollouts?: Partial<Pick<RolloutDeps, 'minTickIntervalMs' | 'sleep' | 'maxStartsPerTick'>>;
}

const NOT_GRANTED = Symbol('not granted');

/** Whether a port is one this process was not given (see notGranted). */
export function isGranted(port: object): boolean {
  return (port as { [NOT_GRANTED]?: boolean })[NOT_GRANTED] !== true;
}

/** A port this process is not given (a function holds no right to it): a call is a bug, said as such. */
export function notGranted<T extends object>(what: string, holder: string): T {
  return new Proxy({} as T, {
    get(_target, key) {
      if (key === NOT_GRANTED) return true;
      if (typeof key === 'symbol' || key === 'then') return undefined;
      return () => {
        throw new ControlPlaneError('permission-denied', `${holder} is given no access to ${what} (${String(key)})`, { retryable: false });
      };
    },
  });
}

/** Builds every service on the ports. Cheap: nothing is called until a service is used. */
export function createServices(ports: Ports, config: ServicesConfig) {
  const { store, bus, clock, log } = ports;
  // What the engine and the compliance checks both work on: the store, the bus, and the instances' backups.
  const onInstances = { store, bus, clock, log, cloudSql: ports.cloudSql, gkeBackup: ports.gkeBackup };
  const engine: Engine = createEngine({
    ...onInstances,
    executor: ports.executor,
    health: ports.health,
    ...(config.timings === undefined ? {} : { timings: config.timings }),
    ...(config.policy === undefined ? {} : { policy: { ...DEFAULT_POLICY, ...config.policy } }),
  });
  const rollouts: Rollouts = createRollouts({ store, bus, clock, log, ...config.rollouts });
  const compliance: Compliance = createCompliance({
    ...onInstances,
    scheduler: ports.scheduler,
    schedulerParent: config.schedulerParent,
    access: { pam: ports.access, policies: ports.iamPolicies, entitlements: config.accessEntitlements ?? [] },
    ...config.compliance,
  });
  const deployments: DeploymentsConsumer = createDeploymentsConsumer({
    store,
    bus,
    clock,
    log,
    repo: ports.repo,
    executor: ports.executor,
    fanOuts: rollouts,
    ...(config.autoApplyModules === undefined ? {} : { autoApplyModules: config.autoApplyModules }),
    ...(config.githubIdentities === undefined ? {} : { githubIdentities: config.githubIdentities }),
    ...(config.deploymentBranch === undefined ? {} : { branch: config.deploymentBranch }),
  });
  const webhookConfig = config.webhook === undefined ? undefined : checkWebhookConfig(config.webhook);
  const commands: CommandsFunctionDeps = {
    identity: ports.identity,
    ...config.callers,
    commands: createCommands({
      store,
      bus,
      clock,
      log,
      engine,
      deployments,
      rollouts,
      cloudSql: ports.cloudSql,
      gkeBackup: ports.gkeBackup,
      plans: ports.plans,
      // Commands whose builds run the repository are accepted at a commit of its protected branch.
      ...(isGranted(ports.repo) ? { repo: ports.repo, ...(config.deploymentBranch === undefined ? {} : { branch: config.deploymentBranch }) } : {}),
    }),
  };
  return {
    ports,
    engine,
    rollouts,
    compliance,
    deployments,
    /** The githubWebhook function's dependencies (its secret and repository). */
    webhook(): WebhookDeps {
      if (webhookConfig === undefined) throw new ControlPlaneError('failed-precondition', 'this process has no GitHub webhook secret: only githubWebhook is given one', { retryable: false });
      return { store, bus, clock, log, config: webhookConfig };
    },
    /** The commands function's: who may call, and what carries their commands out. */
    commands,
  };
}

export type Services = ReturnType<typeof createServices>;

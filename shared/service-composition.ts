/**
 * How the control plane's services are put together from one set of ports and one
 * configuration: the one composition root. It imports no service module itself: it is handed
 * their factories, all of them (shared/services.ts, for `mi dev`, the benchmarks and the tests),
 * or only those one function uses, loaded on its cold start (shared/services-for.ts).
 */
import type { GitHubIdentities } from './domain/deployments/confirmers.js';
import type { AcceptancePolicy } from './domain/lifecycle/acceptance-policy.js';
import type { EngineTimings } from './domain/lifecycle/operations.js';
import type { Compliance, ComplianceDeps, createCompliance } from './compliance/index.js';
import type { DeploymentsConsumer, createDeploymentsConsumer } from './deployments/index.js';
import type { WebhookConfig, WebhookDeps, checkWebhookConfig } from './webhook/index.js';
import type { Engine, createEngine } from './engine/index.js';
import type { Commands, createCommands } from './commands/index.js';
import type { Dashboard, createDashboard } from './dashboard/index.js';
import { ControlPlaneError } from './errors.js';
import type { Logger } from './log.js';
import type { AccessPort, Clock, CloudSqlPort, DeploymentRepoPort, EventBus, EvidenceBucketPort, ExecutorPort, FirestoreAdminPort, GkeBackupPort, HealthPort, IamPolicyPort, IdentityPort, PagerPort, PlanFilesPort, SchedulerPort, SlackPort, StateStore } from './ports.js';
import type { RolloutDeps, Rollouts, createRollouts } from './rollout/index.js';
import type { Notifier, createNotifier } from './notify/index.js';
import type { NotifyRoutes } from './domain/notify/routes.js';

/** What the commands function needs: who may call (verified), and the service that carries commands out. */
export interface CommandsFunctionDeps {
  identity: IdentityPort;
  /** The audiences ID tokens may carry: the function's URL, and gcloud's OAuth client for people's tokens. */
  audiences: readonly string[];
  /** Email domains allowed to call; any verified email when absent. */
  allowedDomains?: readonly string[];
  commands: Pick<Commands, 'run'>;
}

/** What the dashboard function needs: who may read it (verified, as for commands), and the pages. */
export interface DashboardFunctionDeps {
  identity: IdentityPort;
  /** The audiences ID tokens may carry: the dashboard's URL, and gcloud's OAuth client for people's tokens. */
  audiences: readonly string[];
  allowedDomains?: readonly string[];
  dashboard: Dashboard;
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
  /** The locked compliance evidence bucket: the daily anchors of the records' hash chains. */
  evidence: EvidenceBucketPort;
  /** The Firestore Admin API of the control plane's project: the restore drill of its own database. */
  firestoreAdmin: FirestoreAdminPort;
  /** Slack's incoming webhooks (the notifier's channels). */
  slack: SlackPort;
  /** OpsGenie's alerts API (the notifier's pages). */
  pager: PagerPort;
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
  /** Who may read the dashboard: the commands function's callers when absent (the local stack, whose tokens name one audience). */
  dashboardCallers?: { audiences: readonly string[]; allowedDomains?: readonly string[] };
  autoApplyModules?: readonly string[];
  /** The deployment repository's protected default branch (write-backs go there); default main. */
  deploymentBranch?: string;
  /** GitHub logins → Google emails (MI_GITHUB_IDENTITIES): who pushed and wrote a merge, so that neither confirms it. */
  githubIdentities?: GitHubIdentities;
  /** The PAM entitlements' full names the access review reads (none: the review says access is not time-bound). */
  accessEntitlements?: readonly string[];
  compliance?: Partial<Pick<ComplianceDeps, 'drillSampleSize' | 'pageSize' | 'claimMs' | 'remediate' | 'schedules' | 'retention' | 'sealSettleMs' | 'sealBudgetMs' | 'drillFollowMs'>>;
  rollouts?: Partial<Pick<RolloutDeps, 'minTickIntervalMs' | 'sleep' | 'maxStartsPerTick' | 'soakScale' | 'windowClock'>>;
  /** The notifier's routing table (MI_NOTIFY_ROUTES): only where the notifier runs. */
  notifyRoutes?: NotifyRoutes;
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

/** The services a process may build; each function builds those it serves (and what they stand on). */
export const SERVICE_PARTS = ['engine', 'rollouts', 'compliance', 'deployments', 'webhook', 'commands', 'notify', 'dashboard'] as const;
export type ServicePart = (typeof SERVICE_PARTS)[number];

/** The factories of the service modules (each part needs its own; commands and deployments stand on others). */
export interface ServiceModules {
  createEngine: typeof createEngine;
  defaultPolicy: AcceptancePolicy;
  createRollouts: typeof createRollouts;
  createCompliance: typeof createCompliance;
  createDeploymentsConsumer: typeof createDeploymentsConsumer;
  checkWebhookConfig: typeof checkWebhookConfig;
  createCommands: typeof createCommands;
  createNotifier: typeof createNotifier;
  createDashboard: typeof createDashboard;
}

/** A part this process did not build: using it is a bug of the process's wiring, said as such. */
function unbuilt<T extends object>(part: ServicePart, built: ReadonlySet<ServicePart>): T {
  return new Proxy({} as T, {
    get(_target, key) {
      if (typeof key === 'symbol' || key === 'then') return undefined;
      throw new ControlPlaneError('failed-precondition', `this process builds ${[...built].join(', ') || 'no service'}, not ${part} (${String(key)})`, { retryable: false });
    },
  });
}

/** What each part stands on: built with it. */
const FOUNDATIONS: Record<ServicePart, readonly ServicePart[]> = {
  engine: [],
  rollouts: [],
  compliance: [],
  webhook: [],
  deployments: ['rollouts'],
  commands: ['engine', 'deployments', 'rollouts'],
  notify: [],
  dashboard: [],
};

/** The parts named and every part they stand on. */
export function withFoundations(parts: Iterable<ServicePart>): Set<ServicePart> {
  const all = new Set<ServicePart>();
  const add = (part: ServicePart) => {
    if (all.has(part)) return;
    all.add(part);
    FOUNDATIONS[part].forEach(add);
  };
  for (const part of parts) add(part);
  return all;
}

/** A service that cannot work without configuration it was not given: any use says what is missing. */
function refusing<T extends object>(why: string): T {
  return new Proxy({} as T, {
    get(_target, key) {
      if (typeof key === 'symbol' || key === 'then') return undefined;
      throw new ControlPlaneError('failed-precondition', why, { retryable: false });
    },
  });
}

function need<T>(value: T | undefined, part: string): T {
  if (value === undefined) throw new Error(`building ${part} needs its module`);
  return value;
}

/**
 * Builds the services named (and those they stand on) on the ports, from the factories given.
 * Cheap: nothing is called until a service is used.
 */
export function composeServices(ports: Ports, config: ServicesConfig, modules: Partial<ServiceModules>, parts: ReadonlySet<ServicePart> = new Set(SERVICE_PARTS)) {
  const { store, bus, clock, log } = ports;
  const built = withFoundations(parts);
  // What the engine and the compliance checks both work on: the store, the bus, and the instances' backups.
  const onInstances = { store, bus, clock, log, cloudSql: ports.cloudSql, gkeBackup: ports.gkeBackup };
  const engine: Engine = built.has('engine')
    ? need(modules.createEngine, 'the engine')({
        ...onInstances,
        executor: ports.executor,
        health: ports.health,
        ...(config.timings === undefined ? {} : { timings: config.timings }),
        ...(config.policy === undefined ? {} : { policy: { ...need(modules.defaultPolicy, 'the engine'), ...config.policy } }),
      })
    : unbuilt('engine', built);
  const rollouts: Rollouts = built.has('rollouts') ? need(modules.createRollouts, 'the rollouts')({ store, bus, clock, log, ...config.rollouts }) : unbuilt('rollouts', built);
  const compliance: Compliance = built.has('compliance')
    ? need(modules.createCompliance, 'compliance')({
        ...onInstances,
        scheduler: ports.scheduler,
        evidence: ports.evidence,
        firestoreAdmin: ports.firestoreAdmin,
        schedulerParent: config.schedulerParent,
        access: { pam: ports.access, policies: ports.iamPolicies, entitlements: config.accessEntitlements ?? [] },
        ...config.compliance,
      })
    : unbuilt('compliance', built);
  const deployments: DeploymentsConsumer = built.has('deployments')
    ? need(modules.createDeploymentsConsumer, 'the deployments consumer')({
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
      })
    : unbuilt('deployments', built);
  const webhookConfig = config.webhook === undefined || !built.has('webhook') ? undefined : need(modules.checkWebhookConfig, 'the webhook')(config.webhook);
  const commands: CommandsFunctionDeps = built.has('commands')
    ? {
        identity: ports.identity,
        ...config.callers,
        commands: need(modules.createCommands, 'the commands')({
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
      }
    : unbuilt('commands', built);
  const notifier: Notifier = !built.has('notify')
    ? unbuilt('notify', built)
    : config.notifyRoutes === undefined
      ? refusing<Notifier>('the notifier has no routing table (MI_NOTIFY_ROUTES): nobody would be told')
      : need(modules.createNotifier, 'the notifier')({ store, clock, log, slack: ports.slack, pager: ports.pager, routes: config.notifyRoutes });
  const dashboard: DashboardFunctionDeps = built.has('dashboard')
    ? { identity: ports.identity, ...(config.dashboardCallers ?? config.callers), dashboard: need(modules.createDashboard, 'the dashboard')({ store, clock }) }
    : unbuilt('dashboard', built);
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
    notifier,
    /** The dashboard function's: who may read it, and its pages. */
    dashboard,
  };
}

export type Services = ReturnType<typeof composeServices>;

/**
 * The services every local function uses, built by the one composition root on the Firestore
 * and Pub/Sub adapters and the simulated fleet, with local timings; and the pieces only local
 * mode needs (log lines for a terminal, the executor on its topics).
 */
import type { LocalNotifications } from './notifications.js';
import type { LocalAccess } from './access.js';
import { parseGitHubIdentities } from '../../shared/domain/deployments/confirmers.js';
import { createPamClient } from '../../shared/gcp/pam.js';
import { createIamPolicyReader } from '../../shared/gcp/iam-policies.js';
import { DEFAULT_TIMINGS, type EngineTimings } from '../../shared/domain/lifecycle/operations.js';
import { describeError } from '../../shared/errors.js';
import type { BuildSettings } from '../../shared/domain/executor/index.js';
import { createCloudBuildExecutor } from '../../shared/gcp/cloud-build.js';
import { createExecutorAdapter } from '../../shared/gcp/executor.js';
import { createHttpsHealthProbe } from '../../shared/gcp/https-health.js';
import { createPlanFilesReader } from '../../shared/gcp/plan-files.js';
import { createEvidenceBucket } from '../../shared/gcp/evidence-bucket.js';
import { createFirestoreAdmin } from '../../shared/gcp/firestore-admin.js';
import { createFirestore, createFirestoreStore } from '../../shared/gcp/firestore-store.js';
import { evidenceBucketName } from '../../shared/domain/compliance/anchor.js';
import { DEFAULT_HEALTH_GATES, type HealthGatePolicy } from '../../shared/domain/lifecycle/health-gates.js';
import { localIdentity, type LocalSigner } from '../../shared/identity/index.js';
import type { Logger } from '../../shared/log.js';
import { systemClock, type EventBus, type ExecutorPort, type OnceOutbox, type StateStore } from '../../shared/ports.js';
import type { SimulatedExecutor, SimulatedFleet } from '../../shared/sim/index.js';
import { createServices, type Services } from '../../shared/services.js';
import { useServices } from '../../functions/wiring.js';
import type { LocalDeployments } from './deployments.js';
import { LOCAL_SEAL_SETTLE_MS, LOCAL_SOAK_SCALE, LOCAL_WINDOW_CLOCK } from './local-time.js';

/**
 * Engine timings for local mode: steps polled every 2 s (the cloud polls every 30 s) and
 * claims that expire after 30 s, so a crashed step is taken up again while someone watches.
 */
export const LOCAL_TIMINGS: EngineTimings = {
  ...DEFAULT_TIMINGS,
  claimMs: 30_000,
  pollMs: 2_000,
  backoffMs: 2_000,
  maxBackoffMs: 30_000,
};

/** Engine log lines for a person watching a terminal, rather than Cloud Logging's JSON. */
export function lineLogger(write: (line: string) => void): Logger {
  const fields = (f: Record<string, unknown> | undefined) => (f === undefined || Object.keys(f).length === 0 ? '' : ` ${JSON.stringify(f)}`);
  return {
    info: (message, f) => write(`engine: ${message}${fields(f)}`),
    warn: (message, f) => write(`engine: warning: ${message}${fields(f)}`),
    error: (message, error, f) => write(`engine: error: ${message}: ${describeError(error)}${fields(f)}`),
  };
}

/**
 * The executor as the control plane sees it locally: runs are asked for on the real
 * `mi-executor-requests` topic (the production adapter's publish), where the simulated runner
 * listens; a run's status, which the real runner serves over HTTP, is read from the
 * simulator in process.
 */
export function executorOnTopics(outbox: OnceOutbox, simulated: Pick<SimulatedExecutor, 'getRunStatus'>): ExecutorPort {
  const adapter = createExecutorAdapter({ outbox, statusUrl: 'http://127.0.0.1/unused-in-local-mode' });
  return {
    requestRun: (request) => adapter.requestRun(request),
    getRunStatus: (runKey) => simulated.getRunStatus(runKey),
  };
}

export interface LocalServicesInput {
  store: StateStore;
  bus: EventBus;
  fleet: SimulatedFleet;
  log: Logger;
  deployments: LocalDeployments;
  signer: LocalSigner;
  schedulerParent: string;
  commandsUrl: string;
  /** The simulated PAM, read by the access review over HTTP as the complianceSchedule function's account. */
  access: LocalAccess;
  /** Where the simulated Cloud Build answers: the executor is the production Cloud Build adapter, pointed there. */
  cloudBuildUrl: string;
  /** The MI_HEALTH_URL template of the simulated applications: the gates use the production probe, pointed there. */
  healthUrl: string;
  /** Where the simulated plans buckets answer: `mi apply show` reads a saved plan with the production reader, pointed there. */
  plansUrl: string;
  /** Where the simulated Firestore Admin API answers: the drill of the control plane's database uses the production adapter, pointed there. */
  firestoreAdminUrl: string;
  /** The notifier's routes and the production Slack and OpsGenie adapters, pointed at the local stand-ins. */
  notifications: Pick<LocalNotifications, 'routes' | 'slack' | 'pager'>;
}

/** The health gates locally: the same gates, probing every 2 s with half a minute for the rollout to settle (the applications warm up in 3 s). */
export function localHealthGates(urlTemplate: string): HealthGatePolicy {
  return { ...DEFAULT_HEALTH_GATES, urlTemplate, intervalSeconds: 2, timeoutSeconds: 3, before: { consecutive: 1, windowSeconds: 20 }, after: { consecutive: 3, windowSeconds: 30 } };
}

/** What the local builds run as and on (nothing is cloned: the simulated Cloud Build only records the steps). */
export function localBuildSettings(projectId: string, repository: string): BuildSettings {
  return {
    project: projectId,
    repository,
    branch: 'main',
    tokenSecret: `projects/${projectId}/secrets/mi-github-token/versions/latest`,
    appImage: `us-docker.pkg.dev/${projectId}/app/server`,
    oncallGroup: 'oncall@example.com',
  };
}

/**
 * Builds the services on the simulated fleet (the jobs compliance checks are the simulated
 * Cloud Scheduler's) and hands them to every function. Local identity: the production verifier
 * on the signer's key; the audience is the commands function's URL, as a service account's token in the cloud.
 */
export function useLocalServices(input: LocalServicesInput): Services {
  const { store, bus, fleet, log } = input;
  const project = input.schedulerParent.split('/')[1] ?? 'mi-local';
  const reviewerToken = () => input.signer.sign({ email: 'mi-fn-compliance-schedule@local.iam.gserviceaccount.com', audience: input.access.url, expiresInSeconds: 300 });
  const services = createServices(
    {
      store,
      bus,
      clock: systemClock,
      log,
      cloudSql: fleet.cloudSql,
      gkeBackup: fleet.gkeBackup,
      executor: createCloudBuildExecutor({
        parent: input.schedulerParent,
        endpoint: { url: input.cloudBuildUrl },
        clock: systemClock,
        settings: localBuildSettings(project, input.deployments.webhook.repository),
      }),
      health: createHttpsHealthProbe(),
      scheduler: fleet.scheduler,
      repo: input.deployments.repo,
      identity: localIdentity(input.signer),
      access: createPamClient({ endpoint: input.access.url, token: reviewerToken }),
      iamPolicies: createIamPolicyReader({ endpoint: input.access.url, token: reviewerToken }),
      plans: createPlanFilesReader({ endpoint: input.plansUrl, token: () => Promise.resolve('local') }),
      firestoreAdmin: createFirestoreAdmin({
        project,
        endpoint: input.firestoreAdminUrl,
        token: () => Promise.resolve('local'),
        open: (databaseId) => createFirestoreStore({ firestore: createFirestore(project, { databaseId }) }),
      }),
      evidence: createEvidenceBucket({ endpoint: input.plansUrl, bucket: evidenceBucketName(project), token: () => Promise.resolve('local') }),
      slack: input.notifications.slack,
      pager: input.notifications.pager,
    },
    {
      accessEntitlements: input.access.entitlements,
      notifyRoutes: input.notifications.routes,
      // Who pushes to the local deployment repository, as in the cloud: unmapped, their merges wait.
      githubIdentities: parseGitHubIdentities(process.env.MI_GITHUB_IDENTITIES),
      timings: LOCAL_TIMINGS,
      // No function here runs for minutes: records settle in a minute, so today's are linked while you watch.
      compliance: { sealSettleMs: LOCAL_SEAL_SETTLE_MS },
      // Soaks and customers' windows on the local clock (cli/dev/local-time.ts): a full rollout in minutes.
      rollouts: { soakScale: LOCAL_SOAK_SCALE, windowClock: LOCAL_WINDOW_CLOCK },
      policy: { healthGates: localHealthGates(input.healthUrl) },
      schedulerParent: input.schedulerParent,
      webhook: input.deployments.webhook,
      callers: { audiences: [input.commandsUrl] },
    },
  );
  useServices(services);
  return services;
}

/**
 * The services in the cloud: the Google Cloud ports, built once per function instance from the
 * environment its deployment sets (shared/environment.ts), checked before anything runs. Each
 * port loads its client on first use, so a function pays only for the clients it calls; a port a
 * function holds no right to is not built at all, and a call to it says so.
 */
import { parseGitHubIdentities } from '../shared/domain/deployments/confirmers.js';
import { parseNotifyRoutes } from '../shared/domain/notify/routes.js';
import { DEFAULT_HEALTH_GATES } from '../shared/domain/lifecycle/health-gates.js';
import { FUNCTIONS, type FunctionUse } from '../shared/topology.js';
import { readEnvironment } from '../shared/environment.js';
import { jsonLogger } from '../shared/log.js';
import { systemClock } from '../shared/ports.js';
import { notGranted, type Ports, type Services } from '../shared/service-composition.js';
import { createServicesFor } from '../shared/services-for.js';
import { createOnceOutbox } from '../shared/store/outbox.js';

/** A port whose client loads on its first call (every port method is asynchronous). */
function lazyPort<T extends object>(load: () => Promise<T>): T {
  let loaded: Promise<T> | undefined;
  return new Proxy({} as T, {
    get(_target, key) {
      if (typeof key === 'symbol' || key === 'then') return undefined;
      return async (...args: unknown[]) => {
        loaded ??= load().catch((error: unknown) => {
          loaded = undefined;
          throw error;
        });
        const port = (await loaded) as Record<string, (...a: unknown[]) => unknown>;
        const method = port[key];
        if (typeof method !== 'function') throw new Error(`the port has no method ${key}`);
        return method.apply(port, args);
      };
    },
  });
}

/** The function's own account's OAuth access token (the metadata server), for the REST APIs without a Node client. */
async function functionAccessToken(): Promise<() => Promise<string>> {
  const { GoogleAuth } = await import('google-auth-library');
  const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
  return async () => (await auth.getAccessToken()) ?? '';
}

/** The function this instance serves: Cloud Functions sets FUNCTION_TARGET to its entry point. */
function functionOf(env: NodeJS.ProcessEnv): (typeof FUNCTIONS)[number] {
  const target = env.FUNCTION_TARGET;
  const fn = FUNCTIONS.find((f) => f.name === target);
  if (fn === undefined) throw new Error(`cannot start: FUNCTION_TARGET is ${target === undefined ? 'not set' : `"${target}", not a function of the topology`}`);
  return fn;
}

/** The adapters under shared/ a function may load (each a lazily imported module); a bundle holds no other. */
export const ADAPTER_MODULES = {
  cloudSql: '../shared/gcp/cloud-sql.js',
  gkeBackup: '../shared/gcp/gke-backup.js',
  scheduler: '../shared/gcp/scheduler.js',
  executor: '../shared/gcp/executor.js',
  cloudBuild: '../shared/gcp/cloud-build.js',
  health: '../shared/gcp/https-health.js',
  repo: '../shared/gcp/github-repo.js',
  identity: '../shared/identity/index.js',
  access: '../shared/gcp/pam.js',
  iamPolicies: '../shared/gcp/iam-policies.js',
  plans: '../shared/gcp/plan-files.js',
  evidence: '../shared/gcp/evidence-bucket.js',
  firestoreAdmin: '../shared/gcp/firestore-admin.js',
  slack: '../shared/gcp/slack-webhook.js',
  pager: '../shared/gcp/opsgenie.js',
} as const;
export type Adapter = keyof typeof ADAPTER_MODULES;

/** Which adapters a function's rights let it build: the rest answer "not granted" and are not bundled with it. */
export function adaptersGrantedTo(fn: (typeof FUNCTIONS)[number]): ReadonlySet<Adapter> {
  const uses: FunctionUse = fn.uses;
  const granted = new Set<Adapter>();
  if (uses.cloudSql !== undefined) granted.add('cloudSql');
  if (uses.gkeBackup !== undefined || uses.centralBackups !== undefined) granted.add('gkeBackup');
  if (uses.schedulerJobs !== undefined) granted.add('scheduler');
  // Cloud Build unless an external runner is configured (the Pub/Sub runner contract).
  if (uses.builds !== undefined) granted.add('executor').add('cloudBuild');
  // Plain HTTPS to the instances' own endpoints: no Google client, no role.
  if (uses.builds === 'run') granted.add('health');
  if (uses.secrets.includes('githubTokenSecret')) granted.add('repo');
  if (fn.trigger.kind === 'http' && !fn.trigger.allowUnauthenticated) granted.add('identity');
  if (uses.accessReview !== undefined) granted.add('access').add('iamPolicies');
  if (uses.plans !== undefined) granted.add('plans');
  if (uses.evidence !== undefined) granted.add('evidence');
  if (uses.databaseDrill !== undefined) granted.add('firestoreAdmin');
  if (uses.notifies === true) granted.add('slack').add('pager');
  return granted;
}

/** Builds the services of this function instance on the real services. */
export async function buildProductionServices(env: NodeJS.ProcessEnv = process.env): Promise<Services> {
  const fn = functionOf(env);
  const config = readEnvironment(fn.name, env);
  const project = config.GOOGLE_CLOUD_PROJECT;
  const log = jsonLogger();
  const [{ PubSub }, { createFirestore, createFirestoreStore }, { createPubSubBus }] = await Promise.all([
    import('@google-cloud/pubsub'),
    import('../shared/gcp/firestore-store.js'),
    import('../shared/gcp/pubsub-bus.js'),
  ]);
  const store = createFirestoreStore({ firestore: createFirestore(project) });
  const bus = createPubSubBus({ pubsub: new PubSub({ projectId: project }) });
  const granted = adaptersGrantedTo(fn);
  const statusUrl = config.MI_EXECUTOR_STATUS_URL;
  const token = config.MI_GITHUB_TOKEN;
  const repository = config.MI_DEPLOYMENT_REPOSITORY;
  const branch = config.MI_DEPLOYMENT_BRANCH ?? 'main';
  const buildLocation = config.MI_BUILD_LOCATION;
  const pagerKey = config.MI_OPSGENIE_KEY;
  const ports: Ports = {
    store,
    bus,
    clock: systemClock,
    log,
    cloudSql: granted.has('cloudSql') ? lazyPort(async () => (await import('../shared/gcp/cloud-sql.js')).createCloudSqlAdapter()) : notGranted('Cloud SQL', fn.name),
    gkeBackup: granted.has('gkeBackup') ? lazyPort(async () => (await import('../shared/gcp/gke-backup.js')).createGkeBackupAdapter()) : notGranted('Backup for GKE', fn.name),
    scheduler: granted.has('scheduler') ? lazyPort(async () => (await import('../shared/gcp/scheduler.js')).createSchedulerAdapter()) : notGranted('Cloud Scheduler', fn.name),
    executor:
      !granted.has('executor') || buildLocation === undefined
        ? notGranted('the executor', fn.name)
        : statusUrl !== undefined
          ? lazyPort(async () => (await import('../shared/gcp/executor.js')).createExecutorAdapter({ outbox: createOnceOutbox({ store, bus, clock: systemClock, log }), statusUrl }))
          : lazyPort(async () =>
              (await import('../shared/gcp/cloud-build.js')).createCloudBuildExecutor({
                parent: `projects/${project}/locations/${buildLocation}`,
                clock: systemClock,
                settings: {
                  project,
                  repository: repository ?? '',
                  branch,
                  tokenSecret: config.MI_BUILD_TOKEN_SECRET ?? '',
                  appImage: config.MI_APP_IMAGE ?? '',
                  oncallGroup: config.MI_ONCALL_GROUP ?? '',
                },
              }),
            ),
    health: granted.has('health') ? (await import('../shared/gcp/https-health.js')).createHttpsHealthProbe() : notGranted("the instances' health endpoints", fn.name),
    repo:
      !granted.has('repo') || token === undefined || repository === undefined
        ? notGranted('the deployment repository', fn.name)
        : lazyPort(async () => (await import('../shared/gcp/github-repo.js')).createGitHubDeploymentRepo({ repository, token })),
    identity: granted.has('identity')
      ? lazyPort(async () => {
          const { createGoogleIdentity, googleJwks } = await import('../shared/identity/index.js');
          return createGoogleIdentity({ keys: googleJwks() });
        })
      : notGranted('ID token verification', fn.name),
    access: granted.has('access') ? lazyPort(async () => (await import('../shared/gcp/pam.js')).createPamClient({ token: await functionAccessToken() })) : notGranted('Privileged Access Manager', fn.name),
    iamPolicies: granted.has('iamPolicies') ? lazyPort(async () => (await import('../shared/gcp/iam-policies.js')).createIamPolicyReader({ token: await functionAccessToken() })) : notGranted('IAM policies', fn.name),
    slack: granted.has('slack') ? lazyPort(async () => (await import('../shared/gcp/slack-webhook.js')).createSlackWebhookPoster()) : notGranted('Slack', fn.name),
    pager:
      granted.has('pager') && pagerKey !== undefined
        ? lazyPort(async () => (await import('../shared/gcp/opsgenie.js')).createOpsGeniePager({ apiKey: pagerKey, ...(config.MI_OPSGENIE_URL === undefined ? {} : { endpoint: config.MI_OPSGENIE_URL }) }))
        : notGranted('OpsGenie', fn.name),
    plans: granted.has('plans') ? lazyPort(async () => (await import('../shared/gcp/plan-files.js')).createPlanFilesReader({ token: await functionAccessToken() })) : notGranted('the plans buckets', fn.name),
    evidence: granted.has('evidence')
      ? lazyPort(async () => (await import('../shared/gcp/evidence-bucket.js')).createProjectEvidenceBucket(project, { token: await functionAccessToken() }))
      : notGranted('the evidence bucket', fn.name),
    firestoreAdmin: granted.has('firestoreAdmin')
      ? lazyPort(async () =>
          (await import('../shared/gcp/firestore-admin.js')).createFirestoreAdmin({
            project,
            token: await functionAccessToken(),
            // The scratch database read with the same client settings as the live one.
            open: (databaseId) => createFirestoreStore({ firestore: createFirestore(project, { databaseId }) }),
          }),
        )
      : notGranted('the Firestore Admin API', fn.name),
  };
  const secret = config.MI_GITHUB_WEBHOOK_SECRET;
  const list = (text: string | undefined) => text?.split(',').map((item) => item.trim()).filter((item) => item !== '');
  const autoApply = list(config.MI_AUTO_APPLY_MODULES);
  const entitlements = list(config.MI_ACCESS_ENTITLEMENTS);
  const allowedDomains = list(config.MI_COMMANDS_ALLOWED_DOMAINS);
  return createServicesFor(fn.name, ports, {
    schedulerParent: `projects/${project}/locations/${config.MI_SCHEDULER_LOCATION ?? 'none'}`,
    ...(secret === undefined || repository === undefined
      ? {}
      : { webhook: { secret, repository, ...(config.MI_DEPLOYMENT_BRANCH ? { branch: config.MI_DEPLOYMENT_BRANCH } : {}), ...(config.MI_GITHUB_BOT_LOGIN ? { botLogin: config.MI_GITHUB_BOT_LOGIN } : {}) } }),
    ...(config.MI_DEPLOYMENT_BRANCH === undefined ? {} : { deploymentBranch: config.MI_DEPLOYMENT_BRANCH }),
    callers: { audiences: list(config.MI_COMMANDS_AUDIENCES) ?? [], ...(allowedDomains === undefined ? {} : { allowedDomains }) },
    dashboardCallers: { audiences: list(config.MI_DASHBOARD_AUDIENCES) ?? [], ...(allowedDomains === undefined ? {} : { allowedDomains }) },
    ...(autoApply === undefined ? {} : { autoApplyModules: autoApply }),
    ...(entitlements === undefined ? {} : { accessEntitlements: entitlements }),
    ...(config.MI_NOTIFY_ROUTES === undefined ? {} : { notifyRoutes: parseNotifyRoutes(config.MI_NOTIFY_ROUTES) }),
    ...(config.MI_GITHUB_IDENTITIES === undefined ? {} : { githubIdentities: parseGitHubIdentities(config.MI_GITHUB_IDENTITIES) }),
    policy: {
      ...(config.MI_CENTRAL_BACKUP_PROJECT === undefined ? {} : { centralBackupProject: config.MI_CENTRAL_BACKUP_PROJECT }),
      ...(list(config.MI_DATA_BEARING_MODULES) === undefined ? {} : { dataBearingModules: list(config.MI_DATA_BEARING_MODULES) ?? [] }),
      healthGates: {
        ...DEFAULT_HEALTH_GATES,
        ...(config.MI_HEALTH_URL === undefined ? {} : { urlTemplate: config.MI_HEALTH_URL }),
        ...(config.MI_HEALTH_PATH === undefined ? {} : { healthPath: config.MI_HEALTH_PATH }),
        ...(config.MI_VERSION_PATH === undefined ? {} : { versionPath: config.MI_VERSION_PATH }),
      },
    },
  });
}

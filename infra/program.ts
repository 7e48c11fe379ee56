/**
 * The whole control plane on GCP, built from the topology. Importing this module creates
 * nothing: infra/index.ts calls `buildInfrastructure` with the real topology and the stack's
 * settings, tests call it with mocks set and any topology they like.
 */
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import { FunctionSource, HttpFunction, PubSubFunction, type FunctionContext } from './functions.js';
import { FirestoreDatabase } from './firestore.js';
import { ControlPlaneAlerts } from './alerts.js';
import { DeadLetterTopic, Schedules } from './messaging.js';
import { SECRET_VARIABLES, variablesOf, type VariableName } from '../shared/environment.js';
import { GCLOUD_CLIENT_ID } from '../shared/identity/google.js';
import { apisUsed } from '../shared/topology.js';
import { defaultEntitlements, entitlementProblems, type EntitlementSpec } from '../shared/domain/access/entitlements.js';
import { AccessEntitlements } from './access.js';
import { BuildEnvironments } from './builds.js';
import { EvidenceBucket } from './evidence.js';
import { checkTopology, deadLetterTopics, deployedFunctionName, isHttpFunction, isPubSubFunction, kebab, type InfraTopology } from './model.js';
import type { Settings } from './settings.js';

/** Error lines from one function in five minutes that make a spike, unless the stack says otherwise. */
export const DEFAULT_ERROR_LINES_PER_FIVE_MINUTES = 10;

/**
 * What the program itself deploys with: functions, their builds and images, the source bucket,
 * accounts and grants, the scheduler jobs, alerts, secrets. Resource Manager must be enabled by
 * hand before the first `pulumi up` (enabling APIs goes through it); the program enables the rest.
 */
export const PLATFORM_APIS = [
  'artifactregistry.googleapis.com',
  'cloudbuild.googleapis.com',
  'cloudfunctions.googleapis.com',
  'cloudresourcemanager.googleapis.com',
  'cloudscheduler.googleapis.com',
  'eventarc.googleapis.com',
  'iam.googleapis.com',
  'logging.googleapis.com',
  'monitoring.googleapis.com',
  'privilegedaccessmanager.googleapis.com',
  'run.googleapis.com',
  'secretmanager.googleapis.com',
  'storage.googleapis.com',
] as const;

/** Every API the program enables: its own, and every one the functions' code calls (from the topology's declared use). */
export function requiredApis(topology: Pick<InfraTopology, 'functions'>): string[] {
  return [...new Set([...PLATFORM_APIS, ...apisUsed(topology.functions)])].sort();
}

/** What `mi:operators` hold on the project besides invoking commands: reading Firestore, never writing it. */
export const OPERATOR_READ_ROLE = 'roles/datastore.viewer';

/** A setting left empty that leaves the deployment silently broken, unless `mi:allowUnset` names it. */
const PREFLIGHT = {
  operators: 'mi:operators is empty: nobody may call commands (no lifecycle command, approval or apply confirmation could be given). Set it (pulumi config set --path \'mi:operators[0]\' group:sre@example.com)',
  alertNotificationChannels: 'mi:alertNotificationChannels is empty: every alert (dead letters, stuck operations, compliance failures, scheduler failures, error spikes) would notify nobody. Set it (pulumi config set --path \'mi:alertNotificationChannels[0]\' projects/<p>/notificationChannels/<id>)',
  githubWebhookSecret:
    'mi:githubWebhookSecret is not set: the webhook secret would have no version and every function that reads it fails to deploy. Set it (pulumi config set --secret mi:githubWebhookSecret <secret>)',
  accessFolders: "mi:accessFolders is not set: nobody could get time-bound access to the instances' projects (no PAM entitlements). Set it (pulumi config set --path 'mi:accessFolders.prod' folders/<id>, and .dev)",
  githubToken: 'mi:githubToken is not set: the repository token would have no version and the deployments function fails to deploy. Set it (pulumi config set --secret mi:githubToken <token>)',
} as const;
export type PreflightSetting = keyof typeof PREFLIGHT;

/** The entitlements to declare: configured, or the defaults with the configured approvers. */
export function entitlementsOf(settings: Pick<Settings, 'entitlements' | 'accessApprovers'>): readonly EntitlementSpec[] {
  return settings.entitlements ?? defaultEntitlements(settings.accessApprovers);
}

/** Refuses, naming the setting, what would deploy a control plane that cannot work; `mi:allowUnset` says a gap is deliberate. */
export function preflight(settings: Settings): void {
  const unset: PreflightSetting[] = [];
  if (settings.operators.length === 0) unset.push('operators');
  if (settings.alertNotificationChannels.length === 0) unset.push('alertNotificationChannels');
  if (settings.githubWebhookSecret === undefined) unset.push('githubWebhookSecret');
  if (settings.githubToken === undefined) unset.push('githubToken');
  if (settings.accessFolders === undefined) unset.push('accessFolders');
  const refused = unset.filter((setting) => !settings.allowUnset.includes(setting));
  // Not a gap to allow: an entitlement that lets someone into prod unapproved is refused outright.
  const problems = settings.accessFolders === undefined ? [] : entitlementProblems(entitlementsOf(settings), settings.operators);
  if (problems.length > 0) {
    throw new Error(`refusing to deploy: the access entitlements are unsafe: ${problems.join('; ')} (mi:accessApprovers names who approves prod access; mi:entitlements overrides the defaults)`);
  }
  if (refused.length > 0) {
    throw new Error(
      `refusing to deploy: ${refused.map((s) => PREFLIGHT[s]).join('; ')}. If this is deliberate (a version added outside Pulumi, say), allow it: pulumi config set --path 'mi:allowUnset[0]' ${refused[0] ?? ''}`,
    );
  }
}

export interface Infrastructure {
  /** Each function's URL, by topology name. */
  functionUrls: Record<string, pulumi.Output<string>>;
  /** The pull subscription holding each dead-letter topic's messages. */
  deadLetterSubscriptions: Record<string, pulumi.Output<string>>;
  /** Roles in the instances' projects left to grant by hand (no `mi:instancesFolder`): `account: role`. */
  ungrantedInstanceRoles: string[];
  /** Each PAM entitlement's full name, by id (what `mi access` needs as MI_ACCESS_ENTITLEMENTS). */
  entitlements: Record<string, pulumi.Output<string>>;
  webhookSecret: pulumi.Output<string>;
  githubTokenSecret: pulumi.Output<string>;
}

/** Deploys the topology; resource names derive from entry names only, never from their order. */
export function buildInfrastructure(topology: InfraTopology, settings: Settings): Infrastructure {
  checkTopology(topology);
  preflight(settings);
  const { project, region } = settings;

  // Every API the program and the functions use, enabled in this project (the functions' calls
  // bill it as the consumer); left enabled when the stack goes, as other things may use them.
  const apis = requiredApis(topology).map((service) => new gcp.projects.Service(`api-${service.split('.')[0] ?? service}`, { project, service, disableOnDestroy: false }));
  // Final GKE backups are cross-project backups into the central backup project: its Backup for
  // GKE API must be on (the engine's accounts hold roles/gkebackup.admin there, and each
  // instance's create makes the backup channel from the cluster's project to it).
  apis.push(new gcp.projects.Service('central-backups-gkebackup', { project: settings.centralBackupProject, service: 'gkebackup.googleapis.com', disableOnDestroy: false }));
  // A component's children wait for what the component depends on.
  const afterApis = { dependsOn: apis };

  const projectNumber = gcp.organizations.getProjectOutput({ projectId: project }).apply((p) => p.number);
  const pubsubAgent = pulumi.interpolate`serviceAccount:service-${projectNumber}@gcp-sa-pubsub.iam.gserviceaccount.com`;

  // Topics: the topology's own, then one DeadLetterTopic component per dead-letter topic.
  const topics = new Map<string, gcp.pubsub.Topic>();
  for (const name of [...topology.topics].sort()) {
    topics.set(name, new gcp.pubsub.Topic(name, { project, name }, afterApis));
  }
  const deadLetterSubscriptions: Record<string, pulumi.Output<string>> = {};
  for (const name of deadLetterTopics(topology)) {
    const deadLetter = new DeadLetterTopic(name, { project, topicName: name, pubsubAgent, notificationChannels: settings.alertNotificationChannels }, afterApis);
    topics.set(name, deadLetter.topic);
    deadLetterSubscriptions[name] = deadLetter.held.name;
  }

  // Only the accounts the topology grants them to may read them; their values are added outside Pulumi.
  const secrets = {
    webhookSecret: new gcp.secretmanager.Secret('webhook-secret', { project, secretId: settings.webhookSecretName, replication: { auto: {} } }, { dependsOn: apis }),
    githubTokenSecret: new gcp.secretmanager.Secret('github-token', { project, secretId: settings.githubTokenSecretName, replication: { auto: {} } }, { dependsOn: apis }),
    notifyRoutes: new gcp.secretmanager.Secret('notify-routes', { project, secretId: settings.notifyRoutesSecretName, replication: { auto: {} } }, { dependsOn: apis }),
    pagerKey: new gcp.secretmanager.Secret('opsgenie-key', { project, secretId: settings.pagerKeySecretName, replication: { auto: {} } }, { dependsOn: apis }),
  };
  // Their values, from Pulumi config secrets (encrypted in the stack), unless added outside Pulumi.
  const secretVersions: gcp.secretmanager.SecretVersion[] = [];
  if (settings.githubWebhookSecret !== undefined) {
    secretVersions.push(new gcp.secretmanager.SecretVersion('webhook-secret', { secret: secrets.webhookSecret.id, secretData: settings.githubWebhookSecret }));
  }
  if (settings.githubToken !== undefined) {
    secretVersions.push(new gcp.secretmanager.SecretVersion('github-token', { secret: secrets.githubTokenSecret.id, secretData: settings.githubToken }));
  }
  if (settings.notifyRoutes !== undefined) {
    secretVersions.push(new gcp.secretmanager.SecretVersion('notify-routes', { secret: secrets.notifyRoutes.id, secretData: settings.notifyRoutes }));
  }
  if (settings.pagerKey !== undefined) {
    secretVersions.push(new gcp.secretmanager.SecretVersion('opsgenie-key', { secret: secrets.pagerKey.id, secretData: settings.pagerKey }));
  }

  const buildAccount = new gcp.serviceaccount.Account(
    'functions-build',
    {
      project,
      accountId: 'mi-functions-build',
      displayName: 'mi functions build',
      description: 'Builds the functions from their source archive (instead of the default compute account)',
    },
    afterApis,
  );
  const buildGrant = new gcp.projects.IAMMember('functions-build-builder', { project, role: 'roles/cloudbuild.builds.builder', member: buildAccount.member });

  // The executor's builds: an account, a state bucket and a plans bucket per environment.
  const builds = new BuildEnvironments(
    'builds',
    { project, region, tokenSecret: secrets.githubTokenSecret, folders: settings.accessFolders ?? (settings.instancesFolder === undefined ? {} : { dev: settings.instancesFolder, prod: settings.instancesFolder }) },
    afterApis,
  );

  // The daily anchors of the records' hash chains, under a locked retention policy.
  const evidence = new EvidenceBucket('evidence', { project, location: region }, afterApis);

  const source = new FunctionSource('functions-source', { project, region, sourceRoot: settings.sourceRoot, functions: topology.functions }, afterApis);

  const access =
    settings.accessFolders === undefined
      ? undefined
      : new AccessEntitlements('access', { entitlements: entitlementsOf(settings), folders: settings.accessFolders, requesters: settings.operators, notify: settings.breakglassNotify }, afterApis);

  // A function's own URL is its callers' audience; it cannot be read from its own output, so the
  // stable cloudfunctions.net form is used unless configured.
  const ownUrl = (name: string) => {
    const fn = topology.functions.find((f) => f.name === name);
    return fn ? `https://${region}-${project}.cloudfunctions.net/${deployedFunctionName(fn)}` : '';
  };
  // The value of each variable of the environment contract (shared/environment.ts); secrets
  // come from Secret Manager instead, optional ones only when set.
  const values: Record<Exclude<VariableName, (typeof SECRET_VARIABLES)[number]>, pulumi.Input<string> | undefined> = {
    GOOGLE_CLOUD_PROJECT: project,
    MI_EXECUTOR_STATUS_URL: settings.executorStatusUrl,
    MI_BUILD_LOCATION: region,
    MI_BUILD_TOKEN_SECRET: pulumi.interpolate`${secrets.githubTokenSecret.id}/versions/latest`,
    MI_APP_IMAGE: settings.appImage,
    MI_ONCALL_GROUP: settings.oncallGroup,
    MI_CENTRAL_BACKUP_PROJECT: settings.centralBackupProject,
    MI_HEALTH_URL: settings.healthUrl,
    MI_HEALTH_PATH: settings.healthPath,
    MI_VERSION_PATH: settings.versionPath,
    MI_DEPLOYMENT_REPOSITORY: settings.deploymentRepository,
    MI_DEPLOYMENT_BRANCH: undefined,
    MI_GITHUB_BOT_LOGIN: settings.githubBotLogin,
    MI_SCHEDULER_LOCATION: region,
    MI_AUTO_APPLY_MODULES: settings.autoApplyModules,
    MI_DATA_BEARING_MODULES: settings.dataBearingModules,
    MI_COMMANDS_AUDIENCES: (settings.commandsAudiences ?? [ownUrl('commands'), GCLOUD_CLIENT_ID]).join(','),
    MI_COMMANDS_ALLOWED_DOMAINS: settings.commandsAllowedDomains?.join(','),
    MI_DASHBOARD_AUDIENCES: [ownUrl('dashboard'), GCLOUD_CLIENT_ID].join(','),
    MI_GITHUB_IDENTITIES: settings.githubIdentities === undefined ? undefined : Object.entries(settings.githubIdentities).map(([login, email]) => `${login}=${email}`).join(','),
    MI_ACCESS_ENTITLEMENTS: access === undefined ? undefined : pulumi.all(Object.values(access.names)).apply((names) => names.sort().join(',')),
  };
  const environmentOf = (fn: { name: string }): Record<string, pulumi.Input<string>> =>
    Object.fromEntries(
      variablesOf(fn.name)
        .filter((name) => !SECRET_VARIABLES.includes(name))
        .flatMap((name) => {
          const value = values[name as keyof typeof values];
          return value === undefined ? [] : [[name, value]];
        }),
    );
  const ctx: FunctionContext = {
    project,
    region,
    source,
    buildAccount,
    environmentOf,
    topics,
    functions: topology.functions,
    secrets,
    // A first `up` must not build before the build account may build, nor inject an empty secret.
    prerequisites: [...apis, buildGrant, ...secretVersions],
    ...(settings.instancesFolder === undefined ? {} : { instancesFolder: settings.instancesFolder }),
    centralBackupProject: settings.centralBackupProject,
    buildAccounts: Object.values(builds.accounts),
    plansBuckets: Object.values(builds.plansBuckets),
    evidenceBucket: evidence.bucket,
    pubsubAgent,
  };

  const functionUrls: Record<string, pulumi.Output<string>> = {};
  const ungrantedInstanceRoles: string[] = [...builds.ungranted];
  const byName = [...topology.functions].sort((a, b) => a.name.localeCompare(b.name));
  for (const fn of byName) {
    const name = kebab(fn.name);
    if (isPubSubFunction(fn)) {
      const subscription = topology.subscriptions.find((s) => s.function === fn.name);
      if (!subscription) throw new Error(`Pub/Sub function ${fn.name} has no subscription in the topology`);
      const component = new PubSubFunction(name, { fn, subscription, ctx });
      functionUrls[fn.name] = component.url;
      ungrantedInstanceRoles.push(...component.account.ungranted.map((g) => `${fn.name}: ${g.role}`));
    } else if (isHttpFunction(fn)) {
      const component = new HttpFunction(name, { fn, ctx, invokers: settings.operators });
      functionUrls[fn.name] = component.url;
      ungrantedInstanceRoles.push(...component.account.ungranted.map((g) => `${fn.name}: ${g.role}`));
    }
  }
  if (ungrantedInstanceRoles.length > 0) {
    void pulumi.log.warn(
      `mi:instancesFolder is not set: grant these roles in the instances' projects yourself (to the mi-fn-* accounts): ${ungrantedInstanceRoles.join(', ')}`,
    );
  }

  // People read the control plane's state (mi status, mi audit) and change it only through the
  // commands function, which proves who they are: no topic, no stored record is theirs to write.
  for (const member of [...new Set(settings.operators)].sort()) {
    new gcp.projects.IAMMember(`operator-reader-${member.replace(/[^a-zA-Z0-9-]/g, '-')}`, { project, role: OPERATOR_READ_ROLE, member }, afterApis);
    // `mi compliance verify` and `mi compliance evidence` read the anchors; nobody but the anchoring function creates one.
    new gcp.storage.BucketIAMMember(`operator-evidence-reader-${member.replace(/[^a-zA-Z0-9-]/g, '-')}`, { bucket: evidence.bucket.name, role: 'roles/storage.objectViewer', member }, afterApis);
  }

  new Schedules('schedules', { project, region, schedules: [...topology.schedules].sort((a, b) => a.name.localeCompare(b.name)), topics }, afterApis);
  new ControlPlaneAlerts(
    'alerts',
    {
      project,
      services: topology.functions.map(deployedFunctionName).sort(),
      schedulerJobs: topology.schedules.map((s) => s.name).sort(),
      notificationChannels: settings.alertNotificationChannels,
      errorLinesPerFiveMinutes: settings.errorLinesPerFiveMinutes ?? DEFAULT_ERROR_LINES_PER_FIVE_MINUTES,
    },
    afterApis,
  );

  new FirestoreDatabase(
    'firestore',
    {
      project,
      location: settings.firestoreLocation,
      indexedQueries: topology.indexedQueries,
      ttlCollections: topology.ttlCollections,
    },
    afterApis,
  );

  return { functionUrls, deadLetterSubscriptions, ungrantedInstanceRoles, entitlements: access?.names ?? {}, webhookSecret: secrets.webhookSecret.secretId, githubTokenSecret: secrets.githubTokenSecret.secretId };
}

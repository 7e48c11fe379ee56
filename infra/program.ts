/**
 * The whole control plane on GCP, built from the topology. Importing this module creates
 * nothing: infra/index.ts calls `buildInfrastructure` with the real topology and the stack's
 * settings, tests call it with mocks set and any topology they like.
 */
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import { FunctionSource, HttpFunction, PubSubFunction, type FunctionContext } from './functions.js';
import { FirestoreDatabase } from './firestore.js';
import { DeadLetterTopic, Schedules } from './messaging.js';
import { checkTopology, deadLetterTopics, deployedFunctionName, isHttpFunction, isPubSubFunction, kebab, type InfraTopology } from './model.js';
import type { Settings } from './settings.js';

/** The APIs the program uses; enable them once before the first `pulumi up` (see README, "Deploying"). */
export const REQUIRED_APIS = [
  'artifactregistry.googleapis.com',
  'cloudbuild.googleapis.com',
  'cloudfunctions.googleapis.com',
  'cloudscheduler.googleapis.com',
  'firestore.googleapis.com',
  'iam.googleapis.com',
  'monitoring.googleapis.com',
  'pubsub.googleapis.com',
  'run.googleapis.com',
  'secretmanager.googleapis.com',
  'storage.googleapis.com',
] as const;

export interface Infrastructure {
  /** Each function's URL, by topology name. */
  functionUrls: Record<string, pulumi.Output<string>>;
  /** The pull subscription holding each dead-letter topic's messages. */
  deadLetterSubscriptions: Record<string, pulumi.Output<string>>;
  /** Roles in the instances' projects left to grant by hand (no `mi:instancesFolder`): `account: role`. */
  ungrantedInstanceRoles: string[];
  webhookSecret: pulumi.Output<string>;
  githubTokenSecret: pulumi.Output<string>;
}

/** Deploys the topology; resource names derive from entry names only, never from their order. */
export function buildInfrastructure(topology: InfraTopology, settings: Settings): Infrastructure {
  checkTopology(topology);
  const { project, region } = settings;

  const projectNumber = gcp.organizations.getProjectOutput({ projectId: project }).apply((p) => p.number);
  const pubsubAgent = pulumi.interpolate`serviceAccount:service-${projectNumber}@gcp-sa-pubsub.iam.gserviceaccount.com`;

  // Topics: the topology's own, then one DeadLetterTopic component per dead-letter topic.
  const topics = new Map<string, gcp.pubsub.Topic>();
  for (const name of [...topology.topics].sort()) {
    topics.set(name, new gcp.pubsub.Topic(name, { project, name }));
  }
  const deadLetterSubscriptions: Record<string, pulumi.Output<string>> = {};
  for (const name of deadLetterTopics(topology)) {
    const deadLetter = new DeadLetterTopic(name, { project, topicName: name, pubsubAgent, notificationChannels: settings.alertNotificationChannels });
    topics.set(name, deadLetter.topic);
    deadLetterSubscriptions[name] = deadLetter.held.name;
  }

  // Only the accounts the topology grants them to may read them; their values are added outside Pulumi.
  const secrets = {
    webhookSecret: new gcp.secretmanager.Secret('webhook-secret', { project, secretId: settings.webhookSecretName, replication: { auto: {} } }),
    githubTokenSecret: new gcp.secretmanager.Secret('github-token', { project, secretId: settings.githubTokenSecretName, replication: { auto: {} } }),
  };

  const buildAccount = new gcp.serviceaccount.Account('functions-build', {
    project,
    accountId: 'mi-functions-build',
    displayName: 'mi functions build',
    description: 'Builds the functions from their source archive (instead of the default compute account)',
  });
  new gcp.projects.IAMMember('functions-build-builder', { project, role: 'roles/cloudbuild.builds.builder', member: buildAccount.member });

  const source = new FunctionSource('functions-source', { project, region, sourceRoot: settings.sourceRoot });

  // A function's own URL is its callers' audience; it cannot be read from its own output, so the
  // stable cloudfunctions.net form is used unless configured.
  const ownUrl = (name: string) => {
    const fn = topology.functions.find((f) => f.name === name);
    return fn ? `https://${region}-${project}.cloudfunctions.net/${deployedFunctionName(fn)}` : '';
  };
  const environmentOf: Record<string, Record<string, pulumi.Input<string>>> = {
    approvals: { MI_APPROVALS_AUDIENCE: settings.approvalsAudience ?? ownUrl('approvals') },
    applyConfirmations: { MI_APPLY_CONFIRMATIONS_AUDIENCE: settings.applyConfirmationsAudience ?? ownUrl('applyConfirmations') },
  };
  const ctx: FunctionContext = {
    project,
    region,
    source,
    buildAccount,
    environment: {
      GOOGLE_CLOUD_PROJECT: project,
      MI_EXECUTOR_STATUS_URL: settings.executorStatusUrl,
      MI_DEPLOYMENT_REPOSITORY: settings.deploymentRepository,
      MI_SCHEDULER_LOCATION: region,
      ...(settings.autoApplyModules === undefined ? {} : { MI_AUTO_APPLY_MODULES: settings.autoApplyModules }),
    },
    environmentOf,
    topics,
    secrets,
    ...(settings.instancesFolder === undefined ? {} : { instancesFolder: settings.instancesFolder }),
    pubsubAgent,
  };

  const functionUrls: Record<string, pulumi.Output<string>> = {};
  const ungrantedInstanceRoles: string[] = [];
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

  new Schedules('schedules', { project, region, schedules: [...topology.schedules].sort((a, b) => a.name.localeCompare(b.name)), topics });

  new FirestoreDatabase('firestore', {
    project,
    location: settings.firestoreLocation,
    indexedQueries: topology.indexedQueries,
    ttlCollections: topology.ttlCollections,
  });

  return { functionUrls, deadLetterSubscriptions, ungrantedInstanceRoles, webhookSecret: secrets.webhookSecret.secretId, githubTokenSecret: secrets.githubTokenSecret.secretId };
}

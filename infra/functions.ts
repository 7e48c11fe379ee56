/**
 * The functions: a source archive each, and a component per trigger family that
 * groups a function with its account, its invoker binding and, for Pub/Sub, the push
 * subscription the program owns (an Eventarc trigger's subscription cannot dead-letter).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { PushSubscription } from '../shared/topology.js';
import { FunctionAccount, type FunctionAccountArgs, type Secrets } from './function-account.js';
import { SECRET_ENV, accountId, deployedFunctionName, secretsOf, type HttpFunctionDefinition, type PubSubFunctionDefinition } from './model.js';

/** The Cloud Functions runtime: Node.js 22 (the code also runs on 20 locally). */
export const FUNCTIONS_RUNTIME = 'nodejs22';

/** Where `npm run build` leaves a function's bundle, its package.json and its lockfile: its whole archive. */
export const bundleDirOf = (sourceRoot: string, fn: string): string => join(sourceRoot, 'dist', 'bundles', fn);

/** What the functions' build runs under: `npm ci` without the dev dependencies and without scripts. */
export const DEPLOYED_BUILD_ENVIRONMENT = { GOOGLE_NODE_RUN_SCRIPTS: '', NODE_ENV: 'production', NPM_CONFIG_OMIT: 'dev' } as const;

export interface FunctionSourceArgs {
  project: string;
  region: string;
  sourceRoot: string;
  functions: readonly { name: string }[];
}

/**
 * The functions' code in a bucket: one archive per function, its own bundle with a package.json
 * and lockfile naming only what that bundle imports (build/bundle-functions.ts), so each
 * function installs and loads its own code and clients and nothing else.
 */
export class FunctionSource extends pulumi.ComponentResource {
  readonly bucket: gcp.storage.Bucket;
  readonly objects: Readonly<Record<string, gcp.storage.BucketObject>>;

  constructor(name: string, args: FunctionSourceArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mi:infra:FunctionSource', name, {}, opts);
    this.bucket = new gcp.storage.Bucket(
      name,
      { project: args.project, location: args.region, uniformBucketLevelAccess: true, publicAccessPrevention: 'enforced', forceDestroy: true },
      { parent: this },
    );
    const objects: Record<string, gcp.storage.BucketObject> = {};
    for (const fn of args.functions) {
      const dir = bundleDirOf(args.sourceRoot, fn.name);
      if (!existsSync(join(dir, 'index.js'))) throw new Error(`${dir}/index.js is missing: run \`npm run build\` before \`pulumi up\` (each function deploys from its bundle)`);
      objects[fn.name] = new gcp.storage.BucketObject(
        `${name}-${fn.name}`,
        { bucket: this.bucket.name, name: `${fn.name}.zip`, source: new pulumi.asset.FileArchive(dir) },
        { parent: this },
      );
    }
    this.objects = objects;
    this.registerOutputs({ bucket: this.bucket.name });
  }

  objectOf(fn: string): gcp.storage.BucketObject {
    const object = this.objects[fn];
    if (object === undefined) throw new Error(`no source archive for the function ${fn}`);
    return object;
  }
}

/** What every function shares: where it runs, its code and its environment. */
export interface FunctionContext {
  project: string;
  region: string;
  source: FunctionSource;
  /** The account Cloud Build uses to build the functions (never the default compute account). */
  buildAccount: gcp.serviceaccount.Account;
  /** The plain variables a function reads (the environment contract), with their values. */
  environmentOf: (fn: { name: string }) => Record<string, pulumi.Input<string>>;
  topics: FunctionAccountArgs['topics'];
  /** Every function of the topology (the outbox drainer's grants derive from all of them). */
  functions: FunctionAccountArgs['functions'];
  secrets: Secrets;
  /**
   * What must exist before any function is deployed: the enabled APIs, the build account's
   * role, the secrets' versions (a deploy that injects a secret fails without one).
   */
  prerequisites: readonly pulumi.Resource[];
  instancesFolder?: string;
  centralBackupProject: string;
  /** The executor's build accounts: functions that run builds may act as them. */
  buildAccounts: readonly gcp.serviceaccount.Account[];
  /** The executor's plans buckets: a function that reads plans for people reads them there. */
  plansBuckets: readonly gcp.storage.Bucket[];
  /** The compliance evidence bucket: the function that anchors each day writes there. */
  evidenceBucket: gcp.storage.Bucket;
  /** `service-<number>@gcp-sa-pubsub.iam.gserviceaccount.com`, as a member. */
  pubsubAgent: pulumi.Input<string>;
}

type AnyFunctionDefinition = PubSubFunctionDefinition | HttpFunctionDefinition;

function accountArgs(fn: AnyFunctionDefinition, ctx: FunctionContext): FunctionAccountArgs {
  return {
    fn,
    functions: ctx.functions,
    project: ctx.project,
    topics: ctx.topics,
    secrets: ctx.secrets,
    centralBackupProject: ctx.centralBackupProject,
    buildAccounts: ctx.buildAccounts,
    plansBuckets: ctx.plansBuckets,
    evidenceBucket: ctx.evidenceBucket,
    ...(ctx.instancesFolder === undefined ? {} : { instancesFolder: ctx.instancesFolder }),
  };
}

/** The function itself, running as its own account; shared by both components. */
function cloudFunction(name: string, fn: AnyFunctionDefinition, account: FunctionAccount, ctx: FunctionContext, parent: pulumi.Resource): gcp.cloudfunctionsv2.Function {
  const secretEnvironment = secretsOf(fn).map((kind) => ({ key: SECRET_ENV[kind], projectId: ctx.project, secret: ctx.secrets[kind].secretId, version: 'latest' }));
  return new gcp.cloudfunctionsv2.Function(
    name,
    {
      project: ctx.project,
      location: ctx.region,
      name: deployedFunctionName(fn),
      description: fn.description,
      buildConfig: {
        runtime: FUNCTIONS_RUNTIME,
        entryPoint: fn.name,
        serviceAccount: ctx.buildAccount.id,
        source: { storageSource: { bucket: ctx.source.bucket.name, object: ctx.source.objectOf(fn.name).name, generation: ctx.source.objectOf(fn.name).generation } },
        // The archive holds bundled code: no npm scripts at build time, and none of the build
        // tools (TypeScript, tsx, esbuild, the test runner) installed: only what the bundle imports.
        environmentVariables: DEPLOYED_BUILD_ENVIRONMENT,
      },
      serviceConfig: {
        serviceAccountEmail: account.email,
        timeoutSeconds: fn.timeoutSeconds,
        availableMemory: `${fn.memoryMb}M`,
        availableCpu: String(fn.capacity.cpu),
        maxInstanceCount: fn.capacity.maxInstances,
        maxInstanceRequestConcurrency: fn.capacity.concurrency,
        ingressSettings: 'ALLOW_ALL',
        allTrafficOnLatestRevision: true,
        environmentVariables: ctx.environmentOf(fn),
        ...(secretEnvironment.length > 0 ? { secretEnvironmentVariables: secretEnvironment } : {}),
      },
    },
    // The deploy checks the secret grant, and the first request should find the roles in place.
    { parent, dependsOn: [account, ...ctx.prerequisites] },
  );
}

export interface PubSubFunctionArgs {
  fn: PubSubFunctionDefinition;
  subscription: PushSubscription;
  ctx: FunctionContext;
}

/**
 * A Pub/Sub-driven function: its account, the function, an invoker account allowed to call it
 * and nothing else, and the push subscription that feeds it with an OIDC token, a retry policy
 * and a dead-letter topic (with the Pub/Sub service agent allowed to forward and acknowledge).
 */
export class PubSubFunction extends pulumi.ComponentResource {
  readonly account: FunctionAccount;
  readonly function: gcp.cloudfunctionsv2.Function;
  readonly invoker: gcp.serviceaccount.Account;
  readonly subscription: gcp.pubsub.Subscription;
  readonly url: pulumi.Output<string>;
  /** The Cloud Run service's own URI (`*.run.app`): what Cloud Run checks a push token's audience against. */
  readonly serviceUri: pulumi.Output<string>;

  constructor(name: string, args: PubSubFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mi:infra:PubSubFunction', name, {}, opts);
    const { fn, subscription, ctx } = args;
    const topic = ctx.topics.get(subscription.topic);
    const deadLetterTopic = ctx.topics.get(subscription.deadLetter.topic);
    if (!topic || !deadLetterTopic) throw new Error(`subscription ${subscription.name}: the program creates no topic ${topic ? subscription.deadLetter.topic : subscription.topic}`);

    this.account = new FunctionAccount(name, accountArgs(fn, ctx), { parent: this });
    this.function = cloudFunction(name, fn, this.account, ctx, this);
    this.url = this.function.url;
    this.serviceUri = this.function.serviceConfig.apply((config) => {
      if (!config?.uri) throw new Error(`function ${fn.name} has no service URI to push to`);
      return config.uri;
    });

    this.invoker = new gcp.serviceaccount.Account(
      `${name}-invoker`,
      { project: ctx.project, accountId: accountId('mi-push', fn), displayName: `mi push to ${fn.name}`, description: `Signs the push deliveries of ${subscription.name}` },
      { parent: this },
    );
    const invokerMember = pulumi.interpolate`serviceAccount:${this.invoker.email}`;
    const invokerBinding = new gcp.cloudrunv2.ServiceIamMember(
      `${name}-invoker`,
      { project: ctx.project, location: ctx.region, name: this.function.name, role: 'roles/run.invoker', member: invokerMember },
      { parent: this },
    );
    // Pub/Sub mints the OIDC token as the invoker account (needed in projects older than April 2021).
    const tokenCreator = new gcp.serviceaccount.IAMMember(
      `${name}-invoker-token-creator`,
      { serviceAccountId: this.invoker.name, role: 'roles/iam.serviceAccountTokenCreator', member: ctx.pubsubAgent },
      { parent: this },
    );

    this.subscription = new gcp.pubsub.Subscription(
      name,
      {
        project: ctx.project,
        name: subscription.name,
        topic: topic.id,
        ackDeadlineSeconds: subscription.ackDeadlineSeconds,
        retryPolicy: {
          minimumBackoff: `${subscription.retryPolicy.minimumBackoffSeconds}s`,
          maximumBackoff: `${subscription.retryPolicy.maximumBackoffSeconds}s`,
        },
        deadLetterPolicy: { deadLetterTopic: deadLetterTopic.id, maxDeliveryAttempts: subscription.deadLetter.maxDeliveryAttempts },
        // The functions framework derives the event's source from this path, as in `mi dev`.
        pushConfig: {
          pushEndpoint: pulumi.interpolate`${this.serviceUri}/projects/${ctx.project}/topics/${subscription.topic}`,
          oidcToken: { serviceAccountEmail: this.invoker.email, audience: this.serviceUri },
        },
        expirationPolicy: { ttl: '' },
      },
      { parent: this, dependsOn: [invokerBinding, tokenCreator] },
    );
    // Dead-lettering: the service agent acknowledges the forwarded message on the source subscription
    // (publishing to the dead-letter topic is granted once per topic, by DeadLetterTopic).
    new gcp.pubsub.SubscriptionIAMMember(
      `${name}-dead-letter-subscriber`,
      { project: ctx.project, subscription: this.subscription.name, role: 'roles/pubsub.subscriber', member: ctx.pubsubAgent },
      { parent: this },
    );
    this.registerOutputs({ url: this.url, subscription: this.subscription.name });
  }
}

export interface HttpFunctionArgs {
  fn: HttpFunctionDefinition;
  ctx: FunctionContext;
  /** Who may call it when it is not public (`mi:operators`). */
  invokers: readonly string[];
}

/** An HTTP function: public (`allUsers` may invoke) exactly when the topology marks it allowUnauthenticated. */
export class HttpFunction extends pulumi.ComponentResource {
  readonly account: FunctionAccount;
  readonly function: gcp.cloudfunctionsv2.Function;
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: HttpFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mi:infra:HttpFunction', name, {}, opts);
    const { fn, ctx } = args;
    this.account = new FunctionAccount(name, accountArgs(fn, ctx), { parent: this });
    this.function = cloudFunction(name, fn, this.account, ctx, this);
    this.url = this.function.url;
    const invokers = fn.trigger.allowUnauthenticated ? ['allUsers'] : [...new Set(args.invokers)].sort();
    for (const member of invokers) {
      new gcp.cloudrunv2.ServiceIamMember(
        `${name}-invoker-${member.replace(/[^a-zA-Z0-9-]/g, '-')}`,
        { project: ctx.project, location: ctx.region, name: this.function.name, role: 'roles/run.invoker', member },
        { parent: this },
      );
    }
    this.registerOutputs({ url: this.url });
  }
}

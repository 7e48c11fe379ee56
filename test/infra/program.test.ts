import { beforeAll, describe, expect, it } from 'vitest';
import { ENVIRONMENT, SECRET_VARIABLES, variablesOf } from '../../shared/environment.js';
import { GCLOUD_CLIENT_ID } from '../../shared/identity/google.js';
import { ALERT_KINDS } from '../../shared/events/index.js';
import { ALERT_KIND_LOG_FIELD } from '../../shared/log.js';
import { DEAD_LETTER_TOPICS, FUNCTIONS, SECRET_ENV, INDEXED_QUERIES, SCHEDULES, SUBSCRIPTIONS, TTL_COLLECTIONS, allTopics, rolesOf, type FunctionDefinition, type FunctionRole } from '../../shared/topology.js';
import type { Infrastructure } from '../../infra/program.js';
import { environmentBuildNames } from '../../shared/domain/executor/index.js';
import { ENVIRONMENTS } from '../../shared/events/instance.js';
import { INSTANCES_FOLDER, PROJECT, PUBSUB_AGENT, TEST_SETTINGS, field, installMocks, ofType, runProgram, settle, type Registered } from './support.js';

/** A grant as the tests write it: `project <role>`, `topic <name> <role>`, `secret <id> <role>`, `instances <role>`. */
function described(grant: FunctionRole): string {
  switch (grant.on) {
    case 'project':
      return `project ${grant.role}`;
    case 'topic':
      return `topic ${grant.topic} ${grant.role}`;
    case 'secret':
      return `secret ${SECRET_NAMES[grant.secret]} ${grant.role}`;
    case 'instanceProjects':
      return `instances ${grant.role}`;
    case 'centralBackupProject':
      return `central ${grant.role}`;
    case 'buildAccounts':
      return `build-accounts ${grant.role}`;
    case 'plansBuckets':
      return `plans ${grant.role}`;
    case 'evidenceBucket':
      return `evidence ${grant.role}`;
    case 'scratchDatabases':
      return `scratch-databases ${grant.role}`;
  }
}

const functions: readonly FunctionDefinition[] = FUNCTIONS;
/** Each secret kind's Secret Manager id in the test stack. */
const SECRET_NAMES = {
  webhookSecret: TEST_SETTINGS.webhookSecretName,
  githubTokenSecret: TEST_SETTINGS.githubTokenSecretName,
  notifyRoutes: TEST_SETTINGS.notifyRoutesSecretName,
  pagerKey: TEST_SETTINGS.pagerKeySecretName,
} as const;
const kebab = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
const PUBLIC_MEMBERS = ['allUsers', 'allAuthenticatedUsers'];

describe('the control plane on GCP (Pulumi program, mocked)', () => {
  const registered: Registered[] = [];
  let infra: Infrastructure;

  beforeAll(async () => {
    await installMocks(registered);
    // Only now: importing the program before the mocks would run it against no engine.
    const { buildInfrastructure } = await import('../../infra/program.js');
    const { sharedTopology } = await import('../../infra/model.js');
    infra = buildInfrastructure(sharedTopology(), TEST_SETTINGS);
    await settle(registered, [...Object.values(infra.functionUrls), ...Object.values(infra.deadLetterSubscriptions)]);
  });

  const deployed = () => ofType(registered, 'gcp:cloudfunctionsv2/function:Function');
  const functionNamed = (fn: FunctionDefinition) => {
    const found = deployed().filter((f) => f.inputs.name === kebab(fn.name));
    expect(found, fn.name).toHaveLength(1);
    return found[0];
  };
  const runtimeEmail = (fn: FunctionDefinition) => field(functionNamed(fn), 'serviceConfig.serviceAccountEmail') as string;
  /** The Cloud Run service URI (run.app): a push's endpoint and its token's audience. */
  const urlOf = (fn: FunctionDefinition) => `https://${kebab(fn.name)}-abc123-ew.a.run.app`;
  const invokersOf = (fn: FunctionDefinition) =>
    ofType(registered, 'gcp:cloudrunv2/serviceIamMember:ServiceIamMember')
      .filter((b) => b.inputs.name === kebab(fn.name) && b.inputs.role === 'roles/run.invoker')
      .map((b) => b.inputs.member as string)
      .sort();

  it('every function of the topology is deployed: gen2, nodejs22, from its own source archive, its name as entry point', () => {
    expect(deployed().map((f) => f.inputs.name).sort()).toEqual(functions.map((f) => kebab(f.name)).sort());
    const objects = ofType(registered, 'gcp:storage/bucketObject:BucketObject');
    expect(objects.map((o) => o.inputs.name).sort()).toEqual(functions.map((f) => `${f.name}.zip`).sort());
    for (const fn of functions) {
      const deployment = functionNamed(fn);
      expect(field(deployment, 'buildConfig.runtime')).toBe('nodejs22');
      expect(field(deployment, 'buildConfig.entryPoint')).toBe(fn.name);
      expect(field(deployment, 'buildConfig.source.storageSource.object')).toBe(`${fn.name}.zip`);
      // npm ci installs no dev dependency (no TypeScript, tsx or esbuild in a function) and runs no script.
      expect(field(deployment, 'buildConfig.environmentVariables')).toEqual({ GOOGLE_NODE_RUN_SCRIPTS: '', NODE_ENV: 'production', NPM_CONFIG_OMIT: 'dev' });
      expect(field(deployment, 'serviceConfig.timeoutSeconds')).toBe(fn.timeoutSeconds);
      expect(field(deployment, 'serviceConfig.availableMemory')).toBe(`${fn.memoryMb}M`);
    }
  });

  it('every schedule of the topology is a Cloud Scheduler job publishing to its topic', () => {
    const jobs = ofType(registered, 'gcp:cloudscheduler/job:Job');
    expect(jobs.map((j) => j.inputs.name).sort()).toEqual(SCHEDULES.map((s) => s.name).sort());
    for (const schedule of SCHEDULES) {
      const job = jobs.find((j) => j.inputs.name === schedule.name) as Registered;
      expect(job.inputs.schedule).toBe(schedule.cron);
      expect(job.inputs.timeZone).toBe(schedule.timeZone);
      expect(field(job, 'pubsubTarget.topicName')).toBe(`projects/${PROJECT}/topics/${schedule.topic}`);
      expect(field(job, 'pubsubTarget.attributes')).toEqual({ schedule: schedule.name });
    }
  });

  it('every topic and dead-letter topic of the topology exists, once', () => {
    const topics = ofType(registered, 'gcp:pubsub/topic:Topic').map((t) => t.inputs.name);
    expect([...topics].sort()).toEqual([...allTopics()].sort());
  });

  it('the subscription that feeds each Pub/Sub-driven function has a dead-letter topic, a retry policy and an OIDC push to that function', () => {
    const subscriptions = ofType(registered, 'gcp:pubsub/subscription:Subscription');
    const pubsubFunctions = functions.filter((f) => f.trigger.kind === 'pubsub');
    expect(pubsubFunctions.length).toBeGreaterThan(0);
    for (const fn of pubsubFunctions) {
      const expected = SUBSCRIPTIONS.find((s) => s.function === fn.name);
      expect(expected, fn.name).toBeDefined();
      if (!expected) continue;
      const onTopic = subscriptions.filter((s) => s.inputs.topic === `projects/${PROJECT}/topics/${expected.topic}` && field(s, 'pushConfig') !== undefined);
      // One push subscription per function the topic feeds (mi-events feeds rolloutEvents and notify).
      expect(onTopic, expected.topic).toHaveLength(pubsubFunctions.filter((f) => f.trigger.kind === 'pubsub' && f.trigger.topic === expected.topic).length);
      const feeding = onTopic.filter((s) => s.inputs.name === expected.name);
      expect(feeding, fn.name).toHaveLength(1);
      const subscription = feeding[0];
      expect(subscription.inputs.name).toBe(expected.name);
      expect(field(subscription, 'deadLetterPolicy.deadLetterTopic')).toBe(`projects/${PROJECT}/topics/${expected.deadLetter.topic}`);
      expect(field(subscription, 'deadLetterPolicy.maxDeliveryAttempts')).toBe(expected.deadLetter.maxDeliveryAttempts);
      expect(field(subscription, 'retryPolicy')).toEqual({
        minimumBackoff: `${expected.retryPolicy.minimumBackoffSeconds}s`,
        maximumBackoff: `${expected.retryPolicy.maximumBackoffSeconds}s`,
      });
      expect(subscription.inputs.ackDeadlineSeconds).toBe(expected.ackDeadlineSeconds);
      expect(field(subscription, 'pushConfig.pushEndpoint')).toBe(`${urlOf(fn)}/projects/${PROJECT}/topics/${expected.topic}`);
      expect(field(subscription, 'pushConfig.oidcToken.audience')).toBe(urlOf(fn));
      const invoker = field(subscription, 'pushConfig.oidcToken.serviceAccountEmail') as string;
      expect(invoker).toMatch(/@mi-test-project\.iam\.gserviceaccount\.com$/);
      // The push identity may invoke this function, and it is nobody's runtime account.
      expect(invokersOf(fn)).toEqual([`serviceAccount:${invoker}`]);
      expect(functions.map(runtimeEmail)).not.toContain(invoker);
    }
  });

  it('the Pub/Sub service agent may publish to every dead-letter topic and acknowledge on every subscription that dead-letters', () => {
    const topicGrants = ofType(registered, 'gcp:pubsub/topicIAMMember:TopicIAMMember').filter((g) => g.inputs.member === PUBSUB_AGENT);
    expect(topicGrants.map((g) => `${String(g.inputs.topic)} ${String(g.inputs.role)}`).sort()).toEqual(
      [...DEAD_LETTER_TOPICS].map((t) => `${t} roles/pubsub.publisher`).sort(),
    );
    const subscriptionGrants = ofType(registered, 'gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember').filter((g) => g.inputs.member === PUBSUB_AGENT);
    expect(subscriptionGrants.map((g) => `${String(g.inputs.subscription)} ${String(g.inputs.role)}`).sort()).toEqual(
      SUBSCRIPTIONS.map((s) => `${s.name} roles/pubsub.subscriber`).sort(),
    );
  });

  it('every dead-letter topic keeps its messages in a pull subscription, and an alert fires when it holds any', () => {
    const subscriptions = ofType(registered, 'gcp:pubsub/subscription:Subscription');
    const policies = ofType(registered, 'gcp:monitoring/alertPolicy:AlertPolicy');
    for (const topic of DEAD_LETTER_TOPICS) {
      const held = subscriptions.filter((s) => s.inputs.topic === `projects/${PROJECT}/topics/${topic}`);
      expect(held, topic).toHaveLength(1);
      expect(field(held[0], 'pushConfig')).toBeUndefined();
      expect(field(held[0], 'expirationPolicy.ttl')).toBe('');
      const watching = policies.filter((p) => JSON.stringify(p.inputs.conditions).includes(`subscription_id = \\"${String(held[0]?.inputs.name)}\\"`));
      expect(watching, topic).toHaveLength(1);
      const condition = field(watching[0], 'conditions.0.conditionThreshold') as Record<string, unknown>;
      expect(condition.filter).toContain('metric.type = "pubsub.googleapis.com/subscription/num_undelivered_messages"');
      expect(condition.comparison).toBe('COMPARISON_GT');
      expect(condition.thresholdValue).toBe(0);
    }
    expect(policies.filter((p) => JSON.stringify(p.inputs.conditions).includes('num_undelivered_messages'))).toHaveLength(DEAD_LETTER_TOPICS.length);
  });

  it('alert policies watch stuck operations, compliance failures, scheduler failures and error spikes, each notifying the configured channels with a runbook', () => {
    const policies = ofType(registered, 'gcp:monitoring/alertPolicy:AlertPolicy');
    const named = (displayName: string) => {
      const found = policies.filter((p) => p.inputs.displayName === displayName);
      expect(found, displayName).toHaveLength(1);
      return found[0];
    };
    const services = functions.map((fn) => kebab(fn.name));
    const logMatch = (policy: Registered) => field(policy, 'conditions.0.conditionMatchedLog') as { filter: string; labelExtractors?: Record<string, string> };
    const watching = (displayName: string, kinds: readonly string[]) => {
      const policy = named(displayName);
      const { filter } = logMatch(policy);
      // The functions' own lines (every deployed one), with the field the outbox logs for each alert it publishes.
      expect(filter).toContain('resource.type="cloud_run_revision"');
      for (const service of services) expect(filter, service).toContain(`"${service}"`);
      expect(filter).toContain(`jsonPayload.${ALERT_KIND_LOG_FIELD}=(${kinds.map((k) => `"${k}"`).join(' OR ')})`);
      for (const kind of kinds) expect(ALERT_KINDS).toContain(kind);
      return policy;
    };
    const stuck = watching('An operation is stuck', ['operation-stuck']);
    expect(logMatch(stuck).labelExtractors).toMatchObject({ instance: 'EXTRACT(labels.instance)' });
    const compliance = watching('A compliance run failed or is incomplete', ['compliance-failed', 'compliance-incomplete']);

    const scheduler = named('A Cloud Scheduler job of the control plane failed');
    expect(logMatch(scheduler).filter).toContain('resource.type="cloud_scheduler_job"');
    expect(logMatch(scheduler).filter).toContain('severity>=ERROR');
    for (const schedule of SCHEDULES) expect(logMatch(scheduler).filter, schedule.name).toContain(`"${schedule.name}"`);

    const metrics = ofType(registered, 'gcp:logging/metric:Metric');
    expect(metrics).toHaveLength(1);
    expect(String(metrics[0]?.inputs.filter)).toContain('severity>=ERROR');
    for (const service of services) expect(String(metrics[0]?.inputs.filter), service).toContain(`"${service}"`);
    const errors = named('A control plane function logs errors at a high rate');
    const threshold = field(errors, 'conditions.0.conditionThreshold') as { filter: string; thresholdValue: number; comparison: string; aggregations: { groupByFields: string[] }[] };
    expect(threshold.filter).toContain(`metric.type = "logging.googleapis.com/user/${String(metrics[0]?.inputs.name)}"`);
    expect(threshold).toMatchObject({ comparison: 'COMPARISON_GT', thresholdValue: 10 });
    expect(threshold.aggregations[0]?.groupByFields).toEqual(['metric.label.function']);

    for (const policy of [stuck, compliance, scheduler, errors]) {
      expect(policy.inputs.notificationChannels, String(policy.inputs.displayName)).toEqual(TEST_SETTINGS.alertNotificationChannels);
      expect(String(field(policy, 'documentation.content')).length).toBeGreaterThan(40);
    }
    // Cloud Monitoring refuses a log-match policy without a rate limit on its notifications.
    for (const policy of [stuck, compliance, scheduler]) expect(field(policy, 'alertStrategy.notificationRateLimit.period')).toBe('300s');
  });

  it('no function runs (or is built) as the default compute service account: each runs as an account of its own', () => {
    const accounts = ofType(registered, 'gcp:serviceaccount/account:Account').map((a) => `${String(a.inputs.accountId)}@${PROJECT}.iam.gserviceaccount.com`);
    const emails = functions.map(runtimeEmail);
    for (const email of emails) {
      expect(email).toBeTruthy();
      expect(email).not.toMatch(/-compute@developer\.gserviceaccount\.com$|@appspot\.gserviceaccount\.com$/);
      expect(accounts).toContain(email);
    }
    expect(new Set(emails).size).toBe(emails.length);
    for (const deployment of deployed()) {
      expect(String(field(deployment, 'buildConfig.serviceAccount'))).toMatch(/serviceAccounts\/mi-functions-build@/);
    }
  });

  it('only the webhook allows unauthenticated calls', () => {
    const publicFunctions = functions.filter((fn) => invokersOf(fn).some((m) => PUBLIC_MEMBERS.includes(m))).map((fn) => fn.name);
    const webhook = functions.some((fn) => fn.name === 'githubWebhook') ? ['githubWebhook'] : [];
    expect(publicFunctions).toEqual(webhook);
  });

  it('exactly the functions marked allowUnauthenticated allow unauthenticated calls', () => {
    for (const fn of functions) {
      const isPublic = invokersOf(fn).some((m) => PUBLIC_MEMBERS.includes(m));
      expect(isPublic, fn.name).toBe(fn.trigger.kind === 'http' && fn.trigger.allowUnauthenticated);
    }
  });

  it('the commands function is not public: only the configured operators may invoke it', () => {
    const commands = functions.find((fn) => fn.name === 'commands');
    expect(commands).toBeDefined();
    if (!commands) return;
    expect(invokersOf(commands)).toEqual(['group:sre@example.com']);
  });

  it('no person publishes to a topic or writes a stored record: people read Firestore and the dashboard, and act only through the commands function', () => {
    const human = /^(user|group|domain):/;
    const grantsToPeople = registered.filter((r) => typeof r.inputs.member === 'string' && human.test(String(r.inputs.member)));
    const held = grantsToPeople.map((g) => `${g.type} ${String(g.inputs.role)}`).sort();
    expect(held).toEqual([
      'gcp:cloudrunv2/serviceIamMember:ServiceIamMember roles/run.invoker',
      'gcp:cloudrunv2/serviceIamMember:ServiceIamMember roles/run.invoker',
      'gcp:projects/iAMMember:IAMMember roles/datastore.viewer',
      // The anchors of the evidence bucket, for mi compliance verify.
      'gcp:storage/bucketIAMMember:BucketIAMMember roles/storage.objectViewer',
    ]);
    const invoked = grantsToPeople.filter((g) => g.type === 'gcp:cloudrunv2/serviceIamMember:ServiceIamMember').map((g) => String(g.inputs.name));
    expect(invoked.map((name) => name.replace(/^.*(commands|dashboard).*$/, '$1')).sort(), invoked.join(', ')).toEqual(['commands', 'dashboard']);
  });

  it('the dashboard is not public, and its account may only read Firestore', () => {
    const dashboard = functions.find((fn) => fn.name === 'dashboard');
    expect(dashboard).toBeDefined();
    if (!dashboard) return;
    expect(invokersOf(dashboard)).toEqual(['group:sre@example.com']);
    const member = 'serviceAccount:mi-fn-dashboard@' + TEST_SETTINGS.project + '.iam.gserviceaccount.com';
    const roles = registered.filter((r) => r.inputs.member === member).map((r) => `${r.type} ${String(r.inputs.role)}`);
    expect(roles).toEqual(['gcp:projects/iAMMember:IAMMember roles/datastore.viewer']);
  });

  it('every prod PAM entitlement is time-bound and approved by someone else (break-glass alone is granted at once, and announced); no requester may approve', () => {
    const entitlements = ofType(registered, 'gcp:privilegedaccessmanager/entitlement:entitlement');
    expect(entitlements.map((e) => e.inputs.entitlementId).sort()).toEqual(['dev-operator', 'prod-breakglass', 'prod-operator']);
    for (const e of entitlements) {
      const id = String(e.inputs.entitlementId);
      const hours = Number.parseInt(String(e.inputs.maxRequestDuration), 10) / 3600;
      const requesters = (field(e, 'eligibleUsers') as Array<{ principals: string[] }>).flatMap((u) => u.principals);
      const steps = (field(e, 'approvalWorkflow.manualApprovals.steps') as Array<{ approvers: { principals: string[] } }> | undefined) ?? [];
      const approvers = steps.flatMap((step) => step.approvers.principals);
      expect(requesters, id).toEqual(['group:sre@example.com']);
      expect(approvers.filter((a) => requesters.includes(a)), `${id}: requesters among its approvers`).toEqual([]);
      expect(field(e, 'requesterJustificationConfig.unstructured'), `${id} asks why`).toBeDefined();
      const folder = id.startsWith('prod-') ? TEST_SETTINGS.accessFolders?.prod : TEST_SETTINGS.accessFolders?.dev;
      expect([e.inputs.parent, field(e, 'privilegedAccess.gcpIamAccess.resource')], id).toEqual([folder, `//cloudresourcemanager.googleapis.com/${String(folder)}`]);
      if (!id.startsWith('prod-')) continue;
      expect(hours, `${id}: at most 8 h`).toBeLessThanOrEqual(8);
      if (id === 'prod-breakglass') {
        expect(steps, 'break-glass is granted at once').toEqual([]);
        expect(field(e, 'additionalNotificationTargets.adminEmailRecipients')).toEqual(['security@example.com']);
      } else {
        expect(steps.length, `${id}: an approval step`).toBeGreaterThan(0);
        expect(approvers).toEqual(['group:oncall-approvers@example.com']);
        expect(field(e, 'approvalWorkflow.manualApprovals.requireApproverJustification')).toBe(true);
      }
    }
  });

  it("every topic's publishers are the control plane's own accounts (and the Pub/Sub agent for dead letters), never a person", () => {
    const publishers = ofType(registered, 'gcp:pubsub/topicIAMMember:TopicIAMMember').filter((g) => g.inputs.role === 'roles/pubsub.publisher');
    expect(publishers.length).toBeGreaterThan(0);
    for (const grant of publishers) {
      expect(String(grant.inputs.member), String(grant.inputs.topic)).toMatch(/^serviceAccount:(mi-[a-z0-9-]+@|service-\d+@gcp-sa-pubsub\.)/);
    }
  });

  it("each function's account holds exactly the roles derived from what it uses, and nothing else", () => {
    const withMember = registered.filter((r) => typeof r.inputs.member === 'string');
    for (const fn of functions) {
      const member = `serviceAccount:${runtimeEmail(fn)}`;
      const grants = withMember
        .filter((g) => g.inputs.member === member)
        .map((g) => {
          const role = String(g.inputs.role);
          switch (g.type) {
            case 'gcp:projects/iAMMember:IAMMember':
              if (g.inputs.project === TEST_SETTINGS.centralBackupProject) return `central ${role}`;
              expect(g.inputs.project).toBe(PROJECT);
              if (g.inputs.condition !== undefined) {
                // The drill's right to delete databases reaches its scratch databases only, never the live one.
                expect(g.inputs.condition).toMatchObject({ expression: `resource.name.startsWith("projects/${PROJECT}/databases/drill-")` });
                return `scratch-databases ${role}`;
              }
              return `project ${role}`;
            case 'gcp:pubsub/topicIAMMember:TopicIAMMember':
              return `topic ${String(g.inputs.topic)} ${role}`;
            case 'gcp:secretmanager/secretIamMember:SecretIamMember':
              return `secret ${String(g.inputs.secretId)} ${role}`;
            case 'gcp:folder/iAMMember:IAMMember':
              expect(g.inputs.folder).toBe(INSTANCES_FOLDER);
              return `instances ${role}`;
            case 'gcp:serviceaccount/iAMMember:IAMMember':
              // One grant on each environment's build account, counted below.
              expect(String(g.inputs.serviceAccountId)).toMatch(/\/serviceAccounts\/mi-builds-(dev|prod)@/);
              return `build-accounts ${role}`;
            case 'gcp:storage/bucketIAMMember:BucketIAMMember':
              if (String(g.inputs.bucket).startsWith('evidence')) return `evidence ${role}`;
              // One grant on each environment's plans bucket, counted below.
              expect(String(g.inputs.bucket)).toMatch(/^builds-(dev|prod)-plans-/);
              return `plans ${role}`;
            default:
              return `unexpected ${g.type} ${role}`;
          }
        });
      const onBuildAccounts = grants.filter((g) => g.startsWith('build-accounts '));
      expect(onBuildAccounts.length, `${fn.name}: a grant on each build account`).toBe(new Set(onBuildAccounts).size * ENVIRONMENTS.length);
      const onPlans = grants.filter((g) => g.startsWith('plans '));
      expect(onPlans.length, `${fn.name}: a grant on each plans bucket`).toBe(new Set(onPlans).size * ENVIRONMENTS.length);
      expect([...new Set(grants)].sort(), fn.name).toEqual(rolesOf(fn).map(described).sort());
    }
  });

  it('each secret is readable, and mounted, only where the topology grants it: the webhook secret in the webhook alone', () => {
    const secrets = ofType(registered, 'gcp:secretmanager/secret:Secret');
    expect(secrets.map((s) => s.inputs.secretId).sort()).toEqual(Object.values(SECRET_NAMES).sort());
    const cases = (Object.keys(SECRET_NAMES) as Array<keyof typeof SECRET_NAMES>).map((kind) => ({ kind, secretId: SECRET_NAMES[kind], env: SECRET_ENV[kind] }));
    for (const { kind, secretId, env } of cases) {
      const readers = functions.filter((fn) => (fn.uses.secrets as readonly string[]).includes(kind));
      const grants = ofType(registered, 'gcp:secretmanager/secretIamMember:SecretIamMember').filter((g) => g.inputs.secretId === secretId);
      // The executor's builds clone the deployment repository with the token, as their own accounts.
      const builds = kind === 'githubTokenSecret' ? ENVIRONMENTS.map((e) => `serviceAccount:mi-builds-${e}@${PROJECT}.iam.gserviceaccount.com`) : [];
      expect(grants.map((g) => g.inputs.member).sort(), kind).toEqual([...readers.map((fn) => `serviceAccount:${runtimeEmail(fn)}`), ...builds].sort());
      for (const fn of functions) {
        const mounted = ((field(functionNamed(fn), 'serviceConfig.secretEnvironmentVariables') ?? []) as Array<{ key: string; secret: string }>).filter((v) => v.secret === secretId);
        expect(mounted.map((v) => v.key), `${fn.name} ${kind}`).toEqual(readers.includes(fn) ? [env] : []);
      }
    }
    const webhookReaders = functions.filter((fn) => (fn.uses.secrets as readonly string[]).includes('webhookSecret')).map((fn) => fn.name);
    expect(webhookReaders).toEqual(functions.some((fn) => fn.name === 'githubWebhook') ? ['githubWebhook'] : []);
  });

  it("the executor's builds: an account per environment, the only one that may write its state and plans buckets (the functions that read plans for people may only read them), which nobody reaches publicly", () => {
    const planReaders = functions.filter((fn) => fn.uses.plans === 'read').map((fn) => `serviceAccount:${runtimeEmail(fn)}`);
    expect(planReaders.length).toBeGreaterThan(0);
    for (const environment of ENVIRONMENTS) {
      const names = environmentBuildNames(PROJECT, environment);
      const member = `serviceAccount:${names.serviceAccountEmail}`;
      expect(ofType(registered, 'gcp:serviceaccount/account:Account').map((a) => a.inputs.accountId)).toContain(`mi-builds-${environment}`);
      for (const bucketName of [names.stateBucket, names.plansBucket]) {
        const bucket = ofType(registered, 'gcp:storage/bucket:Bucket').find((b) => b.inputs.name === bucketName);
        expect(bucket, bucketName).toBeDefined();
        expect(bucket?.inputs.publicAccessPrevention).toBe('enforced');
        expect(bucket?.inputs.uniformBucketLevelAccess).toBe(true);
        const access = ofType(registered, 'gcp:storage/bucketIAMMember:BucketIAMMember').filter((g) => g.inputs.bucket === `${bucket?.name ?? ''}-7f3a`);
        expect(access.length).toBeGreaterThan(0);
        const writers = access.filter((g) => g.inputs.role !== 'roles/storage.objectViewer').map((g) => g.inputs.member);
        const readers = access.filter((g) => g.inputs.role === 'roles/storage.objectViewer').map((g) => g.inputs.member);
        expect([new Set(writers), new Set(readers)], bucketName).toEqual([new Set([member]), new Set(bucketName === names.plansBucket ? planReaders : [])]);
      }
      const state = ofType(registered, 'gcp:storage/bucket:Bucket').find((b) => b.inputs.name === names.stateBucket);
      expect(field(state as Registered, 'versioning.enabled')).toBe(true);
    }
    // Functions that run builds may act as the build accounts; nobody else is granted on them.
    const actAs = ofType(registered, 'gcp:serviceaccount/iAMMember:IAMMember')
      .filter((g) => /\/serviceAccounts\/mi-builds-/.test(String(g.inputs.serviceAccountId)))
      .map((g) => String(g.inputs.member));
    const runners = functions.filter((fn) => (fn.uses).builds === 'run').map((fn) => `serviceAccount:${runtimeEmail(fn)}`);
    expect(new Set(actAs)).toEqual(new Set(runners));
  });

  it('every registered query has a composite index on its fields, in order', () => {
    const indexes = ofType(registered, 'gcp:firestore/index:Index');
    for (const query of INDEXED_QUERIES) {
      const matching = indexes.filter(
        (i) =>
          i.inputs.collection === query.collection &&
          i.inputs.queryScope === (query.collectionGroup ? 'COLLECTION_GROUP' : 'COLLECTION') &&
          JSON.stringify(i.inputs.fields) === JSON.stringify(query.fields.map((f) => ({ fieldPath: f.field, order: f.order }))),
      );
      expect(matching, query.name).toHaveLength(1);
    }
    expect(indexes).toHaveLength(INDEXED_QUERIES.length);
  });

  it('every TTL collection has a TTL policy on its field', () => {
    const fields = ofType(registered, 'gcp:firestore/field:Field');
    expect(fields.map((f) => `${String(f.inputs.collection)}.${String(f.inputs.field)}`).sort()).toEqual(TTL_COLLECTIONS.map((t) => `${t.collection}.${t.field}`).sort());
    for (const ttl of fields) expect(ttl.inputs.ttlConfig).toBeDefined();
    expect(ofType(registered, 'gcp:firestore/database:Database').map((d) => d.inputs.name)).toEqual(['(default)']);
  });

  it("the control plane's database is backed up on schedule: daily kept 7 days, weekly kept 14 weeks, beside point-in-time recovery", () => {
    const schedules = ofType(registered, 'gcp:firestore/backupSchedule:BackupSchedule').map((s) => ({ retention: s.inputs.retention, daily: s.inputs.dailyRecurrence !== undefined, day: field(s, 'weeklyRecurrence.day') ?? null }));
    expect(schedules).toEqual(
      expect.arrayContaining([
        { retention: '604800s', daily: true, day: null },
        { retention: '8467200s', daily: false, day: 'SUNDAY' },
      ]),
    );
    expect(schedules).toHaveLength(2);
    expect(ofType(registered, 'gcp:firestore/database:Database')[0]?.inputs.pointInTimeRecoveryEnablement).toBe('POINT_IN_TIME_RECOVERY_ENABLED');
  });

  it("the evidence bucket's retention is locked at 400 days or more, never public, and kept when the stack goes", () => {
    const [bucket, ...others] = ofType(registered, 'gcp:storage/bucket:Bucket').filter((b) => String(b.inputs.name).endsWith('-compliance-evidence'));
    expect(others).toEqual([]);
    expect(bucket?.inputs.name).toBe(`${PROJECT}-compliance-evidence`);
    expect(field(bucket, 'retentionPolicy.isLocked')).toBe(true);
    expect(Number(field(bucket, 'retentionPolicy.retentionPeriod'))).toBeGreaterThanOrEqual(400 * 86_400);
    expect(bucket?.inputs.publicAccessPrevention).toBe('enforced');
    expect(bucket?.inputs.uniformBucketLevelAccess).toBe(true);
    // Only the anchoring function may create objects there; people and the rest may at most read.
    const creators = ofType(registered, 'gcp:storage/bucketIAMMember:BucketIAMMember').filter((g) => String(g.inputs.bucket).startsWith('evidence') && g.inputs.role !== 'roles/storage.objectViewer');
    expect(creators.map((g) => `${String(g.inputs.member)} ${String(g.inputs.role)}`)).toEqual([`serviceAccount:mi-fn-compliance-schedule@${PROJECT}.iam.gserviceaccount.com roles/storage.objectCreator`]);
  });

  it("every function gets exactly the plain variables the environment contract says it reads, and the commands audiences are its own URL and the gcloud CLI's client id", () => {
    for (const fn of functions) {
      const env = field(functionNamed(fn), 'serviceConfig.environmentVariables') as Record<string, string>;
      const plain = variablesOf(fn.name).filter((name) => !SECRET_VARIABLES.includes(name));
      // Optional ones are set only when configured: here only the access entitlements (the test settings declare access folders).
      expect(Object.keys(env).sort(), fn.name).toEqual(plain.filter((name) => !('optional' in ENVIRONMENT[name]) || name === 'MI_ACCESS_ENTITLEMENTS').sort());
      expect(env.GOOGLE_CLOUD_PROJECT).toBe(PROJECT);
    }
    const envOf = (name: string) => field(functionNamed(functions.find((f) => f.name === name) as FunctionDefinition), 'serviceConfig.environmentVariables') as Record<string, string>;
    expect(envOf('complianceSchedule').MI_ACCESS_ENTITLEMENTS?.split(',')).toHaveLength(3);
    expect(envOf('commands').MI_COMMANDS_AUDIENCES?.split(',')).toEqual([`https://${TEST_SETTINGS.region}-${PROJECT}.cloudfunctions.net/commands`, GCLOUD_CLIENT_ID]);
    // The dashboard's callers' tokens are for its own URL (service accounts) or gcloud's client (people), not the commands function's.
    expect(envOf('dashboard').MI_DASHBOARD_AUDIENCES?.split(',')).toEqual([`https://${TEST_SETTINGS.region}-${PROJECT}.cloudfunctions.net/dashboard`, GCLOUD_CLIENT_ID]);
  });
});

describe('the program refuses what would deploy a control plane that cannot work', () => {
  let preflight: (settings: typeof TEST_SETTINGS) => void;
  beforeAll(async () => {
    ({ preflight } = await import('../../infra/program.js'));
  });

  it.each([
    ['operators', { operators: [] }, /mi:operators is empty: nobody may call commands/],
    ['alertNotificationChannels', { alertNotificationChannels: [] }, /mi:alertNotificationChannels is empty: every alert .* would notify nobody/],
    ['githubWebhookSecret', { githubWebhookSecret: undefined }, /mi:githubWebhookSecret is not set: the webhook secret would have no version/],
    ['githubToken', { githubToken: undefined }, /mi:githubToken is not set: the repository token would have no version/],
    ['accessFolders', { accessFolders: undefined }, /mi:accessFolders is not set: nobody could get time-bound access/],
  ] as const)('without %s, naming the setting and how to set it or allow it', (setting, change, message) => {
    const settings = { ...TEST_SETTINGS, ...change };
    if (change && 'githubWebhookSecret' in change) delete settings.githubWebhookSecret;
    if (change && 'githubToken' in change) delete settings.githubToken;
    if (change && 'accessFolders' in change) delete settings.accessFolders;
    expect(() => preflight(settings)).toThrow(message);
    expect(() => preflight(settings)).toThrow(`pulumi config set --path 'mi:allowUnset[0]' ${setting}`);
    // Deliberately left unset: allowed.
    expect(() => preflight({ ...settings, allowUnset: [setting] })).not.toThrow();
  });

  it('refuses unsafe access entitlements outright, naming each problem: prod with nobody to approve, requesters who approve', () => {
    expect(() => preflight({ ...TEST_SETTINGS, accessApprovers: [], allowUnset: ['accessApprovers'] })).toThrow(/prod-operator: a prod entitlement needs approvers .*mi:accessApprovers names who approves prod access/);
    expect(() => preflight({ ...TEST_SETTINGS, accessApprovers: ['group:sre@example.com'] })).toThrow('prod-operator: group:sre@example.com may both request and approve');
  });

  it('the test settings pass', () => {
    expect(() => preflight(TEST_SETTINGS)).not.toThrow();
  });
});

describe('the program enables, sizes and orders what the functions need', () => {
  const registered: Registered[] = [];
  beforeAll(async () => {
    await runProgram(registered);
  });

  it('every API the functions call is enabled in the control plane project: Cloud SQL Admin, Backup for GKE and Resource Manager among them', async () => {
    const { requiredApis } = await import('../../infra/program.js');
    const services = ofType(registered, 'gcp:projects/service:Service');
    const enabled = services.filter((s) => s.inputs.project !== TEST_SETTINGS.centralBackupProject).map((s) => String(s.inputs.service));
    expect(enabled.sort()).toEqual(requiredApis({ functions: FUNCTIONS }));
    // And Backup for GKE in the central backup project, where final backups go across projects.
    expect(services.filter((s) => s.inputs.project === TEST_SETTINGS.centralBackupProject).map((s) => s.inputs.service)).toEqual(['gkebackup.googleapis.com']);
    for (const api of ['sqladmin.googleapis.com', 'gkebackup.googleapis.com', 'cloudresourcemanager.googleapis.com', 'secretmanager.googleapis.com', 'cloudscheduler.googleapis.com', 'firestore.googleapis.com']) {
      expect(enabled, api).toContain(api);
    }
    for (const service of ofType(registered, 'gcp:projects/service:Service')) expect(service.inputs.disableOnDestroy, String(service.inputs.service)).toBe(false);
  });

  it('each function runs with the capacity of its topology entry: instances, concurrency, CPU', () => {
    for (const fn of FUNCTIONS) {
      const deployment = ofType(registered, 'gcp:cloudfunctionsv2/function:Function').find((f) => f.inputs.name === fn.name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase());
      expect(deployment, fn.name).toBeDefined();
      if (!deployment) continue;
      expect(field(deployment, 'serviceConfig.maxInstanceCount'), fn.name).toBe(fn.capacity.maxInstances);
      expect(field(deployment, 'serviceConfig.maxInstanceRequestConcurrency'), fn.name).toBe(fn.capacity.concurrency);
      expect(field(deployment, 'serviceConfig.availableCpu'), fn.name).toBe(String(fn.capacity.cpu));
    }
  });

  it('the secrets get their versions from the stack\'s config secrets', () => {
    const versions = ofType(registered, 'gcp:secretmanager/secretVersion:SecretVersion');
    expect(versions.map((v) => v.name).sort()).toEqual(['github-token', 'webhook-secret']);
    // Marked secret (kept encrypted in the state): the mocks hand the value inside Pulumi's secret wrapper.
    const valueOfSecret = (input: unknown) => (typeof input === 'object' && input !== null && 'value' in input ? (input).value : input);
    expect(versions.map((v) => valueOfSecret(v.inputs.secretData)).sort()).toEqual([TEST_SETTINGS.githubToken, TEST_SETTINGS.githubWebhookSecret].sort());
    for (const version of versions) expect(version.inputs.secretData, version.name).not.toBeTypeOf('string');
  });
});

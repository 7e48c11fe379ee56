/**
 * The one description of the system's wiring: topics, the push subscriptions that feed the
 * functions, dead letters, schedules, and the Firestore queries that need composite indexes.
 * infra/ deploys it, `mi dev` runs it, tests read it. Nothing here is listed twice elsewhere.
 */
import { COLLECTIONS, SUBCOLLECTIONS } from './store/collections.js';
import { TOPICS, type TopicName } from './topics.js';
export { TOPICS, type TopicKey, type TopicName } from './topics.js';

export interface RetryPolicy {
  minimumBackoffSeconds: number;
  maximumBackoffSeconds: number;
}

export interface DeadLetterPolicy {
  topic: string;
  maxDeliveryAttempts: number;
}

/** A push subscription the program owns (not an Eventarc trigger, which cannot dead-letter). */
export interface PushSubscription {
  name: string;
  topic: TopicName;
  /** The function it pushes to. */
  function: FunctionName;
  ackDeadlineSeconds: number;
  retryPolicy: RetryPolicy;
  deadLetter: DeadLetterPolicy;
}

export type FunctionTrigger =
  | { kind: 'pubsub'; topic: TopicName }
  | { kind: 'http'; allowUnauthenticated: boolean };

export interface FunctionDefinition {
  name: string;
  /** The file under functions/ that registers it. */
  source: string;
  description: string;
  trigger: FunctionTrigger;
  timeoutSeconds: number;
  memoryMb: number;
  /**
   * What its code touches that needs a permission, declared once: its service account's roles
   * (rolesOf) and the APIs the program enables (apisUsed) derive from this, and the recorded-use
   * test (test/integration/rights) fails when the code touches anything not declared here, or
   * declares what it never touches.
   */
  uses: FunctionUse;
  capacity: FunctionCapacity;
}

/** The secrets a function may read, each exposed to it as one environment variable. */
export const SECRET_ENV = {
  webhookSecret: 'MI_GITHUB_WEBHOOK_SECRET',
  githubTokenSecret: 'MI_GITHUB_TOKEN',
  /** The notifier's routing table: Slack channels and their incoming webhooks' URLs (shared/domain/notify/routes.ts). */
  notifyRoutes: 'MI_NOTIFY_ROUTES',
  /** The OpsGenie API key the notifier pages with. */
  pagerKey: 'MI_OPSGENIE_KEY',
} as const;
export type SecretKind = keyof typeof SECRET_ENV;
/** The environment variable that carries the GitHub webhook secret to the functions allowed to read it. */
export const WEBHOOK_SECRET_ENV = SECRET_ENV.webhookSecret;
/** The environment variable that carries the token reading the deployment repository. */
export const GITHUB_TOKEN_ENV = SECRET_ENV.githubTokenSecret;

export interface FunctionUse {
  /** Topics it publishes to, directly or through its outbox entries. */
  publishes: readonly TopicName[];
  /** The topics its outbox entries may name: republished by the outbox drainer when the publish after the commit was lost. */
  outbox: readonly TopicName[];
  /** It republishes whatever any function left in the outbox, so it publishes to every outbox topic. */
  drainsOutbox?: true;
  secrets: readonly SecretKind[];
  /** Firestore: only to read it (the dashboard); absent, to read and write it, as every function that decides anything. */
  firestore?: 'read';
  /** Cloud SQL in the instances' projects: to act on it (backups, restores, deletes), or only to read it. */
  cloudSql?: 'act' | 'read';
  /** Backup for GKE in the instances' projects: to act on it, or only to read it. */
  gkeBackup?: 'act' | 'read';
  /** Backup for GKE in the central backup project, where a deleted instance's final backup outlives it. */
  centralBackups?: 'act';
  /** Reads the control plane's own Cloud Scheduler jobs (the schedule control). */
  schedulerJobs?: 'read';
  /** Reads PAM's grants and the IAM policies of the instances' folders and projects (the access review). */
  accessReview?: 'read';
  /** Cloud Build in the control plane's project: to run the executor's builds (as the build accounts), or only to read them. */
  builds?: 'run' | 'read';
  /** The executor's plans buckets: to read a saved plan for a person. */
  plans?: 'read';
  /** The compliance evidence bucket: to create the daily anchors (and read one back when a run is retried). */
  evidence?: 'write';
  /** The control plane's own Firestore backups: to restore one into a scratch database and delete that database (the drill). */
  databaseDrill?: 'act';
  /** Posts to Slack's incoming webhooks and pages through OpsGenie: outside Google Cloud, no role (the secrets hold the URLs and the key). */
  notifies?: true;
}

/**
 * How much work a function can take at once, and how much arrives at once. Rejected pushes
 * count as delivery attempts, so a burst that waits too long for capacity is dead-lettered: the
 * rule test checks `burst × secondsPerDelivery / (maxInstances × concurrency)` against the
 * subscription's retry window (test/unit/topology.test.ts).
 */
export interface FunctionCapacity {
  maxInstances: number;
  /** Requests one instance serves at once (above one needs at least one CPU). */
  concurrency: number;
  cpu: number;
  /** Expected seconds one delivery takes (not the timeout), from the benchmarks and the calls it makes. */
  secondsPerDelivery: number;
  /** The most messages that can arrive at once at FLEET_SIZE instances, and why. */
  burst: { messages: number; why: string };
}

/** The fleet the capacity is sized for. */
export const FLEET_SIZE = 10_000;

/**
 * What a function that advances operations touches: facts and executor requests (both through
 * the outbox), Cloud SQL and Backup for GKE in the instances' projects. Those that take up any
 * step (lifecycle's first steps, reconcile's retries) also the central backup project, where a
 * delete's final GKE backup goes; executor results are never followed by one.
 */
const ENGINE_USE = {
  // Facts, and an operation that ended well its spec change to write back (mi-deployments), through the outbox.
  // Only the reconciler ends an operation that changes the spec (see FACTS_ONLY).
  publishes: [TOPICS.events, TOPICS.deployments],
  outbox: [TOPICS.events, TOPICS.deployments],
  secrets: [],
  cloudSql: 'act',
  gkeBackup: 'act',
  builds: 'run',
} as const satisfies FunctionUse;

/**
 * What an engine function publishes when it never ends an operation that changes the spec:
 * accepting one never ends it, and an executor's result never ends an upgrade, a create or a
 * recovery (each ends on a step the reconciler polls: the health gate after the rollout, the
 * backup policy check). Should one ever, its write-back stays in the outbox for the reconciler.
 */
const FACTS_ONLY = { publishes: [TOPICS.events], outbox: [TOPICS.events] } as const;

/** A function that serves people (HTTP): a few requests at a time, each a transaction or two. */
const HTTP_CAPACITY = { maxInstances: 5, concurrency: 8, cpu: 1, secondsPerDelivery: 1, burst: { messages: 20, why: 'people and GitHub, a few at a time' } } as const;

/** An IAM role held by a function's account: on the control plane's project, one of its topics, a secret, or the instances' projects (their folder). */
export type FunctionRole =
  | { role: string; on: 'project' }
  | { role: string; on: 'topic'; topic: TopicName }
  | { role: string; on: 'secret'; secret: SecretKind }
  | { role: string; on: 'instanceProjects' }
  | { role: string; on: 'centralBackupProject' }
  /** The build service accounts (one per environment): to run builds as them. */
  | { role: string; on: 'buildAccounts' }
  /** The executor's plans buckets (one per environment). */
  | { role: string; on: 'plansBuckets' }
  /** The compliance evidence bucket (retention locked). */
  | { role: string; on: 'evidenceBucket' }
  /** The control plane's project, conditioned on the database's name: only the drill's scratch databases (SCRATCH_DATABASE_PREFIX). */
  | { role: string; on: 'scratchDatabases' };

export interface Schedule {
  name: string;
  /** Cron in the Cloud Scheduler dialect (five fields), evaluated in `timeZone`. */
  cron: string;
  timeZone: string;
  topic: TopicName;
  description: string;
  /** `mi dev` runs schedules on a faster local clock. */
  localEverySeconds: number;
}

export interface IndexedQuery {
  name: string;
  collection: string;
  collectionGroup: boolean;
  /** Fields in index order: equality filters first, then the range/order field. */
  fields: ReadonlyArray<{ field: string; order: 'ASCENDING' | 'DESCENDING' }>;
  description: string;
}

const DEFAULT_RETRY: RetryPolicy = { minimumBackoffSeconds: 10, maximumBackoffSeconds: 600 };
const MAX_DELIVERY_ATTEMPTS = 10;

export const FUNCTIONS = [
  {
    name: 'lifecycle',
    source: 'functions/lifecycle.ts',
    description: 'Accepts lifecycle commands: validate, dedupe, lease the instance, start the operation',
    trigger: { kind: 'pubsub', topic: TOPICS.lifecycle },
    timeoutSeconds: 60,
    memoryMb: 512,
    // Accepting an operation never ends it well (its steps outlive the delivery): no write-back from here.
    uses: { ...ENGINE_USE, ...FACTS_ONLY, centralBackups: 'act' },
    // One accepting transaction and the first steps: about 6 reads, 12 writes, 3 service calls.
    capacity: { maxInstances: 20, concurrency: 8, cpu: 1, secondsPerDelivery: 0.5, burst: { messages: FLEET_SIZE, why: 'a merge that changes every config.yaml, or a day of dev expiries' } },
  },
  {
    name: 'reconcile',
    source: 'functions/reconcile.ts',
    description: 'Advances due operations step by step, flags stuck ones, drains the outbox',
    trigger: { kind: 'pubsub', topic: TOPICS.reconcile },
    timeoutSeconds: 300,
    memoryMb: 512,
    // The outbox holds what every feature decided: facts, commands, executor requests, pushes.
    uses: { ...ENGINE_USE, centralBackups: 'act', drainsOutbox: true },
    capacity: { maxInstances: 3, concurrency: 1, cpu: 1, secondsPerDelivery: 60, burst: { messages: 2, why: 'one tick a minute, and a redelivery' } },
  },
  {
    name: 'executorResults',
    source: 'functions/executor-results.ts',
    description: 'Records the outcome of executor runs and moves their operations on',
    trigger: { kind: 'pubsub', topic: TOPICS.executorResults },
    timeoutSeconds: 60,
    memoryMb: 512,
    uses: { ...ENGINE_USE, ...FACTS_ONLY },
    capacity: { maxInstances: 10, concurrency: 8, cpu: 1, secondsPerDelivery: 0.5, burst: { messages: FLEET_SIZE, why: 'a module applied to every instance, finishing together' } },
  },
  {
    name: 'buildNotifications',
    source: 'functions/build-notifications.ts',
    description: "Cloud Build's notifications: a build of ours that ended is read from the Builds API and recorded on its step",
    trigger: { kind: 'pubsub', topic: TOPICS.buildNotifications },
    timeoutSeconds: 60,
    memoryMb: 512,
    // Reads the build that ended (builds.get), records it, and moves its operation on.
    uses: { ...ENGINE_USE, ...FACTS_ONLY },
    // Three notifications a build (queued, working, ended); only the last reads the build.
    capacity: { maxInstances: 10, concurrency: 8, cpu: 1, secondsPerDelivery: 0.5, burst: { messages: 3 * FLEET_SIZE, why: 'a module applied to every instance: each build queued, working and ended' } },
  },
  {
    name: 'commands',
    source: 'functions/commands.ts',
    description: "The only way a person changes anything: lifecycle commands, approvals, confirmations, abandon, extend, rollout and compliance runs, access reviews, and the backups of an instance; the caller taken from a verified Google ID token",
    // Private: Cloud Run lets only invokers in, and the function verifies the token's audience and email itself.
    trigger: { kind: 'http', allowUnauthenticated: false },
    timeoutSeconds: 60,
    memoryMb: 512,
    // Reads an instance's backups for `mi backup list` (people need no grant to find one in an incident),
    // a module apply's saved plan for `mi apply show` (the plans buckets grant people nothing),
    // and the repository's branch head, the commit a command's builds run.
    // Lifecycle commands and compliance runs through the outbox; facts of approvals and abandons;
    // a rollout's first tick. An approval moves its operation on through the engine: the steps
    // that follow one (a delete's final GKE backup plan and backup, in the central project).
    uses: {
      publishes: [TOPICS.lifecycle, TOPICS.compliance, TOPICS.events, TOPICS.rollout],
      outbox: [TOPICS.lifecycle, TOPICS.compliance, TOPICS.events],
      secrets: ['githubTokenSecret'],
      cloudSql: 'read',
      gkeBackup: 'read',
      centralBackups: 'act',
      plans: 'read',
    },
    capacity: HTTP_CAPACITY,
  },
  {
    name: 'dashboard',
    source: 'functions/dashboard.ts',
    description: 'The fleet dashboard, read-only: instances, operations, rollouts and workflows with their waves, the compliance matrix and its evidence, a page at a time; the caller taken from a verified Google ID token',
    // Private like commands: Cloud Run lets only invokers in (mi dashboard's proxy adds the operator's token), and the function verifies it.
    trigger: { kind: 'http', allowUnauthenticated: false },
    timeoutSeconds: 60,
    memoryMb: 512,
    // A page is a few limited Firestore queries; nothing is published, no other service is called.
    uses: { publishes: [], outbox: [], secrets: [], firestore: 'read' },
    capacity: { ...HTTP_CAPACITY, burst: { messages: 20, why: 'operators reloading pages, a few at a time' } },
  },
  {
    name: 'complianceSchedule',
    source: 'functions/compliance-schedule.ts',
    description: 'Scheduled compliance: a run per cron slot fanned out to mi-checks, dev expiry, the daily report, restore drills, the access review',
    trigger: { kind: 'pubsub', topic: TOPICS.compliance },
    // Paging 10,000 instance ids and publishing a message for each takes seconds, not minutes.
    timeoutSeconds: 540,
    memoryMb: 512,
    // The fan-out to mi-checks; dev expiry deletes and restore drills are commands on mi-lifecycle;
    // expiry notices and the report's alert are facts, the notices through the outbox.
    uses: { publishes: [TOPICS.checks, TOPICS.lifecycle, TOPICS.events], outbox: [TOPICS.events], secrets: [], accessReview: 'read', evidence: 'write', databaseDrill: 'act' },
    // bench/compliance.ts: the fan-out of 10,000 instances takes about 9 s.
    capacity: { maxInstances: 2, concurrency: 1, cpu: 1, secondsPerDelivery: 30, burst: { messages: 3, why: 'schedules whose slots coincide (the hourly retention check with the daily ones)' } },
  },
  {
    name: 'complianceCheck',
    source: 'functions/compliance-check.ts',
    description: 'Checks one instance (or the Cloud Scheduler jobs) for a compliance run and writes its finding with evidence',
    trigger: { kind: 'pubsub', topic: TOPICS.checks },
    timeoutSeconds: 60,
    memoryMb: 512,
    // Reads each instance's backup configuration and backups, and the scheduler jobs; writes a
    // finding; safe drift is remediated by a command (a run's alert is the report's, not the check's).
    uses: { publishes: [TOPICS.lifecycle], outbox: [], secrets: [], cloudSql: 'read', gkeBackup: 'read', schedulerJobs: 'read' },
    // One finding write per delivery: 30 × 16 = 480 in flight keeps a run's new findings
    // collection under Firestore's 500 writes/s for a new collection (its 500/50/5 rule).
    capacity: { maxInstances: 30, concurrency: 16, cpu: 1, secondsPerDelivery: 1, burst: { messages: FLEET_SIZE + 1, why: 'a compliance run fans out one check per instance, and one for the schedules' } },
  },
  {
    name: 'rollout',
    source: 'functions/rollout.ts',
    description: 'Rollout ticks (scheduled, and after each finished upgrade): plan the next upgrades of a rollout and publish them',
    trigger: { kind: 'pubsub', topic: TOPICS.rollout },
    timeoutSeconds: 120,
    memoryMb: 512,
    // Upgrade commands and a halt's alert through the outbox (its next ticks come from rolloutEvents and the schedule).
    uses: { publishes: [TOPICS.lifecycle, TOPICS.events], outbox: [TOPICS.lifecycle, TOPICS.events], secrets: [] },
    capacity: { maxInstances: 5, concurrency: 8, cpu: 1, secondsPerDelivery: 2, burst: { messages: 200, why: 'a tick after each finished upgrade of a wave, up to its in-flight limit' } },
  },
  {
    name: 'rolloutEvents',
    source: 'functions/rollout-events.ts',
    description: "Records the outcome of each upgrade a rollout started (from the engine's facts) and ticks its rollout",
    trigger: { kind: 'pubsub', topic: TOPICS.events },
    timeoutSeconds: 60,
    memoryMb: 512,
    uses: { publishes: [TOPICS.rollout], outbox: [], secrets: [] },
    capacity: { maxInstances: 10, concurrency: 16, cpu: 1, secondsPerDelivery: 0.2, burst: { messages: 2 * FLEET_SIZE, why: 'every fact of a fleet-wide operation: accepted and ended, for each instance' } },
  },
  {
    name: 'notify',
    source: 'functions/notify.ts',
    description: 'Tells people what needs them: failures, stuck operations, halted rollouts, compliance and access alerts, dev expiries to Slack; pages through OpsGenie what needs someone now',
    trigger: { kind: 'pubsub', topic: TOPICS.events },
    timeoutSeconds: 60,
    memoryMb: 512,
    uses: { publishes: [], outbox: [], secrets: ['notifyRoutes', 'pagerKey'], notifies: true },
    // Most facts are no notice (one read of the instance, no write); a burst above the rate is held for its digest.
    capacity: { maxInstances: 10, concurrency: 16, cpu: 1, secondsPerDelivery: 0.2, burst: { messages: 2 * FLEET_SIZE, why: 'every fact of a fleet-wide operation: accepted and ended, for each instance' } },
  },
  {
    name: 'githubWebhook',
    source: 'functions/github-webhook.ts',
    description: 'GitHub deliveries of the deployment repository: signature checked, deduplicated, merges handed to mi-deployments as references',
    // GitHub cannot present a Google identity: the HMAC signature over the body is the authentication.
    trigger: { kind: 'http', allowUnauthenticated: true },
    timeoutSeconds: 60,
    memoryMb: 512,
    uses: { publishes: [TOPICS.deployments], outbox: [TOPICS.deployments], secrets: ['webhookSecret'] },
    capacity: { ...HTTP_CAPACITY, maxInstances: 10 },
  },
  {
    name: 'deployments',
    source: 'functions/deployments.ts',
    description: 'Merged changes of the deployment repository: spec changes become lifecycle commands, module changes plans and module changes on the rollout planner (its applies in waves and windows)',
    trigger: { kind: 'pubsub', topic: TOPICS.deployments },
    timeoutSeconds: 300,
    memoryMb: 512,
    // Reads a finished plan's build for its summary; ticks a module change it recorded, or whose apply it saw end.
    uses: { publishes: [TOPICS.lifecycle, TOPICS.rollout], outbox: [TOPICS.lifecycle], secrets: ['githubTokenSecret'], builds: 'read' },
    capacity: { maxInstances: 5, concurrency: 4, cpu: 1, secondsPerDelivery: 5, burst: { messages: 100, why: 'merges in quick succession, and the deployments tick' } },
  },
] as const satisfies readonly FunctionDefinition[];
export type FunctionName = (typeof FUNCTIONS)[number]['name'];

function pushSubscriptionFor(fn: FunctionDefinition & { trigger: { kind: 'pubsub'; topic: TopicName } }): PushSubscription {
  return {
    name: `${fn.trigger.topic}--${fn.name}`,
    topic: fn.trigger.topic,
    function: fn.name as FunctionName,
    ackDeadlineSeconds: Math.min(600, Math.max(10, fn.timeoutSeconds)),
    retryPolicy: DEFAULT_RETRY,
    deadLetter: { topic: deadLetterTopicOf(fn.trigger.topic), maxDeliveryAttempts: MAX_DELIVERY_ATTEMPTS },
  };
}

/** The dead-letter topic of a topic's subscriptions. */
export function deadLetterTopicOf(topic: TopicName): string {
  return `${topic}-dead-letter`;
}

/** Narrows a function to one fed by a topic (checking `fn.trigger.kind` inline does not narrow `fn`). */
function isPubSubFunction(fn: FunctionDefinition): fn is FunctionDefinition & { trigger: { kind: 'pubsub'; topic: TopicName } } {
  return fn.trigger.kind === 'pubsub';
}

export const SUBSCRIPTIONS: readonly PushSubscription[] = FUNCTIONS.flatMap((fn) => (isPubSubFunction(fn) ? [pushSubscriptionFor(fn)] : []));

/** The dead-letter topics some subscriptions use, each once, sorted. */
export function deadLetterTopicsOf(subscriptions: readonly PushSubscription[]): string[] {
  return [...new Set(subscriptions.map((s) => s.deadLetter.topic))].sort();
}

/** Every dead-letter topic in use. */
export const DEAD_LETTER_TOPICS: readonly string[] = deadLetterTopicsOf(SUBSCRIPTIONS);

export const SCHEDULES = [
  {
    name: 'reconcile',
    cron: '* * * * *',
    timeZone: 'Etc/UTC',
    topic: TOPICS.reconcile,
    description: 'Every minute: advance due operations, report stuck ones, drain the outbox',
    localEverySeconds: 3,
  },
  {
    name: 'verify-backups',
    cron: '0 2 * * *',
    timeZone: 'Etc/UTC',
    topic: TOPICS.compliance,
    description: 'Daily: check every instance against the backup policy (one finding each, with evidence) and the schedules themselves',
    localEverySeconds: 60,
  },
  {
    name: 'check-retention',
    cron: '15 * * * *',
    timeZone: 'Etc/UTC',
    topic: TOPICS.compliance,
    description: 'Hourly: notice of dev instances expiring within 24 hours, delete those past expiry and grace (never prod)',
    localEverySeconds: 30,
  },
  {
    name: 'compliance-report',
    cron: '0 6 * * *',
    timeZone: 'Etc/UTC',
    topic: TOPICS.compliance,
    description: 'Daily, four hours after verify-backups: the summary of its run from the findings, uncovered instances as failures',
    localEverySeconds: 90,
  },
  {
    name: 'restore-drill',
    cron: '0 4 * * 1',
    timeZone: 'Etc/UTC',
    topic: TOPICS.compliance,
    description: 'Weekly: restore the latest Cloud SQL backup of a rotating sample into a throwaway instance, verify, delete it',
    localEverySeconds: 600,
  },
  {
    name: 'access-review',
    cron: '*/15 * * * *',
    timeZone: 'Etc/UTC',
    topic: TOPICS.compliance,
    description: 'Every 15 minutes: every PAM grant change into the audit trail (break-glass alerts at once), then the sweep for human access on prod no active grant explains',
    localEverySeconds: 20,
  },
  {
    name: 'anchor-records',
    cron: '*/10 * * * *',
    timeZone: 'Etc/UTC',
    topic: TOPICS.compliance,
    description: "Every 10 minutes: link settled audit records into their hash chains; once a day is wholly linked, its compliance findings too, and the day's Merkle root with an export of its records into the locked evidence bucket",
    localEverySeconds: 30,
  },  {
    name: 'drill-database',
    cron: '*/15 * * * *',
    timeZone: 'Etc/UTC',
    topic: TOPICS.compliance,
    description: "Every 15 minutes, a drill a week: restore the newest scheduled backup of the control plane's own Firestore into a scratch database, compare a day of its audit trail, runs and findings with the live ones, delete the scratch database",
    localEverySeconds: 20,
  },

  {
    name: 'notify-digests',
    cron: '* * * * *',
    timeZone: 'Etc/UTC',
    topic: TOPICS.events,
    description: 'Every minute: one digest per channel, kind and ended interval of the notices held above the channel\'s rate (the other functions on mi-events ignore the tick)',
    localEverySeconds: 5,
  },
  {
    name: 'rollout-tick',
    cron: '*/5 * * * *',
    timeZone: 'Etc/UTC',
    topic: TOPICS.rollout,
    description: 'Every 5 minutes: tick every running rollout (soak times, maintenance windows, busy instances tried again)',
    localEverySeconds: 5,
  },
  {
    name: 'deployments',
    cron: '* * * * *',
    timeZone: 'Etc/UTC',
    topic: TOPICS.deployments,
    description: 'Every minute: module applies moved on (plans finished and asked again when unanswered or busy, applies followed to their end; a module change a cut-off push left unrecorded is recorded)',
    localEverySeconds: 3,
  },
] as const satisfies readonly Schedule[];

export const INDEXED_QUERIES = [
  {
    name: 'due-digests',
    collection: COLLECTIONS.notifications,
    collectionGroup: false,
    fields: [
      { field: 'status', order: 'ASCENDING' },
      { field: 'windowEnd', order: 'ASCENDING' },
    ],
    description: 'The notifier: notices held for a digest whose interval has ended (status in held|digesting, windowEnd <= now)',
  },
  {
    name: 'due-operations',
    collection: COLLECTIONS.operations,
    collectionGroup: false,
    fields: [
      { field: 'status', order: 'ASCENDING' },
      { field: 'nextRunAt', order: 'ASCENDING' },
    ],
    description: 'The reconciler: running operations whose next step is due (status == running, nextRunAt <= now)',
  },
  {
    name: 'operations-of-instance',
    collection: COLLECTIONS.operations,
    collectionGroup: false,
    fields: [
      { field: 'instanceId', order: 'ASCENDING' },
      { field: 'createdAt', order: 'DESCENDING' },
    ],
    description: 'mi: the latest operations of one instance (mi instance get, mi op list <instance>)',
  },
  {
    name: 'operations-by-status',
    collection: COLLECTIONS.operations,
    collectionGroup: false,
    fields: [
      { field: 'status', order: 'ASCENDING' },
      { field: 'createdAt', order: 'DESCENDING' },
    ],
    description: 'mi op list --status: the fleet\'s operations in one status, newest first',
  },
  {
    name: 'audit-of-instance',
    collection: COLLECTIONS.audit,
    collectionGroup: false,
    fields: [
      { field: 'instanceId', order: 'ASCENDING' },
      { field: 'at', order: 'ASCENDING' },
    ],
    description: 'mi audit <instance>: the trail of one instance, oldest first',
  },
  {
    name: 'audit-of-operation',
    collection: COLLECTIONS.audit,
    collectionGroup: false,
    fields: [
      { field: 'operationId', order: 'ASCENDING' },
      { field: 'at', order: 'ASCENDING' },
    ],
    description: 'mi audit --op <id>: the trail of one operation, oldest first',
  },
  {
    name: 'audit-by-action',
    collection: COLLECTIONS.audit,
    collectionGroup: false,
    fields: [
      { field: 'action', order: 'ASCENDING' },
      { field: 'at', order: 'ASCENDING' },
    ],
    description: "The compliance report's change trail: the records of the actions that applied a commit of the deployment repository in a period (action in …, at in [from, to)), oldest first",
  },
  {
    name: 'compliance-runs-by-schedule',
    collection: COLLECTIONS.complianceRuns,
    collectionGroup: false,
    fields: [
      { field: 'schedule', order: 'ASCENDING' },
      { field: 'slotStart', order: 'DESCENDING' },
    ],
    description: 'Compliance reports: the runs of one schedule, newest first (the 30-day trend, the latest run)',
  },
  {
    name: 'failed-findings-of-run',
    collection: SUBCOLLECTIONS.findings,
    collectionGroup: false,
    fields: [
      { field: 'kind', order: 'ASCENDING' },
      { field: 'outcome', order: 'ASCENDING' },
    ],
    description: 'Compliance summary: failing instance findings of one run (count and list; kind == instance, outcome == fail)',
  },
  {
    name: 'fan-outs-of-kind',
    collection: COLLECTIONS.rollouts,
    collectionGroup: false,
    fields: [
      { field: 'kind', order: 'ASCENDING' },
      { field: 'createdAt', order: 'DESCENDING' },
    ],
    description: 'mi workflow status: the latest workflow (kind == workflow), newest first',
  },
  {
    name: 'rollout-progress-of-wave',
    collection: SUBCOLLECTIONS.rolloutProgress,
    collectionGroup: false,
    fields: [
      { field: 'wave', order: 'ASCENDING' },
      { field: 'state', order: 'ASCENDING' },
    ],
    description: 'Rollouts (rollouts/{id}/instances): in-flight and failed counts of a wave inside the tick transaction; failed instances of a wave for mi rollout status',
  },
  {
    name: 'rollout-members-eligible',
    collection: SUBCOLLECTIONS.rolloutProgress,
    collectionGroup: false,
    fields: [
      { field: 'wave', order: 'ASCENDING' },
      { field: 'state', order: 'ASCENDING' },
      { field: 'eligibleAt', order: 'ASCENDING' },
    ],
    description: 'A rollout tick: the open members of a wave whose time to start has come, soonest first, as many as it has free slots',
  },
  {
    name: 'rollout-members-in-flight-since',
    collection: SUBCOLLECTIONS.rolloutProgress,
    collectionGroup: false,
    fields: [
      { field: 'state', order: 'ASCENDING' },
      { field: 'startedAt', order: 'ASCENDING' },
    ],
    description: 'The schedule: members in flight for long, checked against the ledger and their operation (leaked slots)',
  },
] as const satisfies readonly IndexedQuery[];
export type IndexedQueryName = (typeof INDEXED_QUERIES)[number]['name'];

/** Looks a registered query up by name; the store refuses queries that are not registered. */
export function indexedQuery(name: IndexedQueryName): IndexedQuery {
  const query = INDEXED_QUERIES.find((q) => q.name === name);
  if (!query) throw new Error(`no registered query named ${name}`);
  return query;
}

/** Firestore collections whose documents expire by a TTL policy on `expireAt`. */
export const TTL_COLLECTIONS = [
  { collection: COLLECTIONS.ledger, field: 'expireAt', days: 30 },
  { collection: COLLECTIONS.webhookDeliveries, field: 'expireAt', days: 30 },
  { collection: COLLECTIONS.executorRequests, field: 'expireAt', days: 30 },
  { collection: COLLECTIONS.commandRequests, field: 'expireAt', days: 30 },
  { collection: COLLECTIONS.notifications, field: 'expireAt', days: 90 },
  // Evidence: kept RECORD_RETENTION_DAYS (shared/store/records.ts), as long as the anchors' locked bucket keeps theirs.
  { collection: COLLECTIONS.audit, field: 'expireAt', days: 400 },
  { collection: COLLECTIONS.complianceRuns, field: 'expireAt', days: 400 },
  /** A collection group: every run's findings. */
  { collection: SUBCOLLECTIONS.findings, field: 'expireAt', days: 400 },
  { collection: COLLECTIONS.databaseDrills, field: 'expireAt', days: 400 },
] as const;

/** All topics to create: the topology's own and their dead letters. */
export function allTopics(): string[] {
  return [...Object.values(TOPICS), ...DEAD_LETTER_TOPICS];
}

/** The topics any function's outbox entries may name: what the outbox drainer must be allowed to publish. */
export function outboxTopics(functions: readonly FunctionDefinition[] = FUNCTIONS): TopicName[] {
  return [...new Set(functions.flatMap((fn) => fn.uses.outbox))].sort();
}

/** Every topic a function publishes to, its outbox's included (and all outbox topics for the drainer). */
export function publishedTopics(fn: FunctionDefinition, functions: readonly FunctionDefinition[] = FUNCTIONS): TopicName[] {
  return [...new Set([...fn.uses.publishes, ...fn.uses.outbox, ...(fn.uses.drainsOutbox ? outboxTopics(functions) : [])])].sort();
}

/** The roles its account holds, derived from what it uses: exactly these, nothing else. */
export function rolesOf(fn: FunctionDefinition, functions: readonly FunctionDefinition[] = FUNCTIONS): FunctionRole[] {
  const roles: FunctionRole[] = [{ role: fn.uses.firestore === 'read' ? 'roles/datastore.viewer' : 'roles/datastore.user', on: 'project' }];
  for (const topic of publishedTopics(fn, functions)) roles.push({ role: 'roles/pubsub.publisher', on: 'topic', topic });
  for (const secret of [...fn.uses.secrets].sort()) roles.push({ role: 'roles/secretmanager.secretAccessor', on: 'secret', secret });
  if (fn.uses.cloudSql !== undefined) roles.push({ role: fn.uses.cloudSql === 'act' ? 'roles/cloudsql.admin' : 'roles/cloudsql.viewer', on: 'instanceProjects' });
  if (fn.uses.gkeBackup !== undefined) roles.push({ role: fn.uses.gkeBackup === 'act' ? 'roles/gkebackup.admin' : 'roles/gkebackup.viewer', on: 'instanceProjects' });
  if (fn.uses.centralBackups === 'act') roles.push({ role: 'roles/gkebackup.admin', on: 'centralBackupProject' });
  if (fn.uses.schedulerJobs === 'read') roles.push({ role: 'roles/cloudscheduler.viewer', on: 'project' });
  if (fn.uses.accessReview === 'read') {
    roles.push({ role: 'roles/privilegedaccessmanager.viewer', on: 'instanceProjects' }, { role: 'roles/iam.securityReviewer', on: 'instanceProjects' });
  }
  if (fn.uses.builds === 'run') roles.push({ role: 'roles/cloudbuild.builds.editor', on: 'project' }, { role: 'roles/iam.serviceAccountUser', on: 'buildAccounts' });
  if (fn.uses.builds === 'read') roles.push({ role: 'roles/cloudbuild.builds.viewer', on: 'project' });
  if (fn.uses.plans === 'read') roles.push({ role: 'roles/storage.objectViewer', on: 'plansBuckets' });
  // Create and read back, never replace or delete (the locked retention refuses those to anyone anyway).
  if (fn.uses.evidence === 'write') roles.push({ role: 'roles/storage.objectCreator', on: 'evidenceBucket' }, { role: 'roles/storage.objectViewer', on: 'evidenceBucket' });
  // List the backups and restore one; delete databases only of the drill's scratch names (the role's condition).
  if (fn.uses.databaseDrill === 'act') roles.push({ role: 'roles/datastore.restoreAdmin', on: 'project' }, { role: 'roles/datastore.owner', on: 'scratchDatabases' });
  return roles;
}

/**
 * The Google APIs the functions' code calls, from what they use. The functions' own credentials
 * bill the control plane's project as the consumer, so each must be enabled there too (even
 * when the instances' projects have it).
 */
export function apisUsed(functions: readonly FunctionDefinition[] = FUNCTIONS): string[] {
  const apis = new Set<string>(['firestore.googleapis.com', 'pubsub.googleapis.com']);
  for (const fn of functions) {
    if (fn.uses.secrets.length > 0) apis.add('secretmanager.googleapis.com');
    if (fn.uses.cloudSql !== undefined) apis.add('sqladmin.googleapis.com');
    if (fn.uses.gkeBackup !== undefined || fn.uses.centralBackups !== undefined) apis.add('gkebackup.googleapis.com');
    if (fn.uses.schedulerJobs !== undefined) apis.add('cloudscheduler.googleapis.com');
    if (fn.uses.accessReview !== undefined) apis.add('privilegedaccessmanager.googleapis.com').add('cloudresourcemanager.googleapis.com');
    if (fn.uses.builds !== undefined) apis.add('cloudbuild.googleapis.com');
    if (fn.uses.plans !== undefined || fn.uses.evidence !== undefined) apis.add('storage.googleapis.com');
  }
  return [...apis].sort();
}

/**
 * The one description of the system's wiring: topics, the push subscriptions that feed the
 * functions, dead letters, schedules, and the Firestore queries that need composite indexes.
 * infra/ deploys it, `mi dev` runs it, tests read it. Nothing here is listed twice elsewhere.
 */

export const TOPICS = {
  lifecycle: 'mi-lifecycle',
  reconcile: 'mi-reconcile',
  executorRequests: 'mi-executor-requests',
  executorResults: 'mi-executor-results',
  checks: 'mi-checks',
  compliance: 'mi-compliance',
  rollout: 'mi-rollout',
  deployments: 'mi-deployments',
  events: 'mi-events',
} as const;
export type TopicKey = keyof typeof TOPICS;
export type TopicName = (typeof TOPICS)[TopicKey];

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
  /** What the function's own service account may do: exactly these, nothing else (infra/ grants them). */
  roles: readonly FunctionRole[];
}

/**
 * An IAM role held by a function's service account, and where: on the control plane's project,
 * on one of its topics, on the GitHub webhook secret (also exposed to the function as
 * `WEBHOOK_SECRET_ENV`), or in the instances' own projects (granted on the folder that holds them).
 */
export type FunctionRole =
  | { role: string; on: 'project' }
  | { role: string; on: 'topic'; topic: TopicName }
  | { role: string; on: 'webhookSecret' }
  | { role: string; on: 'githubTokenSecret' }
  | { role: string; on: 'instanceProjects' };

/** The environment variable that carries the GitHub webhook secret to the functions allowed to read it. */
export const WEBHOOK_SECRET_ENV = 'MI_GITHUB_WEBHOOK_SECRET';
/** The environment variable that carries the token reading the deployment repository (Secret Manager, `on: 'githubTokenSecret'`). */
export const GITHUB_TOKEN_ENV = 'MI_GITHUB_TOKEN';

/**
 * What every function running the operation engine calls: Firestore; the facts (outbox) and
 * executor-request topics; Cloud SQL and Backup for GKE in the instances' projects.
 */
const ENGINE_ROLES = [
  { role: 'roles/datastore.user', on: 'project' },
  { role: 'roles/pubsub.publisher', on: 'topic', topic: TOPICS.events },
  { role: 'roles/pubsub.publisher', on: 'topic', topic: TOPICS.executorRequests },
  { role: 'roles/cloudsql.admin', on: 'instanceProjects' },
  { role: 'roles/gkebackup.admin', on: 'instanceProjects' },
] as const satisfies readonly FunctionRole[];

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
    memoryMb: 256,
    roles: ENGINE_ROLES,
  },
  {
    name: 'reconcile',
    source: 'functions/reconcile.ts',
    description: 'Advances due operations step by step, flags stuck ones, drains the outbox',
    trigger: { kind: 'pubsub', topic: TOPICS.reconcile },
    timeoutSeconds: 300,
    memoryMb: 512,
    roles: ENGINE_ROLES,
  },
  {
    name: 'executorResults',
    source: 'functions/executor-results.ts',
    description: 'Records the outcome of executor runs and moves their operations on',
    trigger: { kind: 'pubsub', topic: TOPICS.executorResults },
    timeoutSeconds: 60,
    memoryMb: 256,
    roles: ENGINE_ROLES,
  },
  {
    name: 'approvals',
    source: 'functions/approvals.ts',
    description: "A second person's approval of an operation that waits for one (a prod delete), the approver taken from a verified Google ID token",
    // Callers still need the invoker role; the function verifies the token's audience and email itself.
    trigger: { kind: 'http', allowUnauthenticated: false },
    timeoutSeconds: 30,
    memoryMb: 256,
    // An approval moves its operation on through the engine.
    roles: ENGINE_ROLES,
  },
  {
    name: 'complianceSchedule',
    source: 'functions/compliance-schedule.ts',
    description: 'Scheduled compliance: a run per cron slot fanned out to mi-checks, dev expiry, the daily report, restore drills',
    trigger: { kind: 'pubsub', topic: TOPICS.compliance },
    // Paging 10,000 instance ids and publishing a message for each takes seconds, not minutes.
    timeoutSeconds: 540,
    memoryMb: 512,
    // The engine (restore drills, expiry deletes are leased operations), plus the fan-out to mi-checks.
    roles: [...ENGINE_ROLES, { role: 'roles/pubsub.publisher', on: 'topic', topic: TOPICS.checks }],
  },
  {
    name: 'complianceCheck',
    source: 'functions/compliance-check.ts',
    description: 'Checks one instance (or the Cloud Scheduler jobs) for a compliance run and writes its finding with evidence',
    trigger: { kind: 'pubsub', topic: TOPICS.checks },
    timeoutSeconds: 60,
    memoryMb: 256,
    // Reads only: backup configuration and backups of each instance, the Cloud Scheduler jobs; writes findings, publishes alerts.
    roles: [
      { role: 'roles/datastore.user', on: 'project' },
      { role: 'roles/pubsub.publisher', on: 'topic', topic: TOPICS.events },
      { role: 'roles/cloudscheduler.viewer', on: 'project' },
      { role: 'roles/cloudsql.viewer', on: 'instanceProjects' },
      { role: 'roles/gkebackup.viewer', on: 'instanceProjects' },
    ],
  },
  {
    name: 'rollout',
    source: 'functions/rollout.ts',
    description: 'Rollout ticks (scheduled, and after each finished upgrade): plan the next upgrades of a rollout and publish them',
    trigger: { kind: 'pubsub', topic: TOPICS.rollout },
    timeoutSeconds: 120,
    memoryMb: 512,
    // Reads the fleet and the rollout, writes progress and the outbox; publishes upgrades, ticks and a halt's alert.
    roles: [
      { role: 'roles/datastore.user', on: 'project' },
      { role: 'roles/pubsub.publisher', on: 'topic', topic: TOPICS.lifecycle },
      { role: 'roles/pubsub.publisher', on: 'topic', topic: TOPICS.rollout },
      { role: 'roles/pubsub.publisher', on: 'topic', topic: TOPICS.events },
    ],
  },
  {
    name: 'rolloutEvents',
    source: 'functions/rollout-events.ts',
    description: "Records the outcome of each upgrade a rollout started (from the engine's facts) and ticks its rollout",
    trigger: { kind: 'pubsub', topic: TOPICS.events },
    timeoutSeconds: 60,
    memoryMb: 256,
    roles: [
      { role: 'roles/datastore.user', on: 'project' },
      { role: 'roles/pubsub.publisher', on: 'topic', topic: TOPICS.rollout },
    ],
  },
  {
    name: 'githubWebhook',
    source: 'functions/github-webhook.ts',
    description: 'GitHub deliveries of the deployment repository: signature checked, deduplicated, merges handed to mi-deployments as references',
    // GitHub cannot present a Google identity: the HMAC signature over the body is the authentication.
    trigger: { kind: 'http', allowUnauthenticated: true },
    timeoutSeconds: 60,
    memoryMb: 512,
    roles: [
      { role: 'roles/datastore.user', on: 'project' },
      { role: 'roles/pubsub.publisher', on: 'topic', topic: TOPICS.deployments },
      { role: 'roles/secretmanager.secretAccessor', on: 'webhookSecret' },
    ],
  },
  {
    name: 'deployments',
    source: 'functions/deployments.ts',
    description: 'Merged changes of the deployment repository: spec changes become lifecycle commands, module changes plans and applies in waves',
    trigger: { kind: 'pubsub', topic: TOPICS.deployments },
    timeoutSeconds: 300,
    memoryMb: 512,
    roles: [
      { role: 'roles/datastore.user', on: 'project' },
      { role: 'roles/pubsub.publisher', on: 'topic', topic: TOPICS.lifecycle },
      { role: 'roles/secretmanager.secretAccessor', on: 'githubTokenSecret' },
    ],
  },
  {
    name: 'applyConfirmations',
    source: 'functions/apply-confirmations.ts',
    description: "A person's confirmation of a planned module apply (or an instance delete from the repository), taken from a verified Google ID token",
    trigger: { kind: 'http', allowUnauthenticated: false },
    timeoutSeconds: 60,
    memoryMb: 256,
    roles: [
      { role: 'roles/datastore.user', on: 'project' },
      { role: 'roles/pubsub.publisher', on: 'topic', topic: TOPICS.lifecycle },
    ],
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

/** Every dead-letter topic in use. */
export const DEAD_LETTER_TOPICS: readonly string[] = [...new Set(SUBSCRIPTIONS.map((s) => s.deadLetter.topic))];

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
    description: 'Every minute: module applies moved on (plans finished, next waves started, busy instances tried again)',
    localEverySeconds: 3,
  },
] as const satisfies readonly Schedule[];

export const INDEXED_QUERIES = [
  {
    name: 'due-operations',
    collection: 'operations',
    collectionGroup: false,
    fields: [
      { field: 'status', order: 'ASCENDING' },
      { field: 'nextRunAt', order: 'ASCENDING' },
    ],
    description: 'The reconciler: running operations whose next step is due (status == running, nextRunAt <= now)',
  },
  {
    name: 'operations-of-instance',
    collection: 'operations',
    collectionGroup: false,
    fields: [
      { field: 'instanceId', order: 'ASCENDING' },
      { field: 'createdAt', order: 'DESCENDING' },
    ],
    description: 'mi: the latest operations of one instance',
  },
  {
    name: 'compliance-runs-by-schedule',
    collection: 'complianceRuns',
    collectionGroup: false,
    fields: [
      { field: 'schedule', order: 'ASCENDING' },
      { field: 'slotStart', order: 'DESCENDING' },
    ],
    description: 'Compliance reports: the runs of one schedule, newest first (the 30-day trend, the latest run)',
  },
  {
    name: 'failed-findings-of-run',
    collection: 'findings',
    collectionGroup: false,
    fields: [
      { field: 'kind', order: 'ASCENDING' },
      { field: 'outcome', order: 'ASCENDING' },
    ],
    description: 'Compliance summary: failing instance findings of one run (count and list; kind == instance, outcome == fail)',
  },
  {
    name: 'rollout-progress-of-wave',
    collection: 'instances',
    collectionGroup: false,
    fields: [
      { field: 'wave', order: 'ASCENDING' },
      { field: 'state', order: 'ASCENDING' },
    ],
    description: 'Rollouts (rollouts/{id}/instances): in-flight count of a wave inside the tick transaction; failed instances of a wave for mi rollout status',
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
  { collection: 'processedEvents', field: 'expireAt', days: 30 },
  { collection: 'webhookDeliveries', field: 'expireAt', days: 30 },
  { collection: 'executorRequests', field: 'expireAt', days: 30 },
] as const;

/** All topics to create: the topology's own and their dead letters. */
export function allTopics(): string[] {
  return [...Object.values(TOPICS), ...DEAD_LETTER_TOPICS];
}

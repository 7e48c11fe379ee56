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
}

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
  },
  {
    name: 'reconcile',
    source: 'functions/reconcile.ts',
    description: 'Advances due operations step by step, flags stuck ones, drains the outbox',
    trigger: { kind: 'pubsub', topic: TOPICS.reconcile },
    timeoutSeconds: 300,
    memoryMb: 512,
  },
  {
    name: 'executorResults',
    source: 'functions/executor-results.ts',
    description: 'Records the outcome of executor runs and moves their operations on',
    trigger: { kind: 'pubsub', topic: TOPICS.executorResults },
    timeoutSeconds: 60,
    memoryMb: 256,
  },
  {
    name: 'approvals',
    source: 'functions/approvals.ts',
    description: "A second person's approval of an operation that waits for one (a prod delete), the approver taken from a verified Google ID token",
    // Callers still need the invoker role; the function verifies the token's audience and email itself.
    trigger: { kind: 'http', allowUnauthenticated: false },
    timeoutSeconds: 30,
    memoryMb: 256,
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
] as const;

/** All topics to create: the topology's own and their dead letters. */
export function allTopics(): string[] {
  return [...Object.values(TOPICS), ...DEAD_LETTER_TOPICS];
}

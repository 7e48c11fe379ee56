/**
 * The part of the topology the Pulumi program deploys, as plain data, and the names derived
 * from it. `buildInfrastructure` takes an `InfraTopology` rather than reading the module
 * constants so that a test can hand it a reordered copy and compare what gets registered.
 */
import {
  FUNCTIONS,
  INDEXED_QUERIES,
  SCHEDULES,
  SUBSCRIPTIONS,
  TOPICS,
  TTL_COLLECTIONS,
  SECRET_ENV,
  deadLetterTopicsOf,
  rolesOf as rolesDerived,
  type FunctionDefinition,
  type FunctionRole,
  type SecretKind,
  type IndexedQuery,
  type PushSubscription,
  type Schedule,
} from '../shared/topology.js';

export interface TtlCollection {
  collection: string;
  field: string;
  days: number;
}

export interface InfraTopology {
  /** The topology's own topics (dead-letter topics are derived from the subscriptions). */
  topics: readonly string[];
  functions: readonly FunctionDefinition[];
  subscriptions: readonly PushSubscription[];
  schedules: readonly Schedule[];
  indexedQueries: readonly IndexedQuery[];
  ttlCollections: readonly TtlCollection[];
}

/** The real topology of shared/topology.ts. */
export function sharedTopology(): InfraTopology {
  return {
    topics: Object.values(TOPICS),
    functions: FUNCTIONS,
    subscriptions: SUBSCRIPTIONS,
    schedules: SCHEDULES,
    indexedQueries: INDEXED_QUERIES,
    ttlCollections: TTL_COLLECTIONS,
  };
}

export type PubSubFunctionDefinition = FunctionDefinition & { trigger: { kind: 'pubsub' } };
export type HttpFunctionDefinition = FunctionDefinition & { trigger: { kind: 'http'; allowUnauthenticated: boolean } };

export function isPubSubFunction(fn: FunctionDefinition): fn is PubSubFunctionDefinition {
  return fn.trigger.kind === 'pubsub';
}

export function isHttpFunction(fn: FunctionDefinition): fn is HttpFunctionDefinition {
  return fn.trigger.kind === 'http';
}

/** Dead-letter topics in use, sorted so the result does not depend on the order of the subscriptions. */
export function deadLetterTopics(topology: InfraTopology): string[] {
  return deadLetterTopicsOf(topology.subscriptions);
}

/** `executorResults` -> `executor-results`: Cloud Functions gen2 and service account ids are lowercase. */
export function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** The deployed name of a function (its Cloud Run service); the entry point stays `fn.name`. */
export function deployedFunctionName(fn: Pick<FunctionDefinition, 'name'>): string {
  const name = kebab(fn.name);
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(name)) {
    throw new Error(`function ${fn.name} gives the deployed name "${name}", which Cloud Functions refuses: use letters and digits, starting with a letter, at most 63`);
  }
  return name;
}

/** A service account id (6..30 lowercase letters, digits, hyphens), failing loudly rather than truncating into a collision. */
export function accountId(prefix: string, fn: Pick<FunctionDefinition, 'name'>): string {
  const id = `${prefix}-${kebab(fn.name)}`;
  if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(id)) {
    throw new Error(`service account id "${id}" for function ${fn.name} is not 6..30 lowercase letters, digits and hyphens: give the function a shorter name`);
  }
  return id;
}

/** Checks what the program relies on: unique names, subscriptions that feed a Pub/Sub function of this topology. */
export function checkTopology(topology: InfraTopology): void {
  const duplicates = (what: string, names: readonly string[]) => {
    const seen = new Set<string>();
    for (const name of names) {
      if (seen.has(name)) throw new Error(`the topology lists the ${what} "${name}" twice`);
      seen.add(name);
    }
  };
  duplicates('topic', [...topology.topics, ...deadLetterTopics(topology)]);
  duplicates('function', topology.functions.map((f) => f.name));
  duplicates('deployed function name', topology.functions.map((f) => deployedFunctionName(f)));
  duplicates('subscription', topology.subscriptions.map((s) => s.name));
  duplicates('schedule', topology.schedules.map((s) => s.name));
  duplicates('indexed query', topology.indexedQueries.map((q) => q.name));
  duplicates('TTL collection', topology.ttlCollections.map((t) => t.collection));
  for (const subscription of topology.subscriptions) {
    const fn = topology.functions.find((f) => f.name === subscription.function);
    if (!fn || !isPubSubFunction(fn)) {
      throw new Error(`subscription ${subscription.name} feeds "${subscription.function}", which is not a Pub/Sub function of the topology`);
    }
    if (!topology.topics.includes(subscription.topic)) throw new Error(`subscription ${subscription.name} reads ${subscription.topic}, which is not a topic of the topology`);
  }
  for (const fn of topology.functions.filter(isPubSubFunction)) {
    if (!topology.subscriptions.some((s) => s.function === fn.name)) throw new Error(`Pub/Sub function ${fn.name} has no subscription in the topology`);
  }
  for (const schedule of topology.schedules) {
    if (!topology.topics.includes(schedule.topic)) throw new Error(`schedule ${schedule.name} publishes to ${schedule.topic}, which is not a topic of the topology`);
  }
  for (const fn of topology.functions) {
    if ((fn as { uses?: unknown }).uses === undefined) {
      throw new Error(`function ${fn.name} declares no uses in shared/topology.ts: say what it publishes and which secrets and services it touches (its roles derive from that)`);
    }
    for (const grant of rolesOf(fn, topology)) {
      if (grant.on === 'topic' && !topology.topics.includes(grant.topic)) {
        throw new Error(`function ${fn.name} is granted ${grant.role} on ${grant.topic}, which is not a topic of the topology`);
      }
    }
  }
}

export { SECRET_ENV, type SecretKind };

/** The secrets a function reads, in a fixed order. */
export function secretsOf(fn: FunctionDefinition): SecretKind[] {
  return [...fn.uses.secrets].sort();
}

/** The roles a function's account holds, derived from what it uses (outbox topics from this topology's functions). */
export function rolesOf(fn: FunctionDefinition, topology: Pick<InfraTopology, 'functions'>): FunctionRole[] {
  return rolesDerived(fn, topology.functions);
}

/** The control plane's topics by role. The topology (shared/topology.ts) says what feeds what; this is only their names, so the lowest layers may name a topic. */
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
  /**
   * Cloud Build publishes every build's status changes here, by this fixed name, in the project
   * the builds run in (the control plane's): the Node client's v1 surface cannot set a build's
   * own `options.pubsubTopic`. The program creates the topic; builds that are not ours are ignored.
   */
  buildNotifications: 'cloud-builds',
} as const;
export type TopicKey = keyof typeof TOPICS;
export type TopicName = (typeof TOPICS)[TopicKey];

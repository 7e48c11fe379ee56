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
} as const;
export type TopicKey = keyof typeof TOPICS;
export type TopicName = (typeof TOPICS)[TopicKey];

/**
 * Every stored record of the control plane, by collection and document-id rule: the one registry
 * that features, the topology's indexed queries and TTL policies, and tests all read. DESIGN.md
 * names the public ones; the rest are features' own.
 */
export const COLLECTIONS = {
  instances: 'instances',
  slugs: 'slugs',
  operations: 'operations',
  /** The ledger of processed events (exactly-once effects of at-least-once delivery). */
  ledger: 'processedEvents',
  outbox: 'outbox',
  audit: 'audit',
  /** Runs asked of the executor over Pub/Sub: each sent once, through the outbox. */
  executorRequests: 'executorRequests',
  complianceRuns: 'complianceRuns',
  expiryNotices: 'expiryNotices',
  rollouts: 'rollouts',
  settings: 'settings',
  webhookDeliveries: 'webhookDeliveries',
  moduleApplies: 'moduleApplies',
  /** The newest spec change of each instance found in the deployment repository. */
  specChanges: 'specChanges',
  /** What people asked through the commands function, by the event id they chose (kept 30 days). */
  commandRequests: 'commandRequests',
  /** Every PAM grant as the audit trail knows it (PAM forgets ended grants after a while). */
  accessGrants: 'accessGrants',
  /** Each access review's sweep: its findings. */
  accessReviews: 'accessReviews',
  /** What people were told: one document per event and channel (sent, held for a digest, or failed for good). */
  notifications: 'notifications',
  /** The head of each hash chain of stored records (shared/domain/compliance/chain.ts). */
  recordChains: 'recordChains',
  /** Each restore drill of the control plane's own database (shared/compliance/database-drill.ts). */
  databaseDrills: 'databaseDrills',
} as const;
export type CollectionName = (typeof COLLECTIONS)[keyof typeof COLLECTIONS];

/** Collections inside a document: a compliance run's findings and plan pages, a rollout's progress per instance. */
export const SUBCOLLECTIONS = {
  findings: 'findings',
  plan: 'plan',
  rolloutProgress: 'instances',
} as const;

const C = COLLECTIONS;
const S = SUBCOLLECTIONS;

/** Document paths of the lifecycle records. */
export const paths = {
  instance: (id: string) => `${C.instances}/${id}`,
  /** A slug is unique within its environment. */
  slug: (environment: string, slug: string) => `${C.slugs}/${environment}:${slug}`,
  /** An operation's id derives from the event that asked for it (`op-<eventId>`). */
  operation: (id: string) => `${C.operations}/${id}`,
  /** Under the event id, or `msg-<Pub/Sub message id>` for a message without one. */
  ledger: (key: string) => `${C.ledger}/${key}`,
  outbox: (eventId: string) => `${C.outbox}/${eventId}`,
  /** Audit ids sort by time (see store/audit.ts). */
  audit: (id: string) => `${C.audit}/${id}`,
  executorRequest: (runKey: string) => `${C.executorRequests}/${runKey}`,
  commandRequest: (eventId: string) => `${C.commandRequests}/${eventId}`,
  /** One event told to one channel: a redelivery finds it, so nobody is told twice. */
  notification: (eventId: string, channel: string) => `${C.notifications}/${eventId}~${channel}`,
} as const;

/** Compliance runs (`complianceRuns/{runId}`: its findings per instance and its planned pages) and expiry notices. */
export const compliancePaths = {
  run: (runId: string) => `${C.complianceRuns}/${runId}`,
  findings: (runId: string) => `${C.complianceRuns}/${runId}/${S.findings}`,
  finding: (runId: string, id: string) => `${C.complianceRuns}/${runId}/${S.findings}/${id}`,
  planPages: (runId: string) => `${C.complianceRuns}/${runId}/${S.plan}`,
  /**
   * A page is named by where its stretch of ids starts, so a page planned again (a resumed
   * run filling a gap, a retried write) lands on the same document instead of beside it.
   */
  planPage: (runId: string, after: string | null) => `${C.complianceRuns}/${runId}/${S.plan}/${after === null ? 'first' : `after-${after}`}`,
  expiryNotice: (instanceId: string, expiresAt: string) => `${C.expiryNotices}/${instanceId}-${expiresAt.replace(/[^0-9TZ]/g, '')}`,
  accessGrant: (grantId: string) => `${C.accessGrants}/${grantId}`,
  accessReview: (runId: string) => `${C.accessReviews}/${runId}`,
  databaseDrill: (drillId: string) => `${C.databaseDrills}/${drillId}`,
} as const;

/** Rollouts, their per-instance progress, and the fleet's calendar. */
export const rolloutPaths = {
  rollout: (id: string) => `${C.rollouts}/${id}`,
  progressCollection: (id: string) => `${C.rollouts}/${id}/${S.rolloutProgress}`,
  progress: (id: string, instanceId: string) => `${C.rollouts}/${id}/${S.rolloutProgress}/${instanceId}`,
  /** Fleet-wide change freezes: `{ freezes: [{ from, to, reason }] }`. */
  calendar: `${C.settings}/calendar`,
} as const;

/** The hash chains of stored records: each chain's head, and how far the linker and the anchors have come. */
export const sealPaths = {
  chain: (key: string) => `${C.recordChains}/${key}`,
  cursor: `${C.settings}/recordSeal`,
} as const;

/** The deployment repository's records: GitHub deliveries seen, module applies, spec changes. */
export const deploymentPaths = {
  webhookDelivery: (deliveryId: string) => `${C.webhookDeliveries}/${deliveryId}`,
  moduleApply: (id: string) => `${C.moduleApplies}/${id}`,
  specChange: (instanceId: string) => `${C.specChanges}/${instanceId}`,
} as const;

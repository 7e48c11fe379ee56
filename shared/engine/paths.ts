/** Firestore document paths of the collections DESIGN.md names. */
export const paths = {
  instance: (id: string) => `instances/${id}`,
  slug: (environment: string, slug: string) => `slugs/${environment}:${slug}`,
  operation: (id: string) => `operations/${id}`,
  ledger: (key: string) => `processedEvents/${key}`,
  outbox: (eventId: string) => `outbox/${eventId}`,
  audit: (id: string) => `audit/${id}`,
  executorRequest: (runKey: string) => `executorRequests/${runKey}`,
} as const;

export const COLLECTIONS = {
  instances: 'instances',
  operations: 'operations',
  ledger: 'processedEvents',
  outbox: 'outbox',
  audit: 'audit',
  executorRequests: 'executorRequests',
} as const;

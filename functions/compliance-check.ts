import { onMessagePublished } from './edge.js';

/** `mi-checks`: check one instance (or the schedules) for a run and write its finding. Throws only to be retried. */
export const handle = onMessagePublished('complianceCheck');

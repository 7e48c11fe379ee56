import { onMessagePublished } from './edge.js';

/** `mi-reconcile` (every minute): advance due operations, flag stuck ones, drain the outbox. */
export const handle = onMessagePublished('reconcile');

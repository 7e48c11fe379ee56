import { onMessagePublished } from './edge.js';

/** `mi-deployments`: a merged push (classified changes) or the schedule's tick. Throws only to be retried. */
export const handle = onMessagePublished('deployments');

import { onMessagePublished } from './edge.js';

/** `mi-lifecycle`: accept a lifecycle command and start its operation. Throws only to be retried. */
export const handle = onMessagePublished('lifecycle');

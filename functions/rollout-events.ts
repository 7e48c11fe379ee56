import { onMessagePublished } from './edge.js';

/** `mi-events`: record the outcome of an upgrade a rollout started, then tick that rollout. */
export const handle = onMessagePublished('rolloutEvents');

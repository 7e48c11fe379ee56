import { onMessagePublished } from './edge.js';

/** `mi-rollout`: a scheduled tick (every running rollout) or one rollout's tick: plan, start the next upgrades. */
export const handle = onMessagePublished('rollout');

import { onMessagePublished } from './edge.js';

/** `mi-events`: tell people what needs them (Slack, and OpsGenie for what needs someone now); the digests' tick. */
export const handle = onMessagePublished('notify');

import { onMessagePublished } from './edge.js';

/** `cloud-builds`: Cloud Build's notifications; a build of ours that ended is recorded on its step. */
export const handle = onMessagePublished('buildNotifications');

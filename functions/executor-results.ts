import { onMessagePublished } from './edge.js';

/** `mi-executor-results`: record an executor run's outcome on its operation. */
export const handle = onMessagePublished('executorResults');

import type { StepRunner } from './kit.js';

/** Waits for a second person: an approval through the commands function finishes this step, nothing else does. */
export const approvalRunner: StepRunner = {
  start: () => Promise.resolve({ kind: 'running', handles: {} }),
  poll: () => Promise.resolve({ kind: 'running' }),
  isIdle: () => Promise.resolve(true),
};

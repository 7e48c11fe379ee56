/**
 * Rollout decisions, pure: the records (types), maintenance windows and freezes (calendar), the
 * waves and who is in them (waves), the counts per wave (summary), the next upgrades of a tick
 * (planner), an operator's controls (control) and what an upgrade's fact records (facts). The
 * I/O is the feature's, in shared/rollout/.
 */
export * from './types.js';
export * from './calendar.js';
export * from './waves.js';
export * from './summary.js';
export * from './planner.js';
export * from './control.js';
export * from './facts.js';

/**
 * Rollout decisions, pure: the records (types), maintenance windows and freezes (calendar), the
 * waves (waves), who a rollout covers (membership), the live counts per wave (summary), the next upgrades of a tick
 * (planner), an operator's controls (control), what an upgrade's fact records (facts), what a lost one is recorded as (leaks) and
 * what a rollout would do before it starts (forecast), fleet workflows on the same waves (workflow), a merge's module
 * changes on them too (module-change) and what starting a member asks of the engine (starts). The
 * I/O is the feature's, in shared/rollout/.
 */
export * from './types.js';
export * from './calendar.js';
export * from './waves.js';
export * from './membership.js';
export * from './summary.js';
export * from './planner.js';
export * from './control.js';
export * from './facts.js';
export * from './leaks.js';
export * from './forecast.js';
export * from './workflow.js';
export * from './starts.js';
export * from './module-change.js';

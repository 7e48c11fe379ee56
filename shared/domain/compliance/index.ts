/**
 * The compliance domain, pure: the SOC2 controls a run checks (controls.ts), one verdict per
 * control from what the APIs answered (checks.ts), a run's plan and what it is measured
 * against (plan.ts), dev expiry notices and deletes (retention.ts), and which cron slot a
 * scheduled message belongs to (run-key.ts). shared/compliance does the reading and writing.
 */
export * from './checks.js';
export * from './controls.js';
export * from './plan.js';
export * from './retention.js';
export * from './run-key.js';
export * from './criteria.js';
export * from './verdict.js';
export * from './days.js';
export * from './changes.js';
export * from './chain.js';

/**
 * The lifecycle domain: pure decisions over plain data for instance lifecycle operations (no
 * I/O; the engine in shared/engine reads documents, calls these, and writes what they return).
 *
 * - operations.ts: an operation as a stored state machine, re-exporting model.ts (types,
 *   timings, ids), step-transitions.ts (claiming, starting, finishing, retrying a step) and
 *   operation-end.ts (the verdict, the end, stuck and release);
 * - acceptance.ts: whether a command starts an operation now (decideAcceptance), with its
 *   inputs in acceptance-policy.ts and what each command plans in command-plans.ts;
 * - plans.ts: the steps of each kind of operation; approval.ts: a second person's approval;
 * - health-gates.ts: an upgrade's health gates, folded probe by probe;
 * - backup-policy.ts: the Cloud SQL and GKE backup policy; resource-names.ts: GCP resource names.
 */
export * from './operations.js';
export * from './acceptance.js';
export * from './approval.js';
export * from './plans.js';
export * from './backup-policy.js';
export * from './resource-names.js';
export * from './health-gates.js';

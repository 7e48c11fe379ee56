/**
 * The executor domain: what a run of the executor is on Cloud Build, as pure functions.
 *
 * - builds.ts: the build of each action (steps, substitutions, tags, limits) and the names of
 *   an environment's build account and buckets;
 * - run-states.ts: Cloud Build's statuses read as the engine's run states.
 */
export * from './builds.js';
export * from './run-states.js';

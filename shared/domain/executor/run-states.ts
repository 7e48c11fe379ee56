/**
 * Cloud Build's statuses (Build.Status of the v1 API) read as the engine's run states. A build
 * that ended while a step may have been mid-way (timed out, cancelled, or lost to an internal
 * error) is `interrupted`, not failed: Terraform may have been killed holding its state lock, so
 * the operation stays in flight for a person instead of ending as if nothing had happened.
 */
import type { RunState } from '../../ports.js';
import { derivedUuid } from '../deployments/changes.js';

export const BUILD_STATUSES = ['STATUS_UNKNOWN', 'PENDING', 'QUEUED', 'WORKING', 'SUCCESS', 'FAILURE', 'INTERNAL_ERROR', 'TIMEOUT', 'CANCELLED', 'EXPIRED'] as const;
export type BuildStatus = (typeof BUILD_STATUSES)[number];

export const RUN_STATE_OF_BUILD: Record<BuildStatus, Exclude<RunState, 'unknown'>> = {
  // A build that exists but whose status Cloud Build cannot say may still run: waiting.
  STATUS_UNKNOWN: 'queued',
  PENDING: 'queued',
  QUEUED: 'queued',
  WORKING: 'running',
  SUCCESS: 'succeeded',
  // A step exited non-zero: the build stopped there, and Terraform released its lock.
  FAILURE: 'failed',
  // Never started: the queue TTL passed first.
  EXPIRED: 'failed',
  INTERNAL_ERROR: 'interrupted',
  TIMEOUT: 'interrupted',
  CANCELLED: 'interrupted',
};

/** Whether the build has ended (Cloud Build moves it no further). */
export function isFinalBuildStatus(status: BuildStatus): boolean {
  const state = RUN_STATE_OF_BUILD[status];
  return state !== 'queued' && state !== 'running';
}

/**
 * The ledger key of a run's end as a notification records it: the run and the state it ended
 * in. A notification that failed for good before the executor answered is recorded under the
 * state it claimed, so each notice has one entry whatever became of it.
 */
export function runNoticeKey(runId: string, state: RunState): string {
  return derivedUuid('run-notice', runId, state);
}

/** A later status never gives way to an earlier one: notifications arrive out of order. */
const ORDER: Record<BuildStatus, number> = { STATUS_UNKNOWN: 0, PENDING: 1, QUEUED: 2, WORKING: 3, SUCCESS: 4, FAILURE: 4, INTERNAL_ERROR: 4, TIMEOUT: 4, CANCELLED: 4, EXPIRED: 4 };
export function isLaterBuildStatus(next: BuildStatus, current: BuildStatus): boolean {
  return ORDER[next] > ORDER[current];
}

/** What a person must do after an interrupted build: the state lock it may hold, and how to free it. */
export function interruptedBuildAdvice(input: { status: BuildStatus; buildId: string; stateObjects: readonly string[] }): string {
  const locks = input.stateObjects.map((o) => `${o}.tflock`);
  const where = locks.length > 0 ? ` It may hold the Terraform state lock ${locks.join(', ')}: check no build runs on it (gcloud builds describe ${input.buildId}), then release it with terraform force-unlock <LOCK_ID> in that stack (the lock id is in the .tflock object), and abandon the operation.` : ' No Terraform state was in use; check the cluster, then abandon the operation.';
  return `build ${input.buildId} ended ${input.status}, possibly part-way through a step.${where}`;
}

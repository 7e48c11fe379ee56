/**
 * What the engine's facts say of a fan-out's members (a rollout's upgrades, a workflow's
 * actions: a fact that names its fan-out): which member's command a fact is the outcome of,
 * the progress state it leads to (busy is never a failure: the instance waits and is tried
 * again), and the progress record after it. Pure: the feature finds the rollout and writes.
 */
import type { AnyEnvelope } from '../../events/index.js';
import type { InstanceProgress, ProgressState } from './types.js';

/** The outcome of one upgrade a rollout started, as a fact tells it. */
export interface UpgradeOutcome {
  kind: 'outcome';
  instanceId: string;
  /** The event id of the upgrade command (the operation is `op-<eventId>`). */
  eventId: string;
  state: ProgressState;
  detail: string | null;
  /** When a waiting member may be tried again: after the busy retry time, or at once (refused after a halt, for a resume). */
  retry: 'busy' | 'after-resume' | null;
  /** The rollout that started it, when the fact says (facts of upgrades started by a rollout do). */
  rolloutId?: string;
}

/** An upgrade's outcome from a fact, or why the fact is none. */
export function upgradeOutcomeOf(envelope: AnyEnvelope): UpgradeOutcome | { kind: 'ignored'; reason: string } {
  const instanceId = envelope.instanceId;
  if (instanceId === undefined) return { kind: 'ignored', reason: 'names no instance' };
  let eventId: string;
  let state: ProgressState;
  let detail: string | null = null;
  let retry: UpgradeOutcome['retry'] = null;
  const named = (envelope.payload as { rolloutId?: unknown }).rolloutId;
  const rolloutId = typeof named === 'string' ? named : undefined;
  switch (envelope.type) {
    case 'operation.succeeded':
    case 'operation.failed':
    case 'operation.abandoned': {
      // A fact that names its fan-out is of one of its members whatever it ran; an older one only of an upgrade.
      if ((rolloutId === undefined && envelope.payload.operationType !== 'upgrade') || !envelope.payload.operationId.startsWith('op-')) return { kind: 'ignored', reason: 'not an upgrade' };
      eventId = envelope.payload.operationId.slice(3);
      state = envelope.type === 'operation.succeeded' ? 'succeeded' : 'failed';
      if (envelope.type === 'operation.failed') detail = `step ${envelope.payload.failedStep}: ${envelope.payload.reason}`;
      if (envelope.type === 'operation.abandoned') detail = `abandoned by ${envelope.payload.by}: ${envelope.payload.why}`;
      break;
    }
    case 'operation.rejected': {
      if (rolloutId === undefined && envelope.payload.causeType !== 'instance.upgrade') return { kind: 'ignored', reason: 'not an upgrade' };
      eventId = envelope.payload.causeEventId;
      detail = `${envelope.payload.code}: ${envelope.payload.message}`;
      // Busy is never a failure: the instance is tried again later. An instance already on
      // (or past) the target, gone, or not active is skipped; anything else is a failure.
      if (envelope.payload.code === 'busy') {
        state = 'waiting';
        retry = 'busy';
      } else if (envelope.payload.code === 'rollout-halted') {
        // Decided before a halt or an abort and refused for it: not started, never a failure.
        state = 'waiting';
        retry = 'after-resume';
      } else if (['not-newer', 'unknown-instance', 'not-active'].includes(envelope.payload.code)) state = 'skipped';
      else state = 'failed';
      break;
    }
    default:
      return { kind: 'ignored', reason: `${envelope.type} is not an upgrade's outcome` };
  }
  return { kind: 'outcome', instanceId, eventId, state, detail, retry, ...(rolloutId === undefined ? {} : { rolloutId }) };
}

/** The progress of an in-flight upgrade once its outcome is known; a busy one waits `busyRetryMs`. */
export function progressAfter(progress: InstanceProgress, outcome: UpgradeOutcome, now: Date, busyRetryMs: number): InstanceProgress {
  const { state, detail, retry } = outcome;
  const again = retry === null ? null : new Date(now.getTime() + (retry === 'busy' ? busyRetryMs : 0)).toISOString();
  return {
    ...progress,
    state,
    eventId: retry !== null ? null : progress.eventId,
    finishedAt: retry !== null ? null : now.toISOString(),
    eligibleAt: again,
    detail,
    updatedAt: now.toISOString(),
  };
}

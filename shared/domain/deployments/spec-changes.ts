/**
 * Spec changes of the deployment repository (an instance's config.yaml) as pure decisions:
 * what a change of the file means once it has been read at the push's commits (a spec, a
 * removal, or nothing), which of two changes of one instance is the newer by ancestry on the
 * default branch, and what the newest change of an instance does next: wait for the instance's
 * lease, be asked of the engine, or be recorded as done or refused.
 */
import type { Environment, InstanceRecord, InstanceSpec } from '../../events/instance.js';

// ---------------------------------------------------------------------------- reading the file

/** config.yaml at one commit, as read through the repository port. */
export type FileAt =
  | { state: 'present'; text: string }
  /** The commit exists and the file is not in it. */
  | { state: 'absent' }
  /** The repository does not have the commit (yet): nothing can be said about the file. */
  | { state: 'unknown-commit'; commit: string };

export type ConfigDecision =
  /** The file is at the pushed commit: it is the instance's spec (whatever the push called the change). */
  | { kind: 'spec'; text: string }
  /** Said removed, absent at the pushed commit, present at `before`: the instance's folder was removed. */
  | { kind: 'removed' }
  /** Said removed, but it was not at `before` either: there is nothing to remove. */
  | { kind: 'ignore'; reason: string }
  /** Said changed, yet absent at a pushed commit the repository has: the push and the repository disagree. */
  | { kind: 'refuse'; reason: string }
  /** A commit it depends on is unknown: ask again later (a retryable error, never a delete). */
  | { kind: 'retry'; reason: string }
  /** Said removed and absent at the pushed commit: `before` must be read to decide. */
  | { kind: 'read-before' };

/**
 * What a change of config.yaml means. `before` is what was read at the push's `before` commit,
 * or undefined when it was not read (it is needed only for a removal: the answer then says so).
 * A removal needs all three: the change says removed, the file is absent at `after`, and present
 * at `before`. An unknown commit is never read as an absent file.
 */
export function decideConfigChange(change: 'changed' | 'removed', after: FileAt, before?: FileAt): ConfigDecision {
  if (after.state === 'unknown-commit') return { kind: 'retry', reason: `commit ${after.commit} is not in the deployment repository (yet): config.yaml cannot be read there` };
  if (after.state === 'present') return { kind: 'spec', text: after.text };
  if (change === 'changed') return { kind: 'refuse', reason: 'config.yaml is listed as changed but absent at the pushed commit: nothing done (neither a change nor a removal)' };
  if (before === undefined) return { kind: 'read-before' };
  if (before.state === 'unknown-commit') return { kind: 'retry', reason: `the push's before commit ${before.commit} is not in the deployment repository (yet): a removal cannot be confirmed` };
  if (before.state === 'absent') return { kind: 'ignore', reason: "config.yaml is listed as removed but was not at the push's before commit either: nothing to remove" };
  return { kind: 'removed' };
}

// ---------------------------------------------------------------------------- newest by ancestry

/** How `head` relates to `base` in history, as GitHub's compare API says it. */
export type Ancestry = 'ahead' | 'behind' | 'identical' | 'diverged';
export const ANCESTRIES: readonly Ancestry[] = ['ahead', 'behind', 'identical', 'diverged'];

/** Where a commit stands with the default branch's head: reachable from it (on the branch) or not. */
export type OnBranch = { incoming: boolean; stored: boolean };

export type NewerDecision =
  | { winner: 'incoming' }
  | { winner: 'stored'; reason: string }
  /** The two commits diverged (a forced push): which one the default branch holds now decides. */
  | { winner: 'ask-branch' };

/**
 * Which of two changes of one instance is the newer: the one whose commit descends from the
 * other's. The order they arrived in never decides. When they diverged (history was rewritten),
 * the one the default branch still holds wins; if both or neither, the stored one stays (the
 * push that rewrote history brings its own change).
 */
export function newerChange(incomingRelativeToStored: Ancestry, onBranch?: OnBranch): NewerDecision {
  switch (incomingRelativeToStored) {
    case 'ahead':
      return { winner: 'incoming' };
    case 'identical':
      return { winner: 'stored', reason: 'the same commit' };
    case 'behind':
      return { winner: 'stored', reason: 'an ancestor of the change already recorded: older' };
    case 'diverged':
      if (onBranch === undefined) return { winner: 'ask-branch' };
      if (onBranch.incoming && !onBranch.stored) return { winner: 'incoming' };
      return {
        winner: 'stored',
        reason: onBranch.incoming ? 'diverged from the change recorded, and both are on the default branch' : 'diverged from the change recorded, and the default branch no longer holds it',
      };
  }
}

// ---------------------------------------------------------------------------- the newest change of an instance

export type SpecChangeStatus =
  /** The instance is leased by an operation: the change waits for it to end (never a failure). */
  | 'waiting'
  /** The command was published; the engine has not answered yet. */
  | 'asked'
  /** The engine accepted the command: an operation runs the change. */
  | 'applied'
  /** The instance already runs this version: nothing to do. */
  | 'unchanged'
  /** The engine refused the command (not busy: invalid, not newer, ...): recorded with its answer. */
  | 'refused'
  /** The newest change is not a spec to apply (removed, invalid): older waiting changes are dropped. */
  | 'no-spec';

/** Still to be moved on by the deployments tick. */
export const ACTIVE_SPEC_CHANGE_STATUSES: readonly SpecChangeStatus[] = ['waiting', 'asked'];

/** A lifecycle command a spec change asks for. */
export type SpecCommandType = 'instance.create' | 'instance.upgrade';

/**
 * `specChanges/{instanceId}`: the newest change of one instance's config.yaml seen on the
 * default branch, and where it stands. One document per instance, so a newer merge replaces an
 * older one that still waits, and a late older one never replaces a newer.
 */
export interface SpecChangeRecord {
  instanceId: string;
  environment: Environment;
  /** The merge commit of the change: the spec was read there. */
  commit: string;
  committedAt: string;
  repository: string;
  file: string;
  /** The validated spec at `commit`; null when the newest change is not a spec (status no-spec). */
  spec: InstanceSpec | null;
  status: SpecChangeStatus;
  /** Moves on only when the engine answered busy; the command's event id is derived from it. */
  attempt: number;
  request: { eventId: string; type: SpecCommandType; at: string } | null;
  operationId: string | null;
  /** Why it was refused, unchanged or superseded. */
  outcome: string | null;
  /** The push that brought the change, who pushed it (as the push says) and who merged. */
  causeEventId: string;
  actor: string;
  mergedBy: string;
  /** The commit of the change this one replaced, if any. */
  replaced: { commit: string; status: SpecChangeStatus } | null;
  createdAt: string;
  updatedAt: string;
}

export type DispatchDecision =
  | { kind: 'wait'; reason: string }
  | { kind: 'ask'; type: 'instance.create' }
  | { kind: 'ask'; type: 'instance.upgrade'; targetVersion: string }
  | { kind: 'unchanged'; reason: string };

/** What a change that waits (or has just arrived) does now, given the instance as it is. */
export function dispatchDecision(spec: InstanceSpec, instance: Pick<InstanceRecord, 'status' | 'version' | 'lease'> | undefined): DispatchDecision {
  if (instance === undefined || instance.status === 'deleted') return { kind: 'ask', type: 'instance.create' };
  if (instance.lease !== null) return { kind: 'wait', reason: `the instance is leased by operation ${instance.lease.operationId}` };
  if (spec.version === instance.version) return { kind: 'unchanged', reason: `the instance already runs ${spec.version}` };
  return { kind: 'ask', type: 'instance.upgrade', targetVersion: spec.version };
}

/** The engine's answer to a command, as its ledger entry says it. */
export interface EngineAnswer {
  outcome: 'accepted' | 'rejected' | 'invalid';
  code: string | null;
  reason: string | null;
  operationId: string | null;
}

export type AnswerDecision =
  /** Not answered yet and not long ago: leave it. */
  | { kind: 'pending' }
  /** Not answered for long: publish the same command again (the engine deduplicates by event id). */
  | { kind: 'ask-again' }
  | { kind: 'applied'; operationId: string | null }
  /** Busy: back to waiting under the next attempt's event id. Never a failure. */
  | { kind: 'wait'; attempt: number }
  | { kind: 'refused'; reason: string };

/** What the engine's answer (or its silence) to an asked change means. */
export function answerDecision(
  change: Pick<SpecChangeRecord, 'attempt' | 'request'>,
  answer: EngineAnswer | undefined,
  now: Date,
  republishAfterMs: number,
): AnswerDecision {
  if (change.request === null) throw new Error('answerDecision: the change has no request (only an asked change has an answer to wait for)');
  if (answer === undefined) {
    const askedAt = Date.parse(change.request.at);
    if (Number.isNaN(askedAt)) throw new Error(`answerDecision: request.at is not a time: ${JSON.stringify(change.request.at).slice(0, 40)}`);
    return now.getTime() - askedAt >= republishAfterMs ? { kind: 'ask-again' } : { kind: 'pending' };
  }
  if (answer.outcome === 'accepted') return { kind: 'applied', operationId: answer.operationId };
  if (answer.code === 'busy') return { kind: 'wait', attempt: change.attempt + 1 };
  return { kind: 'refused', reason: `${answer.code ?? answer.outcome}: ${answer.reason ?? 'no reason given'}` };
}

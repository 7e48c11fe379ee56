/**
 * What a tick writes inside its transaction for one started member (its command in the outbox:
 * an upgrade, or a workflow's action; the instance's progress, an audit record) and for one note of its plan (an audit
 * record, and an alert when the rollout halted).
 */
import { operationIdFor } from '../domain/lifecycle/operations.js';
import { auditNounOf, describeFanOut, memberCommand, type InstanceProgress, type PlanNote, type PlannedStart, type RolloutRecord } from '../domain/rollout/index.js';
import type { StoreTransaction } from '../ports.js';
import { deploymentPaths, rolloutPaths } from '../store/collections.js';
import { appendAudit, enqueue, type OutboxEntry } from '../store/records.js';
import { TOPICS } from '../topology.js';
import { ROLLOUT_ACTOR } from './actor.js';

export interface MemberStart {
  /** The fan-out as the tick read it: what each member's start asks of the engine follows from it. */
  fanOut: RolloutRecord;
  candidate: PlannedStart;
  /** The wave's members in flight with this one, and its limit. */
  inFlight: number;
  maxInFlight: number;
}

/** Starts one member: its command (returned, for the outbox), its progress, the audit record. */
export function recordStart(tx: StoreTransaction, input: MemberStart, now: Date): OutboxEntry {
  const { fanOut, candidate } = input;
  const rolloutId = fanOut.id;
  const command = memberCommand(fanOut, candidate);
  const entry = enqueue(
    tx,
    {
      type: command.type,
      instanceId: candidate.instanceId,
      // Naming the fan-out: refused on acceptance once it halted, and its facts come back to it.
      payload: command.payload,
      // A workflow acts for who started it; a module change for who confirmed its plan (or merged it); a rollout for itself.
      actor: fanOut.kind === 'workflow' ? fanOut.actor : fanOut.kind === 'module-change' ? (candidate.actor ?? fanOut.actor) : ROLLOUT_ACTOR,
      // Whose word the actor is: a workflow's starter's (verified by the commands function), a merge's (the signed push), the rollout's own.
      origin: fanOut.kind === 'workflow' ? 'commands' : fanOut.kind === 'module-change' ? 'webhook' : 'rollout',
      reason: command.reason,
    },
    now,
    TOPICS.lifecycle,
  );
  const eventId = entry.envelope.eventId;
  const progress: InstanceProgress = {
    instanceId: candidate.instanceId,
    wave: candidate.wave,
    state: 'in-flight',
    eventId,
    operationId: operationIdFor(eventId),
    attempts: candidate.attempts + 1,
    startedAt: now.toISOString(),
    finishedAt: null,
    eligibleAt: null,
    ...(candidate.window === undefined ? {} : { window: candidate.window }),
    ...(candidate.planDigest === undefined ? {} : { planDigest: candidate.planDigest }),
    ...(candidate.applyId === undefined ? {} : { applyId: candidate.applyId }),
    ...(candidate.actor === undefined ? {} : { actor: candidate.actor }),
    detail: null,
    updatedAt: now.toISOString(),
  };
  tx.set(rolloutPaths.progress(rolloutId, candidate.instanceId), progress);
  if (fanOut.kind === 'module-change' && candidate.applyId !== undefined) {
    // Its module apply says so too: the deployments tick follows the operation from here.
    const request = { eventId, action: 'apply' as const, attempt: candidate.attempts, at: now.toISOString(), fanOut: rolloutId };
    tx.update(deploymentPaths.moduleApply(candidate.applyId), { status: 'applying', request, operationId: null, updatedAt: now.toISOString() });
  }
  appendAudit(
    tx,
    {
      actor: ROLLOUT_ACTOR,
      action: fanOut.kind === undefined || fanOut.kind === 'upgrade' ? 'rollout.upgrade-started' : `${auditNounOf(fanOut)}.member-started`,
      instanceId: candidate.instanceId,
      operationId: progress.operationId,
      before: { state: candidate.from },
      after: { state: 'in-flight', wave: candidate.wave, inFlight: input.inFlight, maxInFlight: input.maxInFlight },
      causeEventId: eventId,
      rolloutId,
    },
    now,
  );
  return entry;
}

export interface NoteInput {
  rolloutId: string;
  /** The rollout as the transaction read it, and as the plan leaves it. */
  current: RolloutRecord;
  planned: RolloutRecord;
  note: PlanNote;
}

/** Audits one note of the plan; a halt also raises a critical alert (returned, for the outbox). */
export function recordNote(tx: StoreTransaction, input: NoteInput, now: Date): OutboxEntry | undefined {
  const { rolloutId, current, planned, note } = input;
  appendAudit(
    tx,
    {
      actor: ROLLOUT_ACTOR,
      action: `${auditNounOf(current)}.${note.action}`,
      instanceId: null,
      operationId: null,
      before: { status: current.status },
      after: { status: planned.status, wave: note.wave },
      causeEventId: null,
      rolloutId,
      detail: note.detail,
    },
    now,
  );
  if (note.action !== 'halted') return undefined;
  return enqueue(
    tx,
    {
      type: 'alert',
      payload: { kind: 'rollout-halted', severity: 'critical', summary: `${describeFanOut(current)} halted: ${note.detail}`, details: { rolloutId, wave: note.wave, failed: planned.halt?.failed ?? [] } },
      actor: ROLLOUT_ACTOR,
      reason: note.detail,
    },
    now,
  );
}

/**
 * What a tick writes inside its transaction for one started member (its command in the outbox:
 * an upgrade, or a workflow's action; the instance's progress, an audit record) and for one note of its plan (an audit
 * record, and an alert when the rollout halted).
 */
import { operationIdFor } from '../domain/lifecycle/operations.js';
import { describeFanOut, memberCommand, type InstanceProgress, type PlanNote, type PlannedStart, type RolloutRecord } from '../domain/rollout/index.js';
import type { StoreTransaction } from '../ports.js';
import { rolloutPaths } from '../store/collections.js';
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
      actor: fanOut.kind === 'workflow' ? fanOut.actor : ROLLOUT_ACTOR,
      origin: 'rollout',
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
    detail: null,
    updatedAt: now.toISOString(),
  };
  tx.set(rolloutPaths.progress(rolloutId, candidate.instanceId), progress);
  appendAudit(
    tx,
    {
      actor: ROLLOUT_ACTOR,
      action: fanOut.kind === 'workflow' ? 'workflow.member-started' : 'rollout.upgrade-started',
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
      action: `${current.kind === 'workflow' ? 'workflow' : 'rollout'}.${note.action}`,
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
      payload: { severity: 'critical', summary: `${describeFanOut(current)} halted: ${note.detail}`, details: { rolloutId, wave: note.wave, failed: planned.halt?.failed ?? [] } },
      actor: ROLLOUT_ACTOR,
      reason: note.detail,
    },
    now,
  );
}

/**
 * What a tick writes inside its transaction for one started upgrade (the upgrade command in
 * the outbox, the instance's progress, an audit record) and for one note of its plan (an audit
 * record, and an alert when the rollout halted).
 */
import { operationIdFor } from '../domain/lifecycle/operations.js';
import type { InstanceProgress, PlanNote, PlannedStart, RolloutRecord } from '../domain/rollout/index.js';
import type { StoreTransaction } from '../ports.js';
import { rolloutPaths } from '../store/collections.js';
import { appendAudit, enqueue, type OutboxEntry } from '../store/records.js';
import { TOPICS } from '../topology.js';
import { ROLLOUT_ACTOR } from './actor.js';

export interface UpgradeStart {
  rolloutId: string;
  targetVersion: string;
  /** The rollout's commit: every upgrade of it runs the same one. */
  commit?: string;
  candidate: PlannedStart;
  /** The wave's upgrades in flight with this one, and its limit. */
  inFlight: number;
  maxInFlight: number;
}

/** Starts one upgrade: its command (returned, for the outbox), the instance's progress, the audit record. */
export function recordStart(tx: StoreTransaction, input: UpgradeStart, now: Date): OutboxEntry {
  const { rolloutId, candidate } = input;
  const entry = enqueue(
    tx,
    {
      type: 'instance.upgrade',
      instanceId: candidate.instanceId,
      // Naming the rollout: refused on acceptance once it halted, and its facts come back to it.
      payload: { targetVersion: input.targetVersion, rolloutId, ...(input.commit === undefined ? {} : { commit: input.commit }) },
      actor: ROLLOUT_ACTOR,
      origin: 'rollout',
      reason: `rollout ${rolloutId}, wave ${candidate.wave}`,
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
    detail: null,
    updatedAt: now.toISOString(),
  };
  tx.set(rolloutPaths.progress(rolloutId, candidate.instanceId), progress);
  appendAudit(
    tx,
    {
      actor: ROLLOUT_ACTOR,
      action: 'rollout.upgrade-started',
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
      action: `rollout.${note.action}`,
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
      payload: { severity: 'critical', summary: `rollout ${rolloutId} to ${current.targetVersion} halted: ${note.detail}`, details: { rolloutId, wave: note.wave, failed: planned.halt?.failed ?? [] } },
      actor: ROLLOUT_ACTOR,
      reason: note.detail,
    },
    now,
  );
}

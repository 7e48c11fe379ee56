/**
 * The write of a tick: one transaction that reads the rollout document again (ticks are
 * serialized on its `revision`), keeps writes a minimum interval apart, re-checks every planned
 * start against the wave's in-flight count, and writes the starts, the plan's notes and the
 * rollout with its new summary. What it decided to publish comes back for the outbox.
 */
import { uncountTrimmedStarts, type InstanceProgress, type RolloutPlan, type RolloutRecord, type WaveSpec } from '../domain/rollout/index.js';
import { describeError } from '../errors.js';
import type { StoreTransaction } from '../ports.js';
import { rolloutPaths } from '../store/collections.js';
import type { OutboxEntry } from '../store/records.js';
import type { RolloutContext } from './deps.js';
import { recordNote, recordStart } from './tick-records.js';

/** What a tick planned, to be written. */
export interface TickWriteInput {
  rolloutId: string;
  issuedAt: string | undefined;
  /** The rollout as the tick read it before planning. */
  read: RolloutRecord;
  plan: RolloutPlan;
  /** Whether the plan changes anything (starts, notes or the summary). */
  changed: boolean;
  /** When the tick began planning. */
  t0: Date;
}

export type TickWrite =
  | { kind: 'missing' }
  | { kind: 'coalesced' }
  | { kind: 'raced' }
  | { kind: 'unchanged' }
  | { kind: 'too-soon'; retryInMs: number }
  | { kind: 'ticked'; outbox: OutboxEntry[]; started: string[]; trimmed: number; status: RolloutRecord['status'] };

/** Whether the rollout's last tick began planning after `issuedAt`, and so covers that tick's cause. */
export function coveredBy(rollout: RolloutRecord, issuedAt: string | undefined): boolean {
  return issuedAt !== undefined && rollout.lastTickAt !== null && Date.parse(rollout.lastTickAt) > Date.parse(issuedAt);
}

/** What a transaction that lost to a concurrent one fails with. */
const CONTENTION = /transaction is invalid or closed|aborted|too much contention/i;

/**
 * Runs the tick's transaction. Ticks arriving together contend on the rollout document: the
 * loser is aborted (the emulator invalidates it, production answers ABORTED once the client's
 * retries are spent) and plans again, as a tick that raced.
 */
export async function writeTick(ctx: RolloutContext, input: TickWriteInput): Promise<TickWrite> {
  try {
    return await ctx.store.transaction((tx) => tickTransaction(ctx, tx, input));
  } catch (error) {
    if (CONTENTION.test(describeError(error))) {
      ctx.log.info('a rollout tick lost a race for the rollout document; it plans again', { error: describeError(error) });
      return { kind: 'raced' };
    }
    throw error;
  }
}

async function tickTransaction(ctx: RolloutContext, tx: StoreTransaction, input: TickWriteInput): Promise<TickWrite> {
  const { rolloutId, plan } = input;
  const now = ctx.clock.now();
  const current = await tx.get<RolloutRecord>(rolloutPaths.rollout(rolloutId));
  if (current === undefined) return { kind: 'missing' };
  if (current.revision !== input.read.revision) {
    // Another tick or an operator wrote since we read: whoever ticked after our cause covers it.
    if (coveredBy(current, input.issuedAt)) return { kind: 'coalesced' };
    return { kind: 'raced' };
  }
  if (!input.changed) return { kind: 'unchanged' };
  // The spacing that counts is between writes, so it is checked again at write time: a
  // previous tick whose transaction ran long may have written later than it began.
  const lastWritten = current.lastWriteAt ?? current.lastTickAt;
  const sinceWrite = lastWritten === null ? Number.POSITIVE_INFINITY : now.getTime() - Date.parse(lastWritten);
  if (sinceWrite < ctx.minTickIntervalMs) return { kind: 'too-soon', retryInMs: ctx.minTickIntervalMs - Math.max(0, sinceWrite) };
  // Reads first (Firestore wants every read before the first write).
  const inFlight = await countInFlight(tx, rolloutId, [...new Set(plan.start.map((s) => s.wave))]);
  const recorded = await tx.getAll<InstanceProgress>(plan.start.map((s) => rolloutPaths.progress(rolloutId, s.instanceId)));
  const outbox: OutboxEntry[] = [];
  const started: string[] = [];
  let trimmed = 0;
  plan.start.forEach((candidate, i) => {
    const before = recorded[i];
    const spec = current.waves.find((w) => w.name === candidate.wave) as WaveSpec;
    const running = inFlight.get(candidate.wave) ?? 0;
    // Re-checked here, whatever the plan read: never more than the wave's limit in flight.
    if ((before !== undefined && before.state !== 'waiting') || running >= spec.maxInFlight) {
      trimmed += 1;
      return;
    }
    inFlight.set(candidate.wave, running + 1);
    outbox.push(recordStart(tx, { rolloutId, targetVersion: current.targetVersion, ...(current.commit === undefined ? {} : { commit: current.commit }), candidate, before, inFlight: running + 1, maxInFlight: spec.maxInFlight }, now));
    started.push(candidate.instanceId);
  });
  for (const note of plan.notes) {
    const alert = recordNote(tx, { rolloutId, current, planned: plan.rollout, note }, now);
    if (alert !== undefined) outbox.push(alert);
  }
  const next: RolloutRecord = {
    ...plan.rollout,
    summary: uncountTrimmedStarts(plan.rollout.summary, plan.start, started, plan.members),
    lastTickAt: input.t0.toISOString(),
    // When this write is decided (not when the tick began), so the next one keeps its distance.
    lastWriteAt: now.toISOString(),
    tickSeq: current.tickSeq + 1,
    revision: current.revision + 1,
    updatedAt: now.toISOString(),
  };
  tx.set(rolloutPaths.rollout(rolloutId), next);
  return { kind: 'ticked', outbox, started, trimmed, status: next.status };
}

/** The in-flight upgrades of each wave, counted with aggregations inside the transaction. */
async function countInFlight(tx: StoreTransaction, rolloutId: string, waves: readonly string[]): Promise<Map<string, number>> {
  const inFlight = new Map<string, number>();
  for (const wave of waves) {
    inFlight.set(
      wave,
      await tx.count({
        collection: rolloutPaths.progressCollection(rolloutId),
        where: [
          { field: 'wave', op: '==', value: wave },
          { field: 'state', op: '==', value: 'in-flight' },
        ],
      }),
    );
  }
  return inFlight;
}

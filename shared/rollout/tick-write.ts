/**
 * A tick's transaction: it reads the rollout (ticks are serialized on its `revision`), keeps
 * writes a minimum interval apart, plans on counts and members read inside it (so the failure
 * count that decides a halt, and the in-flight count that bounds the starts, are the ones the
 * starts are written against), and writes the starts, the members it passed over, the plan's
 * notes and the rollout. What it decided to publish comes back for the outbox.
 */
import { changesInstances, planTick, type PlannerOptions, type RolloutRecord } from '../domain/rollout/index.js';
import { describeError } from '../errors.js';
import type { StoreTransaction } from '../ports.js';
import { rolloutPaths } from '../store/collections.js';
import type { OutboxEntry } from '../store/records.js';
import type { RolloutContext } from './deps.js';
import { readCalendar } from './reads.js';
import { transactionReader } from './reader.js';
import { recordNote, recordStart } from './tick-records.js';

export type TickWrite =
  | { kind: 'missing' }
  | { kind: 'coalesced' }
  | { kind: 'idle'; status: RolloutRecord['status'] }
  | { kind: 'raced' }
  | { kind: 'unchanged' }
  | { kind: 'too-soon'; retryInMs: number }
  /** A rollout started by a version that recorded no members. */
  | { kind: 'unrecorded' }
  | { kind: 'ticked'; outbox: OutboxEntry[]; started: string[]; status: RolloutRecord['status']; passedOver: number };

/** Whether the rollout's last tick began planning after `issuedAt`, and so covers that tick's cause. */
export function coveredBy(rollout: RolloutRecord, issuedAt: string | undefined): boolean {
  return issuedAt !== undefined && rollout.lastTickAt !== null && Date.parse(rollout.lastTickAt) > Date.parse(issuedAt);
}

/** What a transaction that lost to a concurrent one fails with. */
const CONTENTION = /transaction is invalid or closed|aborted|too much contention/i;

/** Whether a tick is due, from the rollout as read: covered, idle and too-soon ticks go no further. */
function notDue(rollout: RolloutRecord | undefined, issuedAt: string | undefined, now: Date, minTickIntervalMs: number): Exclude<TickWrite, { kind: 'ticked' | 'raced' | 'unchanged' }> | undefined {
  if (rollout === undefined) return { kind: 'missing' };
  if (coveredBy(rollout, issuedAt)) return { kind: 'coalesced' };
  if (rollout.status !== 'running') return { kind: 'idle', status: rollout.status };
  // Started before members were recorded at the start: it has nothing a tick can read.
  if ((rollout as Partial<RolloutRecord>).membership === undefined) return { kind: 'unrecorded' };
  // The spacing that counts is between writes of the rollout document.
  const lastWritten = rollout.lastWriteAt ?? rollout.lastTickAt;
  const sinceWrite = lastWritten === null ? Number.POSITIVE_INFINITY : now.getTime() - Date.parse(lastWritten);
  if (sinceWrite < minTickIntervalMs) return { kind: 'too-soon', retryInMs: minTickIntervalMs - Math.max(0, sinceWrite) };
  return undefined;
}

/**
 * Runs one tick. Most ticks are not due (covered by a later one, or within a second of the last
 * write): that is read outside any transaction, so they lock nothing. A due tick runs its
 * transaction; ticks due together contend on the rollout document: the loser is aborted (the
 * emulator invalidates it, production answers ABORTED once the client's retries are spent) and
 * ticks again.
 */
export async function writeTick(ctx: RolloutContext, rolloutId: string, issuedAt: string | undefined): Promise<TickWrite> {
  const early = notDue(await ctx.store.get<RolloutRecord>(rolloutPaths.rollout(rolloutId)), issuedAt, ctx.clock.now(), ctx.minTickIntervalMs);
  if (early !== undefined) return early;
  try {
    return await ctx.store.transaction((tx) => tickTransaction(ctx, tx, rolloutId, issuedAt));
  } catch (error) {
    if (CONTENTION.test(describeError(error))) {
      ctx.log.info('a rollout tick lost a race; it ticks again', { rolloutId, error: describeError(error) });
      return { kind: 'raced' };
    }
    throw error;
  }
}

async function tickTransaction(ctx: RolloutContext, tx: StoreTransaction, rolloutId: string, issuedAt: string | undefined): Promise<TickWrite> {
  const t0 = ctx.clock.now();
  const current = await tx.get<RolloutRecord>(rolloutPaths.rollout(rolloutId));
  // Again in the transaction: another tick may have written since.
  const early = notDue(current, issuedAt, t0, ctx.minTickIntervalMs);
  if (early !== undefined || current === undefined) return early ?? { kind: 'missing' };

  // A freeze stops change: a workflow that changes nothing (a plan, a backup) runs through it.
  const changes = current.kind !== 'workflow' || current.workflow === undefined || changesInstances(current.workflow.action);
  const calendar = changes ? await readCalendar(tx) : { freezes: [] };
  const options: PlannerOptions = ctx.maxStartsPerTick === undefined ? {} : { maxStartsPerTick: ctx.maxStartsPerTick };
  const plan = await planTick(current, transactionReader(tx, rolloutId), t0, calendar, options);
  const changed = plan.start.length > 0 || plan.passOver.length > 0 || plan.notes.length > 0 || JSON.stringify(plan.rollout.summary) !== JSON.stringify(current.summary);
  if (!changed) return { kind: 'unchanged' };

  // Every read is done: the writes.
  const now = ctx.clock.now();
  const outbox: OutboxEntry[] = [];
  const inFlightBefore = plan.rollout.summary.find((s) => s.wave === plan.start[0]?.wave)?.inFlight ?? 0;
  plan.start.forEach((candidate, i) => {
    const spec = current.waves.find((w) => w.name === candidate.wave);
    outbox.push(
      recordStart(tx, { fanOut: current, candidate, inFlight: inFlightBefore - plan.start.length + i + 1, maxInFlight: spec?.maxInFlight ?? 0 }, now),
    );
  });
  for (const passed of plan.passOver) tx.update(rolloutPaths.progress(rolloutId, passed.instanceId), { eligibleAt: passed.eligibleAt, updatedAt: now.toISOString() });
  for (const note of plan.notes) {
    const alert = recordNote(tx, { rolloutId, current, planned: plan.rollout, note }, now);
    if (alert !== undefined) outbox.push(alert);
  }
  const next: RolloutRecord = {
    ...plan.rollout,
    lastTickAt: t0.toISOString(),
    // When this write is decided (not when the tick began), so the next one keeps its distance.
    lastWriteAt: now.toISOString(),
    tickSeq: current.tickSeq + 1,
    revision: current.revision + 1,
    updatedAt: now.toISOString(),
  };
  tx.set(rolloutPaths.rollout(rolloutId), next);
  return { kind: 'ticked', outbox, started: plan.start.map((s) => s.instanceId), status: next.status, passedOver: plan.passOver.length };
}

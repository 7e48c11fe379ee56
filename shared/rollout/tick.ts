/**
 * A tick of one rollout: one transaction that reads the rollout, plans on what it reads of the
 * members (tick-write.ts) and writes the plan; ticks that come too soon are deferred, ticks
 * issued before the last one planned are dropped. Also the schedule's tick of every running
 * rollout (which first frees the slots of upgrades lost on the way: leaks.ts) and the
 * `rollout.tick` message's.
 */
import type { RolloutRecord } from '../domain/rollout/index.js';
import type { Envelope } from '../events/index.js';
import { publishOutbox } from '../store/outbox.js';
import type { RolloutContext } from './deps.js';
import { reconcileLeaks } from './leaks.js';
import { publishTick } from './publish.js';
import { runningRolloutIds } from './reads.js';
import { writeTick } from './tick-write.js';

export type TickOutcome =
  | { kind: 'ticked'; started: string[]; wrote: boolean; status: RolloutRecord['status'] }
  | { kind: 'coalesced' }
  | { kind: 'deferred'; retryInMs: number }
  | { kind: 'idle'; status: RolloutRecord['status'] }
  | { kind: 'missing' };

/** Plans and starts the next upgrades of one rollout; `issuedAt` is when the tick was asked for. */
export async function tick(ctx: RolloutContext, rolloutId: string, issuedAt?: string): Promise<TickOutcome> {
  // One tick of a rollout at a time in this process (across processes, the transaction decides).
  const before = ctx.ticking.get(rolloutId) ?? Promise.resolve();
  const mine = before.catch(() => undefined).then(() => tickNow(ctx, rolloutId, issuedAt));
  ctx.ticking.set(rolloutId, mine);
  try {
    return await mine;
  } finally {
    if (ctx.ticking.get(rolloutId) === mine) ctx.ticking.delete(rolloutId);
  }
}

async function tickNow(ctx: RolloutContext, rolloutId: string, issuedAt?: string): Promise<TickOutcome> {
  const result = await writeTick(ctx, rolloutId, issuedAt);
  switch (result.kind) {
    case 'missing':
    case 'coalesced':
    case 'idle':
      return result;
    case 'unrecorded':
      ctx.log.warn('a rollout started before members were recorded cannot be ticked: abort it (mi rollout abort) and start it again', { rolloutId });
      return { kind: 'idle', status: 'running' };
    case 'raced':
      return { kind: 'deferred', retryInMs: 0 };
    case 'too-soon':
      return { kind: 'deferred', retryInMs: result.retryInMs };
    case 'unchanged':
      return { kind: 'ticked', started: [], wrote: false, status: 'running' };
    case 'ticked':
      await publishOutbox({ store: ctx.store, bus: ctx.bus, log: ctx.log }, result.outbox);
      // Members passed over left their slots free: the next tick fills them from the members after.
      if (result.passedOver > 0 && result.status === 'running') await publishTick(ctx, rolloutId, 'more-to-start');
      return { kind: 'ticked', started: result.started, wrote: true, status: result.status };
  }
}

/** Ticks until the tick is done, waiting out deferrals (at most a few seconds). */
export async function tickPatiently(ctx: RolloutContext, rolloutId: string, issuedAt?: string, attempts = 5): Promise<TickOutcome> {
  let outcome = await tick(ctx, rolloutId, issuedAt);
  for (let i = 1; i < attempts && outcome.kind === 'deferred'; i += 1) {
    await ctx.sleep(outcome.retryInMs);
    outcome = await tick(ctx, rolloutId, issuedAt);
  }
  return outcome;
}

/** The schedule: frees leaked slots of every rollout with upgrades in flight, then ticks every running one. */
export async function tickAll(ctx: RolloutContext): Promise<Record<string, TickOutcome>> {
  await reconcileLeaks(ctx);
  const outcomes: Record<string, TickOutcome> = {};
  for (const id of await runningRolloutIds(ctx.store)) outcomes[id] = await tickPatiently(ctx, id);
  return outcomes;
}

/** A `rollout.tick` on `mi-rollout` (through the edge): tick that rollout. */
export async function onTick(ctx: RolloutContext, envelope: Envelope<'rollout.tick'>): Promise<Record<string, TickOutcome>> {
  return { [envelope.payload.rolloutId]: await tickPatiently(ctx, envelope.payload.rolloutId, envelope.issuedAt) };
}

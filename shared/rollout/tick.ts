/**
 * A tick of one rollout: read the rollout, the fleet, its progress and the calendar, plan with
 * the pure planner, and write the plan (tick-write.ts); ticks that come too soon are deferred,
 * ticks issued before the last one planned are dropped. Also the schedule's tick of every
 * running rollout and the `rollout.tick` message's.
 */
import { planNextUpgrades, type InstanceProgress, type RolloutRecord } from '../domain/rollout/index.js';
import type { Envelope, InstanceRecord } from '../events/index.js';
import { publishOutbox } from '../store/outbox.js';
import { COLLECTIONS, rolloutPaths } from '../store/collections.js';
import type { RolloutContext } from './deps.js';
import { fleetView, readCalendar, runningRolloutIds } from './reads.js';
import { coveredBy, writeTick } from './tick-write.js';

export type TickOutcome =
  | { kind: 'ticked'; started: string[]; wrote: boolean; status: RolloutRecord['status'] }
  | { kind: 'coalesced' }
  | { kind: 'deferred'; retryInMs: number }
  | { kind: 'idle'; status: RolloutRecord['status'] }
  | { kind: 'missing' };

/** Plans and starts the next upgrades of one rollout; `issuedAt` is when the tick was asked for. */
export async function tick(ctx: RolloutContext, rolloutId: string, issuedAt?: string): Promise<TickOutcome> {
  const t0 = ctx.clock.now();
  const rollout = await ctx.store.get<RolloutRecord>(rolloutPaths.rollout(rolloutId));
  if (rollout === undefined) return { kind: 'missing' };
  if (coveredBy(rollout, issuedAt)) return { kind: 'coalesced' };
  if (rollout.status !== 'running') return { kind: 'idle', status: rollout.status };
  const lastWrite = rollout.lastWriteAt ?? rollout.lastTickAt;
  if (lastWrite !== null) {
    const since = t0.getTime() - Date.parse(lastWrite);
    if (since < ctx.minTickIntervalMs) return { kind: 'deferred', retryInMs: ctx.minTickIntervalMs - Math.max(0, since) };
  }
  const [instanceDocs, progressDocs, calendar] = await Promise.all([
    ctx.store.query<InstanceRecord>({ collection: COLLECTIONS.instances }),
    ctx.store.query<InstanceProgress>({ collection: rolloutPaths.progressCollection(rolloutId) }),
    readCalendar(ctx.store),
  ]);
  const plan = planNextUpgrades(
    rollout,
    instanceDocs.map((d) => fleetView(d.data)),
    progressDocs.map((d) => d.data),
    t0,
    calendar,
    ctx.maxStartsPerTick === undefined ? {} : { maxStartsPerTick: ctx.maxStartsPerTick },
  );
  const changed = plan.start.length > 0 || plan.notes.length > 0 || JSON.stringify(plan.rollout.summary) !== JSON.stringify(rollout.summary);

  const result = await writeTick(ctx, { rolloutId, issuedAt, read: rollout, plan, changed, t0 });
  switch (result.kind) {
    case 'missing':
    case 'coalesced':
      return result;
    case 'raced':
      return { kind: 'deferred', retryInMs: 0 };
    case 'too-soon':
      return { kind: 'deferred', retryInMs: result.retryInMs };
    case 'unchanged':
      return { kind: 'ticked', started: [], wrote: false, status: rollout.status };
    case 'ticked':
      await publishOutbox({ store: ctx.store, bus: ctx.bus, log: ctx.log }, result.outbox);
      if (result.trimmed > 0) ctx.log.info('rollout tick trimmed its plan to the in-flight limit', { rolloutId, trimmed: result.trimmed });
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

/** Ticks every running rollout (the schedule). */
export async function tickAll(ctx: RolloutContext): Promise<Record<string, TickOutcome>> {
  const outcomes: Record<string, TickOutcome> = {};
  for (const id of await runningRolloutIds(ctx.store)) outcomes[id] = await tickPatiently(ctx, id);
  return outcomes;
}

/** A `rollout.tick` on `mi-rollout` (through the edge): tick that rollout. */
export async function onTick(ctx: RolloutContext, envelope: Envelope<'rollout.tick'>): Promise<Record<string, TickOutcome>> {
  return { [envelope.payload.rolloutId]: await tickPatiently(ctx, envelope.payload.rolloutId, envelope.issuedAt) };
}

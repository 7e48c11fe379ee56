/**
 * A merge's module change as a fan-out: recorded once per module and commit (its id is derived
 * from them, so a push handled again records nothing new) with one member per module apply,
 * then ticked on the rollout planner like any rollout. A confirmation makes its member
 * eligible; the tick starts it in its wave and window.
 */
import { confirmedMember, windowCalendar, moduleChangeId, moduleChangeMembers, moduleChangeWaves, newRollout, type InstanceProgress, type ModuleChangeCandidate, type ModuleChangeTask, type RolloutRecord } from '../domain/rollout/index.js';
import { rolloutPaths } from '../store/collections.js';
import { appendAudit } from '../store/records.js';
import type { RolloutContext } from './deps.js';
import { publishTick } from './publish.js';
import { recordFanOut } from './start.js';

export interface ModuleChangeInput {
  change: ModuleChangeTask;
  candidates: readonly ModuleChangeCandidate[];
  /** Who merged it (github:<login>), and why it runs. */
  actor: string;
  reason: string;
}

export type ModuleChangeOutcome = { kind: 'started' | 'exists'; fanOut: RolloutRecord } | { kind: 'empty' };

/** Records the module change (unless it is already) and ticks it. */
export async function startModuleChange(ctx: RolloutContext, input: ModuleChangeInput): Promise<ModuleChangeOutcome> {
  const id = moduleChangeId(input.change.module, input.change.commit);
  const existing = await ctx.store.get<RolloutRecord>(rolloutPaths.rollout(id));
  if (existing !== undefined) return { kind: 'exists', fanOut: existing };
  const { members, sizes } = moduleChangeMembers(input.candidates, ctx.clock.now(), windowCalendar(ctx.windowClock));
  if (members.length === 0) return { kind: 'empty' };
  let fanOut: RolloutRecord;
  try {
    fanOut = await recordFanOut(
      ctx,
      id,
      members,
      (at) => newRollout({ id, targetVersion: '', waves: moduleChangeWaves(sizes), actor: input.actor, reason: input.reason, now: at, busyRetryMs: 60_000, membership: { sizes }, moduleChange: input.change, commit: input.change.commit, ...(ctx.windowClock === undefined ? {} : { windowClock: ctx.windowClock }) }),
      { action: 'module-change.started', after: { moduleChange: input.change, members: sizes }, actor: input.actor, reason: input.reason },
    );
  } catch (error) {
    // Recorded meanwhile by another delivery of the same change: that one stands.
    const raced = await ctx.store.get<RolloutRecord>(rolloutPaths.rollout(id));
    if (raced !== undefined) return { kind: 'exists', fanOut: raced };
    throw error;
  }
  await publishTick(ctx, id, 'start');
  return { kind: 'started', fanOut };
}

/**
 * A person confirmed the plan of `instanceId`'s apply: its member may start (with that plan's
 * digest, acting for that person). False when it was not waiting for that (started, skipped, or
 * recorded before module changes ran on the planner).
 */
export async function confirmMember(ctx: RolloutContext, fanOutId: string, instanceId: string, confirmation: { planDigest: string | null; by: string }): Promise<boolean> {
  const changed = await ctx.store.transaction(async (tx) => {
    const now = ctx.clock.now();
    const member = await tx.get<InstanceProgress>(rolloutPaths.progress(fanOutId, instanceId));
    const next = member === undefined ? undefined : confirmedMember(member, confirmation, now);
    if (next === undefined) return false;
    tx.set(rolloutPaths.progress(fanOutId, instanceId), next);
    appendAudit(tx, { actor: confirmation.by, action: 'module-change.member-confirmed', instanceId, operationId: null, before: { eligibleAt: null }, after: { eligibleAt: next.eligibleAt, planDigest: confirmation.planDigest }, causeEventId: null, rolloutId: fanOutId }, now);
    return true;
  });
  if (changed) await publishTick(ctx, fanOutId, 'control');
  return changed;
}

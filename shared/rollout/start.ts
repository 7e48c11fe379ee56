/**
 * Starting a rollout: refused while another is active. Its members are recorded first (one
 * progress document each, written in batches, read from the fleet once), then the rollout with
 * their count per wave and its audit record, then it is ticked. A start cut off before the
 * rollout is written leaves members under an id nothing ticks; starting again makes a new one.
 */
import { randomBytes } from 'node:crypto';
import semver from 'semver';
import { isReleaseRollout, membersOf, newRollout, scaleSoaks, windowCalendar, type InstanceProgress, type RolloutRecord, type WaveName, type WaveSpec } from '../domain/rollout/index.js';
import { rolloutPaths } from '../store/collections.js';
import { appendAudit } from '../store/records.js';
import type { RolloutContext } from './deps.js';
import { publishTick } from './publish.js';
import { activeRollouts, readFleet } from './reads.js';

/** Members written per transaction (Firestore takes 500 writes in one). */
const MEMBERS_PER_WRITE = 450;

export type StartOutcome = { kind: 'started'; rollout: RolloutRecord } | { kind: 'refused'; message: string };

export interface StartInput {
  targetVersion: string;
  waves: readonly WaveSpec[];
  actor: string;
  reason: string;
  busyRetryMs?: number;
  /** The repository commit its upgrades run (the protected branch's head when it starts). */
  commit?: string;
}

/** A fan-out id that sorts by creation time: ro-YYYYMMDD-HHMMSS-xxxx (a workflow's: wf-…). */
export function newRolloutId(now: Date, prefix = 'ro-'): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15).toLowerCase();
  return `${prefix}${stamp}-${randomBytes(2).toString('hex')}`;
}

/** Starts a rollout to `targetVersion`; refused while another is active. */
export async function start(ctx: RolloutContext, input: StartInput): Promise<StartOutcome> {
  if (semver.valid(input.targetVersion) !== input.targetVersion) return { kind: 'refused', message: `${input.targetVersion} is not a semantic version such as 5.5.0` };
  // One release at a time; workflows and module changes run beside it (an instance busy with one is tried again later).
  const active = (await activeRollouts(ctx.store)).filter((r) => r.status !== 'aborted' && isReleaseRollout(r));
  const blocking = active[0];
  if (blocking !== undefined) {
    return { kind: 'refused', message: `rollout ${blocking.id} to ${blocking.targetVersion} is ${blocking.status}: finish, resume or abort it first (mi rollout status ${blocking.id})` };
  }
  const now = ctx.clock.now();
  const id = newRolloutId(now);
  // The soaks as this control plane's clock runs them (recorded so, so status and ticks agree).
  const waves = ctx.soakScale === 1 ? input.waves : scaleSoaks(input.waves, ctx.soakScale);
  const { members, sizes } = membersOf({ id, waves, targetVersion: input.targetVersion }, await readFleet(ctx.store), now, windowCalendar(ctx.windowClock));
  const skipped: Partial<Record<WaveName, number>> = {};
  for (const m of members) if (m.state === 'skipped') skipped[m.wave] = (skipped[m.wave] ?? 0) + 1;
  const rollout = await recordFanOut(ctx, id, members, (at) => newRollout({ id, ...input, waves, now: at, membership: { sizes, skipped }, ...(ctx.windowClock === undefined ? {} : { windowClock: ctx.windowClock }) }), {
    action: 'rollout.started',
    after: { targetVersion: input.targetVersion, waves, members: sizes, ...(input.commit === undefined ? {} : { commit: input.commit }) },
    actor: input.actor,
    reason: input.reason,
  });
  await publishTick(ctx, rollout.id, 'start');
  return { kind: 'started', rollout };
}

/**
 * Records a fan-out: its members first (transactions of MEMBERS_PER_WRITE), then the fan-out
 * document, made when they are written (its first write's time keeps the next a second away),
 * with its audit record.
 */
export async function recordFanOut(
  ctx: RolloutContext,
  id: string,
  members: readonly InstanceProgress[],
  make: (now: Date) => RolloutRecord,
  audit: { action: string; after: Record<string, unknown>; actor: string; reason: string },
): Promise<RolloutRecord> {
  const startedAt = ctx.clock.now();
  for (let i = 0; i < members.length; i += MEMBERS_PER_WRITE) {
    const batch = members.slice(i, i + MEMBERS_PER_WRITE);
    await ctx.store.transaction(async (tx) => {
      for (const member of batch) tx.set(rolloutPaths.progress(id, member.instanceId), member);
      await Promise.resolve();
    });
  }
  const record = make(ctx.clock.now());
  await ctx.store.transaction(async (tx) => {
    tx.create(rolloutPaths.rollout(record.id), record);
    appendAudit(tx, { actor: audit.actor, action: audit.action, instanceId: null, operationId: null, before: null, after: audit.after, causeEventId: null, rolloutId: record.id, reason: audit.reason }, startedAt);
    await Promise.resolve();
  });
  return record;
}

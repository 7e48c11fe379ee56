/**
 * Starting a rollout: refused while another is active. Its members are recorded first (one
 * progress document each, written in batches, read from the fleet once), then the rollout with
 * their count per wave and its audit record, then it is ticked. A start cut off before the
 * rollout is written leaves members under an id nothing ticks; starting again makes a new one.
 */
import { randomBytes } from 'node:crypto';
import semver from 'semver';
import { membersOf, newRollout, type RolloutRecord, type WaveName, type WaveSpec } from '../domain/rollout/index.js';
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

/** A rollout id that sorts by creation time: ro-YYYYMMDD-HHMMSS-xxxx. */
export function newRolloutId(now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15).toLowerCase();
  return `ro-${stamp}-${randomBytes(2).toString('hex')}`;
}

/** Starts a rollout to `targetVersion`; refused while another is active. */
export async function start(ctx: RolloutContext, input: StartInput): Promise<StartOutcome> {
  if (semver.valid(input.targetVersion) !== input.targetVersion) return { kind: 'refused', message: `${input.targetVersion} is not a semantic version such as 5.5.0` };
  const active = (await activeRollouts(ctx.store)).filter((r) => r.status !== 'aborted');
  const blocking = active[0];
  if (blocking !== undefined) {
    return { kind: 'refused', message: `rollout ${blocking.id} to ${blocking.targetVersion} is ${blocking.status}: finish, resume or abort it first (mi rollout status ${blocking.id})` };
  }
  const now = ctx.clock.now();
  const id = newRolloutId(now);
  const { members, sizes } = membersOf({ id, waves: input.waves, targetVersion: input.targetVersion }, await readFleet(ctx.store), now);
  for (let i = 0; i < members.length; i += MEMBERS_PER_WRITE) {
    const batch = members.slice(i, i + MEMBERS_PER_WRITE);
    await ctx.store.transaction(async (tx) => {
      for (const member of batch) tx.set(rolloutPaths.progress(id, member.instanceId), member);
      await Promise.resolve();
    });
  }
  const skipped: Partial<Record<WaveName, number>> = {};
  for (const m of members) if (m.state === 'skipped') skipped[m.wave] = (skipped[m.wave] ?? 0) + 1;
  // Written now, after its members: its first write's time keeps the next a second away.
  const rollout = newRollout({ id, ...input, now: ctx.clock.now(), membership: { sizes, skipped } });
  await ctx.store.transaction(async (tx) => {
    tx.create(rolloutPaths.rollout(rollout.id), rollout);
    appendAudit(
      tx,
      { actor: input.actor, action: 'rollout.started', instanceId: null, operationId: null, before: null, after: { targetVersion: rollout.targetVersion, waves: rollout.waves, members: sizes, ...(rollout.commit === undefined ? {} : { commit: rollout.commit }) }, causeEventId: null, rolloutId: rollout.id, reason: input.reason },
      now,
    );
    await Promise.resolve();
  });
  await publishTick(ctx, rollout.id, 'start');
  return { kind: 'started', rollout };
}

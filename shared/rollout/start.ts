/** Starting a rollout: refused while another is active; stored with its audit record, then ticked. */
import { randomBytes } from 'node:crypto';
import semver from 'semver';
import { newRollout, type RolloutRecord, type WaveSpec } from '../domain/rollout/index.js';
import { rolloutPaths } from '../store/collections.js';
import { appendAudit } from '../store/records.js';
import type { RolloutContext } from './deps.js';
import { publishTick } from './publish.js';
import { activeRollouts } from './reads.js';

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
  const rollout = newRollout({ id: newRolloutId(now), ...input, now });
  await ctx.store.transaction(async (tx) => {
    tx.create(rolloutPaths.rollout(rollout.id), rollout);
    appendAudit(
      tx,
      { actor: input.actor, action: 'rollout.started', instanceId: null, operationId: null, before: null, after: { targetVersion: rollout.targetVersion, waves: rollout.waves, ...(rollout.commit === undefined ? {} : { commit: rollout.commit }) }, causeEventId: null, rolloutId: rollout.id, reason: input.reason },
      now,
    );
    await Promise.resolve();
  });
  await publishTick(ctx, rollout.id, 'start');
  return { kind: 'started', rollout };
}

/**
 * Recording an upgrade's outcome from the engine's facts: the fact names the rollout that
 * started the upgrade (older facts are matched against the active rollouts), the member's
 * progress and an audit record are written in one transaction, and the rollout is ticked so its
 * wave moves on. Only the member's own document is written, never a shared one. What a fact
 * means is the domain's (upgradeOutcomeOf, progressAfter).
 */
import { isReleaseRollout, isWorkflowId, progressAfter, upgradeOutcomeOf, type InstanceProgress, type RolloutRecord, type UpgradeOutcome } from '../domain/rollout/index.js';
import type { AnyEnvelope } from '../events/index.js';
import type { StoreTransaction } from '../ports.js';
import { rolloutPaths } from '../store/collections.js';
import { appendAudit } from '../store/records.js';
import { ROLLOUT_ACTOR } from './actor.js';
import type { RolloutContext } from './deps.js';
import { publishTick } from './publish.js';
import { activeRollouts } from './reads.js';

export type FactOutcome =
  | { kind: 'recorded'; rolloutId: string; instanceId: string; state: InstanceProgress['state'] }
  | { kind: 'ignored'; reason: string };

/** Matches an upgrade's fact to the rollout that started it and records the outcome. */
export async function recordFact(ctx: RolloutContext, envelope: AnyEnvelope): Promise<FactOutcome> {
  const outcome = upgradeOutcomeOf(envelope);
  if (outcome.kind === 'ignored') return outcome;
  const named = outcome.rolloutId;
  const rollouts = named === undefined ? (await activeRollouts(ctx.store)).filter(isReleaseRollout).map((r) => ({ id: r.id, busyRetryMs: r.busyRetryMs })) : [{ id: named, busyRetryMs: undefined }];
  if (rollouts.length === 0) return { kind: 'ignored', reason: 'no active rollout' };
  const recorded = await ctx.store.transaction((tx) => recordOutcomeIn(ctx, tx, rollouts, outcome, envelope.eventId));
  if (recorded.kind === 'recorded') await publishTick(ctx, recorded.rolloutId, 'upgrade-finished');
  return recorded;
}

/**
 * Records an outcome learnt elsewhere than from its fact (the deployments tick follows a module
 * change's applies from their operations): the same record, once whichever comes first.
 */
export async function recordOutcome(ctx: RolloutContext, outcome: UpgradeOutcome & { rolloutId: string }, causeEventId: string): Promise<FactOutcome> {
  const recorded = await ctx.store.transaction((tx) => recordOutcomeIn(ctx, tx, [{ id: outcome.rolloutId, busyRetryMs: undefined }], outcome, causeEventId));
  if (recorded.kind === 'recorded') await publishTick(ctx, recorded.rolloutId, 'upgrade-finished');
  return recorded;
}

/** In one transaction: finds which rollout's in-flight upgrade the outcome is of, and records it. */
async function recordOutcomeIn(
  ctx: RolloutContext,
  tx: StoreTransaction,
  rollouts: ReadonlyArray<{ id: string; busyRetryMs: number | undefined }>,
  outcome: UpgradeOutcome,
  causeEventId: string,
): Promise<FactOutcome> {
  const { instanceId, eventId, state, detail } = outcome;
  const now = ctx.clock.now();
  const docs = await tx.getAll<InstanceProgress>(rollouts.map((r) => rolloutPaths.progress(r.id, instanceId)));
  const index = docs.findIndex((d) => d !== undefined && d.eventId === eventId);
  const match = docs[index];
  const rollout = rollouts[index];
  if (match === undefined || rollout === undefined) return { kind: 'ignored', reason: `no rollout started ${eventId}` };
  if (match.state !== 'in-flight') return { kind: 'ignored', reason: `already recorded as ${match.state}` };
  // Only a busy refusal needs the rollout's retry time (read then, not for every outcome).
  const busyRetryMs = outcome.retry === 'busy' ? (rollout.busyRetryMs ?? (await tx.get<RolloutRecord>(rolloutPaths.rollout(rollout.id)))?.busyRetryMs ?? 5 * 60_000) : 0;
  tx.set(rolloutPaths.progress(rollout.id, instanceId), progressAfter(match, outcome, now, busyRetryMs));
  appendAudit(
    tx,
    {
      actor: ROLLOUT_ACTOR,
      action: isWorkflowId(rollout.id) ? 'workflow.member-finished' : rollout.id.startsWith('mc-') ? 'module-change.member-finished' : 'rollout.upgrade-finished',
      instanceId,
      operationId: match.operationId,
      before: { state: match.state, wave: match.wave },
      after: { state, wave: match.wave, detail },
      causeEventId,
      rolloutId: rollout.id,
    },
    now,
  );
  return { kind: 'recorded', rolloutId: rollout.id, instanceId, state };
}

/** Publishing a rollout tick. */
import { describeError } from '../errors.js';
import { makeEnvelope, type RolloutPayloads } from '../events/index.js';
import { TOPICS } from '../topology.js';
import { ROLLOUT_ACTOR } from './actor.js';
import type { RolloutContext } from './deps.js';

/** Publishes a tick now (not through the outbox: a lost tick only delays, and the schedule ticks anyway). */
export async function publishTick(ctx: RolloutContext, rolloutId: string, cause: RolloutPayloads['rollout.tick']['cause']): Promise<void> {
  try {
    await ctx.bus.publish(
      TOPICS.rollout,
      makeEnvelope({ type: 'rollout.tick', payload: { rolloutId, cause }, actor: ROLLOUT_ACTOR, reason: `tick (${cause})`, issuedAt: ctx.clock.now().toISOString() }),
    );
  } catch (error) {
    ctx.log.warn('could not publish a rollout tick; the schedule will tick', { rolloutId, cause, error: describeError(error) });
  }
}

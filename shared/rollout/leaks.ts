/**
 * Freeing the slots of upgrades whose outcome never came back: on the schedule, every rollout's
 * members in flight for longer than LEAK_CHECK_AFTER_MS are checked against their command's
 * ledger entry and their operation; one that ended, was rejected, or was never accepted is
 * recorded as the domain decides (leakedOutcome), with an audit record and an alert, and its
 * rollout ticked. Each member is recorded in a transaction of its own that re-reads it.
 */
import { LEAK_CHECK_AFTER_MS, leakedOutcome, progressAfter, type InstanceProgress, type LedgerView, type OperationView, type RolloutRecord } from '../domain/rollout/index.js';
import { paths, rolloutPaths } from '../store/collections.js';
import { appendAudit, enqueue, type OutboxEntry } from '../store/records.js';
import { publishOutbox } from '../store/outbox.js';
import { ROLLOUT_ACTOR } from './actor.js';
import type { RolloutContext } from './deps.js';
import { publishTick } from './publish.js';
import { activeRollouts } from './reads.js';

/** Members checked per rollout per run (the next run takes the rest). */
const CHECKED_PER_RUN = 100;

/** Reconciles every active rollout's leaked members; returns the ids recorded, by rollout. */
export async function reconcileLeaks(ctx: RolloutContext): Promise<Record<string, string[]>> {
  const recorded: Record<string, string[]> = {};
  for (const rollout of await activeRollouts(ctx.store)) {
    const ids = await reconcileRollout(ctx, rollout);
    if (ids.length > 0) recorded[rollout.id] = ids;
  }
  return recorded;
}

async function reconcileRollout(ctx: RolloutContext, rollout: RolloutRecord): Promise<string[]> {
  const before = new Date(ctx.clock.now().getTime() - LEAK_CHECK_AFTER_MS).toISOString();
  const old = await ctx.store.query<InstanceProgress>({
    collection: rolloutPaths.progressCollection(rollout.id),
    where: [
      { field: 'state', op: '==', value: 'in-flight' },
      { field: 'startedAt', op: '<=', value: before },
    ],
    orderBy: [{ field: 'startedAt', direction: 'asc' }],
    limit: CHECKED_PER_RUN,
  });
  const recorded: string[] = [];
  const outbox: OutboxEntry[] = [];
  for (const { data: seen } of old) {
    if (seen.eventId === null || seen.operationId === null) continue;
    const entries = await ctx.store.transaction(async (tx) => {
      const now = ctx.clock.now();
      const [member, ledger, operation] = await tx.getAll<InstanceProgress | LedgerView | OperationView>([
        rolloutPaths.progress(rollout.id, seen.instanceId),
        paths.ledger(seen.eventId ?? ''),
        paths.operation(seen.operationId ?? ''),
      ]);
      const current = member as InstanceProgress | undefined;
      if (current === undefined || current.eventId !== seen.eventId) return [];
      const outcome = leakedOutcome(current, { ledger: ledger as LedgerView | undefined, operation: operation as OperationView | undefined }, now);
      if (outcome === undefined) return [];
      tx.set(rolloutPaths.progress(rollout.id, current.instanceId), progressAfter(current, outcome, now, rollout.busyRetryMs));
      appendAudit(
        tx,
        {
          actor: ROLLOUT_ACTOR,
          action: 'rollout.upgrade-reconciled',
          instanceId: current.instanceId,
          operationId: current.operationId,
          before: { state: current.state, wave: current.wave },
          after: { state: outcome.state, wave: current.wave, detail: outcome.detail },
          causeEventId: current.eventId,
          rolloutId: rollout.id,
        },
        now,
      );
      return [
        enqueue(
          tx,
          {
            type: 'alert',
            instanceId: current.instanceId,
            payload: {
              kind: 'rollout-slot-reconciled',
              severity: 'warning',
              summary: `rollout ${rollout.id}: the upgrade of ${current.instanceId} (${current.operationId ?? ''}) was recorded ${outcome.state} from the control plane's records, its outcome having never come back: ${outcome.detail ?? ''}`,
              details: { rolloutId: rollout.id, instanceId: current.instanceId, operationId: current.operationId, state: outcome.state },
            },
            actor: ROLLOUT_ACTOR,
            reason: 'a rollout slot freed from the ledger and operations',
          },
          now,
        ),
      ];
    });
    if (entries.length > 0) recorded.push(seen.instanceId);
    outbox.push(...entries);
  }
  if (outbox.length > 0) {
    await publishOutbox({ store: ctx.store, bus: ctx.bus, log: ctx.log }, outbox);
    if (rollout.status === 'running') await publishTick(ctx, rollout.id, 'upgrade-finished');
  }
  return recorded;
}

/**
 * The planner's view of a rollout's members, read inside the tick's transaction: counts by
 * aggregation, and only the members whose time to start has come, as many as the tick can
 * start. What a tick reads grows with what it starts, not with the fleet.
 */
import { OPEN_STATES, type InstanceProgress, type ProgressState, type WaveName, type WaveReader } from '../domain/rollout/index.js';
import type { StoreTransaction } from '../ports.js';
import { rolloutPaths } from '../store/collections.js';

const ALL_STATES: readonly ProgressState[] = ['pending', 'waiting', 'in-flight', 'succeeded', 'failed', 'skipped'];

/** The members of one rollout, read in one transaction. */
export function transactionReader(tx: StoreTransaction, rolloutId: string): WaveReader {
  const collection = rolloutPaths.progressCollection(rolloutId);
  const inWave = (wave: WaveName) => ({ field: 'wave', op: '==' as const, value: wave });
  const inState = (state: ProgressState) => ({ field: 'state', op: '==' as const, value: state });
  const open = { field: 'state', op: 'in' as const, value: OPEN_STATES };
  return {
    async counts(wave) {
      const [inFlight, failed] = await Promise.all([
        tx.count({ collection, where: [inWave(wave), inState('in-flight')] }),
        tx.count({ collection, where: [inWave(wave), inState('failed')] }),
      ]);
      return { inFlight, failed };
    },
    async eligible(wave, now, limit) {
      const docs = await tx.query<InstanceProgress>({
        collection,
        where: [inWave(wave), open, { field: 'eligibleAt', op: '<=', value: now.toISOString() }],
        orderBy: [{ field: 'eligibleAt', direction: 'asc' }],
        limit,
      });
      return docs.map((d) => d.data);
    },
    async anyOpen(wave) {
      return (await tx.query({ collection, where: [inWave(wave), open], limit: 1 })).length > 0;
    },
    async stateCounts(wave) {
      const counts = await Promise.all(ALL_STATES.map((state) => tx.count({ collection, where: [inWave(wave), inState(state)] })));
      return Object.fromEntries(ALL_STATES.map((state, i) => [state, counts[i] ?? 0]));
    },
    async failures(wave, limit) {
      return (await tx.query<InstanceProgress>({ collection, where: [inWave(wave), inState('failed')], limit })).map((d) => d.data);
    },
  };
}

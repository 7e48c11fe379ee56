/** What the rollout functions read besides a rollout document: the calendar, the active rollouts, the fleet's view. */
import { ACTIVE_ROLLOUT_STATUSES, type Calendar, type FleetInstance, type RolloutRecord } from '../domain/rollout/index.js';
import type { InstanceRecord } from '../events/index.js';
import type { StateStore, StoreTransaction } from '../ports.js';
import { COLLECTIONS, rolloutPaths } from '../store/collections.js';

/** The change freezes (none when the calendar document is missing or malformed). */
export async function readCalendar(store: Pick<StateStore | StoreTransaction, 'get'>): Promise<Calendar> {
  const doc = await store.get<Partial<Calendar>>(rolloutPaths.calendar);
  return { freezes: Array.isArray(doc?.freezes) ? doc.freezes : [] };
}

/** Rollouts that are running, paused or halted, and aborted ones (whose upgrades in flight still finish). */
export async function activeRollouts(store: StateStore): Promise<RolloutRecord[]> {
  const docs = await store.query<RolloutRecord>({
    collection: COLLECTIONS.rollouts,
    where: [{ field: 'status', op: 'in', value: [...ACTIVE_ROLLOUT_STATUSES, 'aborted'] }],
  });
  return docs.map((d) => d.data);
}

/** The ids of the running rollouts. */
export async function runningRolloutIds(store: StateStore): Promise<string[]> {
  const running = await store.query<RolloutRecord>({ collection: COLLECTIONS.rollouts, where: [{ field: 'status', op: '==', value: 'running' }] });
  return running.map((doc) => doc.id);
}

/** The whole fleet as a rollout's membership needs it, read once, a page of 1,000 at a time. */
export async function readFleet(store: Pick<StateStore, 'query'>): Promise<FleetInstance[]> {
  const page = 1_000;
  const fleet: FleetInstance[] = [];
  let after: string | undefined;
  for (;;) {
    const docs = await store.query<InstanceRecord>({ collection: COLLECTIONS.instances, limit: page, ...(after === undefined ? {} : { startAfterId: after }) });
    fleet.push(...docs.map((d) => fleetView(d.data)));
    if (docs.length < page) return fleet;
    after = docs[docs.length - 1]?.id;
  }
}

/** What the planner sees of an instance record. */
export function fleetView(record: InstanceRecord): FleetInstance {
  return {
    id: record.id,
    slug: record.slug,
    region: record.region,
    environment: record.environment,
    tier: record.tier,
    version: record.version,
    status: record.status,
    lease: record.lease,
    ...(record.maintenanceWindow === undefined ? {} : { maintenanceWindow: record.maintenanceWindow }),
  };
}

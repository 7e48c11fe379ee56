/**
 * What the dashboard reads, and nothing else: each page is a few queries with limits on the
 * state store (one page of instances, one page of a run's findings, the newest operations of
 * one status), never the whole fleet. Reads only: the dashboard's account may read Firestore,
 * not write it.
 */
import type { ComplianceRun, Finding } from '../compliance/model.js';
import type { OperationRecord } from '../domain/lifecycle/model.js';
import type { RolloutRecord } from '../domain/rollout/types.js';
import type { InstanceRecord } from '../events/index.js';
import type { StateStore } from '../ports.js';
import { COLLECTIONS, compliancePaths } from '../store/collections.js';
import { indexedQuery } from '../topology.js';
import type { OperationList } from './view.js';

/** `n + 1` documents from the cursor on: one more than a page shows tells whether another follows. */
export interface PageRead {
  after: string | null;
  limit: number;
}

export interface DashboardReader {
  /** Instances in id order after the cursor, `limit + 1` of them. */
  instances(page: PageRead): Promise<InstanceRecord[]>;
  /** How many instances the fleet holds (a count aggregation: no document is read). */
  fleetSize(): Promise<number>;
  /** The newest verify-backups run (the compliance matrix and the backups' ages come from it). */
  latestRun(): Promise<ComplianceRun | undefined>;
  run(runId: string): Promise<ComplianceRun | undefined>;
  /** The findings of these instances in a run (at most one page of them). */
  findingsOf(runId: string, instanceIds: readonly string[]): Promise<Map<string, Finding>>;
  /** A run's instance findings in id order after the cursor (only those with a failed control when asked), `limit + 1` of them. */
  findings(runId: string, page: PageRead & { failingOnly: boolean }): Promise<Finding[]>;
  finding(runId: string, instanceId: string): Promise<Finding | undefined>;
  /** The newest operations of one list (running includes those accepted and not yet started), `limit + 1` of them. */
  operations(list: OperationList, page: PageRead): Promise<OperationRecord[]>;
  /** Rollouts and workflows, newest first, `limit + 1` of them. */
  rollouts(page: PageRead): Promise<RolloutRecord[]>;
}

/** Firestore's `in` takes at most 30 values. */
const IN_LIMIT = 30;

/** The dashboard's reads on a state store. */
export function createDashboardReader(store: StateStore): DashboardReader {
  const byStatus = indexedQuery('operations-by-status');
  const runsBySchedule = indexedQuery('compliance-runs-by-schedule');
  const failing = indexedQuery('failed-findings-of-run');
  const cursor = (after: string | null) => (after === null ? {} : { startAfterId: after });
  return {
    async instances(page) {
      const docs = await store.query<InstanceRecord>({ collection: COLLECTIONS.instances, limit: page.limit + 1, ...cursor(page.after) });
      return docs.map((d) => d.data);
    },
    fleetSize: () => store.count({ collection: COLLECTIONS.instances }),
    async latestRun() {
      // A manual run shares its slot with the scheduled one: of the newest slot's few, the last created.
      const docs = await store.query<ComplianceRun>({
        collection: runsBySchedule.collection,
        where: [{ field: 'schedule', op: '==', value: 'verify-backups' }],
        orderBy: [{ field: 'slotStart', direction: 'desc' }],
        limit: 5,
      });
      const newestSlot = docs[0]?.data.slotStart;
      return docs
        .map((d) => d.data)
        .filter((r) => r.slotStart === newestSlot)
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
    },
    run: (runId) => store.get<ComplianceRun>(compliancePaths.run(runId)),
    async findingsOf(runId, instanceIds) {
      const chunks: string[][] = [];
      for (let i = 0; i < instanceIds.length; i += IN_LIMIT) chunks.push(instanceIds.slice(i, i + IN_LIMIT));
      const read = await Promise.all(chunks.map((ids) => store.query<Finding>({ collection: compliancePaths.findings(runId), where: [{ field: 'instanceId', op: 'in', value: ids }] })));
      return new Map(read.flat().map((d) => [d.id, d.data]));
    },
    async findings(runId, page) {
      const where = [
        { field: failing.fields[0].field, op: '==' as const, value: 'instance' },
        ...(page.failingOnly ? [{ field: failing.fields[1].field, op: '==' as const, value: 'fail' }] : []),
      ];
      const docs = await store.query<Finding>({ collection: compliancePaths.findings(runId), where, limit: page.limit + 1, ...cursor(page.after) });
      return docs.map((d) => d.data);
    },
    finding: (runId, instanceId) => store.get<Finding>(compliancePaths.finding(runId, instanceId)),
    async operations(list, page) {
      const statuses = list === 'running' ? ['accepted', 'running'] : [list];
      const docs = await store.query<OperationRecord>({
        collection: byStatus.collection,
        where: [statuses.length === 1 ? { field: byStatus.fields[0].field, op: '==', value: statuses[0] } : { field: byStatus.fields[0].field, op: 'in', value: statuses }],
        orderBy: [{ field: byStatus.fields[1].field, direction: 'desc' }],
        limit: page.limit + 1,
        ...cursor(page.after),
      });
      return docs.map((d) => d.data);
    },
    async rollouts(page) {
      const docs = await store.query<RolloutRecord>({ collection: COLLECTIONS.rollouts, orderBy: [{ field: 'createdAt', direction: 'desc' }], limit: page.limit + 1, ...cursor(page.after) });
      return docs.map((d) => d.data);
    },
  };
}

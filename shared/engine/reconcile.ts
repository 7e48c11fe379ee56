/** Every minute: advance the operations that are due (flagging stuck ones), then republish what the outbox holds. */
import { describeError } from '../errors.js';
import { drainOutbox } from '../store/outbox.js';
import { indexedQuery } from '../topology.js';
import type { Advance } from './advance.js';
import type { EngineDeps } from './deps.js';

export interface ReconcileSummary {
  due: number;
  advanced: number;
  failed: Array<{ operationId: string; error: string }>;
  outbox: { found: number; published: number };
}

export interface ReconcileOptions {
  limit?: number;
  concurrency?: number;
  outboxGraceMs?: number;
}

const DUE_OPERATIONS = indexedQuery('due-operations');

/** Advances up to `limit` due operations, `concurrency` at a time, then drains the outbox. */
export async function reconcile(deps: EngineDeps, advance: Advance, options: ReconcileOptions = {}): Promise<ReconcileSummary> {
  const now = deps.clock.now();
  const due = await deps.store.queryIds({
    collection: DUE_OPERATIONS.collection,
    where: [
      { field: 'status', op: 'in', value: ['running', 'stuck'] },
      { field: 'nextRunAt', op: '<=', value: now.toISOString() },
    ],
    orderBy: [{ field: 'nextRunAt', direction: 'asc' }],
    limit: options.limit ?? 100,
  });
  const failed: ReconcileSummary['failed'] = [];
  let advanced = 0;
  const queue = [...due];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      try {
        await advance(id);
        advanced += 1;
      } catch (error) {
        failed.push({ operationId: id, error: describeError(error) });
        deps.log.error('reconcile could not advance an operation', error, { operationId: id });
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  const outbox = await drainOutbox(deps, { graceMs: options.outboxGraceMs ?? 5_000 });
  return { due: due.length, advanced, failed, outbox };
}

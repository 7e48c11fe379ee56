import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Timestamp, type Firestore } from '@google-cloud/firestore';
import { ControlPlaneError } from '../../../shared/errors.js';
import type { StateStore } from '../../../shared/ports.js';
import { createFirestore, createFirestoreStore, fromFirestoreValue } from '../../../shared/gcp/firestore-store.js';
import { projectIdFor } from '../../support/project.js';
import { rejectionOf } from '../../support/failures.js';

let firestore: Firestore;
let store: StateStore;

beforeAll(() => {
  firestore = createFirestore(projectIdFor(import.meta.url));
  store = createFirestoreStore({ firestore, deadlineMs: 5_000 });
});

afterAll(async () => {
  await firestore.terminate();
});

describe('Firestore state store: documents', () => {
  it('reads back what was set, and undefined for a missing document', async () => {
    await store.set('instances/a1', { id: 'a1', generation: 1, tags: ['x'], nested: { deep: true } });
    expect(await store.get('instances/a1')).toEqual({ id: 'a1', generation: 1, tags: ['x'], nested: { deep: true } });
    expect(await store.get('instances/missing')).toBeUndefined();
  });

  it('reads nested paths such as rollouts/r1/instances/i1', async () => {
    await store.set('rollouts/r1/instances/i1', { state: 'pending' });
    expect(await store.get('rollouts/r1/instances/i1')).toEqual({ state: 'pending' });
    expect(await store.queryIds({ collection: 'rollouts/r1/instances' })).toEqual(['i1']);
  });

  it('creates once, then fails with a permanent already-exists error', async () => {
    await store.create('slugs/dev:acme', { instanceId: 'a1' });
    const error = await rejectionOf(store.create('slugs/dev:acme', { instanceId: 'a2' }));
    expect(error).toBeInstanceOf(ControlPlaneError);
    expect(error).toMatchObject({ code: 'already-exists', retryable: false });
    expect(await store.get('slugs/dev:acme')).toEqual({ instanceId: 'a1' });
  });

  it('deletes, and deleting a missing document is not an error', async () => {
    await store.set('instances/gone', { id: 'gone' });
    await store.delete('instances/gone');
    expect(await store.get('instances/gone')).toBeUndefined();
    await store.delete('instances/gone');
  });

  it('returns Dates for timestamps at any depth, and writes Dates as timestamps', async () => {
    const when = new Date('2026-11-26T10:00:00.123Z');
    await store.set('operations/t1', { nextRunAt: when, steps: [{ startedAt: when }], lease: { until: when } });
    const raw = (await firestore.doc('operations/t1').get()).data();
    expect(raw?.nextRunAt).toBeInstanceOf(Timestamp);
    const read = await store.get<{ nextRunAt: Date; steps: Array<{ startedAt: Date }>; lease: { until: Date } }>('operations/t1');
    expect(read?.nextRunAt).toBeInstanceOf(Date);
    expect(read?.nextRunAt.toISOString()).toBe(when.toISOString());
    expect(read?.steps[0]?.startedAt).toEqual(when);
    expect(read?.lease.until).toEqual(when);
    expect(fromFirestoreValue({ a: [Timestamp.fromDate(when)] })).toEqual({ a: [when] });
  });
});

describe('Firestore state store: queries', () => {
  beforeAll(async () => {
    const base = Date.parse('2026-01-01T00:00:00Z');
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        store.set(`queryOps/op-${String(i).padStart(2, '0')}`, {
          status: i % 3 === 0 ? 'done' : 'running',
          // Descending times against ascending ids, so the two orders differ.
          nextRunAt: new Date(base - i * 60_000),
          rank: i,
        }),
      ),
    );
  });

  it('filters, orders and limits', async () => {
    const docs = await store.query<{ status: string; rank: number; nextRunAt: Date }>({
      collection: 'queryOps',
      where: [
        { field: 'status', op: '==', value: 'running' },
        { field: 'nextRunAt', op: '<=', value: new Date('2026-01-01T00:00:00Z') },
      ],
      orderBy: [{ field: 'nextRunAt', direction: 'asc' }],
      limit: 3,
    });
    expect(docs.map((d) => d.data.rank)).toEqual([11, 10, 8]);
    expect(docs[0]).toMatchObject({ id: 'op-11', path: 'queryOps/op-11' });
    expect(docs[0]?.data.nextRunAt).toBeInstanceOf(Date);
  });

  it('pages with startAfterId under an explicit order', async () => {
    const spec = {
      collection: 'queryOps',
      where: [{ field: 'status', op: '==', value: 'running' }],
      orderBy: [{ field: 'nextRunAt', direction: 'asc' }],
      limit: 3,
    } as const;
    const seen: number[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await store.query<{ rank: number }>({ ...spec, ...(after === undefined ? {} : { startAfterId: after }) });
      seen.push(...page.map((d) => d.data.rank));
      if (page.length < spec.limit) break;
      after = page[page.length - 1]?.id;
    }
    expect(seen).toEqual([11, 10, 8, 7, 5, 4, 2, 1]);
  });

  it('pages ids by document id when no order is given', async () => {
    const first = await store.queryIds({ collection: 'queryOps', limit: 5 });
    expect(first).toEqual(['op-00', 'op-01', 'op-02', 'op-03', 'op-04']);
    const second = await store.queryIds({ collection: 'queryOps', limit: 5, startAfterId: 'op-04' });
    expect(second).toEqual(['op-05', 'op-06', 'op-07', 'op-08', 'op-09']);
    const filtered = await store.queryIds({
      collection: 'queryOps',
      where: [{ field: 'status', op: '==', value: 'done' }],
      startAfterId: 'op-03',
    });
    expect(filtered).toEqual(['op-06', 'op-09']);
  });

  it('fails with not-found when the cursor document of an ordered page is gone', async () => {
    const error = await rejectionOf(
      store.query({ collection: 'queryOps', orderBy: [{ field: 'rank' }], startAfterId: 'no-such-op' }),
    );
    expect(error).toMatchObject({ code: 'not-found' });
  });

  it('counts with an aggregation query', async () => {
    expect(await store.count({ collection: 'queryOps' })).toBe(12);
    expect(await store.count({ collection: 'queryOps', where: [{ field: 'status', op: '==', value: 'done' }] })).toBe(4);
    expect(await store.count({ collection: 'nothing-here' })).toBe(0);
  });
});

describe('Firestore state store: transactions', () => {
  it('reads then writes atomically and returns the callback result', async () => {
    await store.set('instances/tx1', { id: 'tx1', generation: 1 });
    const result = await store.transaction(async (tx) => {
      const [instance, missing] = await tx.getAll<{ generation: number }>(['instances/tx1', 'instances/tx-missing']);
      const running = await tx.query({ collection: 'operations', where: [{ field: 'status', op: '==', value: 'none' }] });
      tx.update('instances/tx1', { generation: (instance?.generation ?? 0) + 1 });
      tx.create('audit/tx1-1', { action: 'bump' });
      tx.set('processedEvents/e1', { at: new Date() });
      return { before: instance?.generation, missing, running: running.length };
    });
    expect(result).toEqual({ before: 1, missing: undefined, running: 0 });
    expect(await store.get('instances/tx1')).toEqual({ id: 'tx1', generation: 2 });
    expect(await store.get('audit/tx1-1')).toEqual({ action: 'bump' });
  });

  it('reads nothing for an empty getAll', async () => {
    expect(await store.transaction((tx) => tx.getAll([]))).toEqual([]);
  });

  it('fails the whole commit on a create collision, writing nothing', async () => {
    await store.set('operations/collide', { owner: 'first' });
    const error = await rejectionOf(
      store.transaction(async (tx) => {
        await tx.get('instances/tx2');
        tx.set('instances/tx2', { id: 'tx2', lease: 'second' });
        tx.create('operations/collide', { owner: 'second' });
        tx.set('audit/collide-2', { action: 'create' });
      }),
    );
    expect(error).toBeInstanceOf(ControlPlaneError);
    expect(error).toMatchObject({ code: 'already-exists', retryable: false });
    expect(await store.get('operations/collide')).toEqual({ owner: 'first' });
    expect(await store.get('instances/tx2')).toBeUndefined();
    expect(await store.get('audit/collide-2')).toBeUndefined();
  });

  it('fails with not-found when updating a missing document', async () => {
    const error = await rejectionOf(
      store.transaction(async (tx) => {
        await tx.get('instances/nope');
        tx.update('instances/nope', { generation: 1 });
      }),
    );
    expect(error).toMatchObject({ code: 'not-found', retryable: false });
  });

  it('passes the callback’s own errors through unchanged, without retrying', async () => {
    let attempts = 0;
    const mine = new ControlPlaneError('busy', 'instance is leased');
    const error = await rejectionOf(
      store.transaction(async (tx) => {
        attempts += 1;
        await tx.get('instances/tx1');
        throw mine;
      }),
    );
    expect(error).toBe(mine);
    expect(attempts).toBe(1);
  });

  it('gives up with a retryable deadline error when the transaction outlives its deadline', async () => {
    await store.set('instances/slow', { id: 'slow', generation: 1 });
    const short = createFirestoreStore({ firestore, transactionDeadlineMs: 300 });
    let attempts = 0;
    const error = await rejectionOf(
      short.transaction(async (tx) => {
        attempts += 1;
        await tx.get('instances/slow');
        await new Promise((resolve) => setTimeout(resolve, 600));
        tx.set('instances/slow', { id: 'slow', generation: 99 });
      }),
    );
    expect(error).toMatchObject({ code: 'deadline-exceeded', retryable: true });
    // The abandoned attempt must not commit after the caller was told it failed.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(attempts).toBe(1);
    expect(await store.get('instances/slow')).toEqual({ id: 'slow', generation: 1 });
  });
});

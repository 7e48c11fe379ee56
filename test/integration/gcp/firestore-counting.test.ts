import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Firestore } from '@google-cloud/firestore';
import { createFirestoreOperationCounter } from '../../../shared/gcp/firestore-counting.js';
import { createFirestore, createFirestoreStore } from '../../../shared/gcp/firestore-store.js';
import type { StateStore } from '../../../shared/ports.js';
import { projectIdFor } from '../../support/project.js';

const counter = createFirestoreOperationCounter();
let firestore: Firestore;
let store: StateStore;

beforeAll(() => {
  firestore = createFirestore(projectIdFor(import.meta.url), counter.settings);
  store = createFirestoreStore({ firestore });
});

afterAll(async () => {
  await firestore.terminate();
});

beforeEach(() => {
  counter.reset();
});

describe('Firestore operation counter (on the wire, below the store adapter)', () => {
  it('counts plain reads, writes and queries', async () => {
    await store.set('counted/a', { n: 1 });
    await store.set('counted/b', { n: 2 });
    expect(await store.get('counted/a')).toEqual({ n: 1 });
    expect(await store.get('counted/missing')).toBeUndefined();
    expect(await store.query({ collection: 'counted' })).toHaveLength(2);
    expect(await store.count({ collection: 'counted' })).toBe(2);
    expect(counter.snapshot()).toMatchObject({ reads: 4, writes: 2, writesAttempted: 2, aggregations: 1, commits: 2 });
    expect(counter.snapshot().calls).toMatchObject({ Commit: 2, BatchGetDocuments: 2, RunQuery: 1, RunAggregationQuery: 1 });
  });

  it('counts a transaction that reads 2 documents and writes 3 as 2 reads and 3 writes', async () => {
    await store.set('accounts/one', { balance: 10 });
    await store.set('accounts/two', { balance: 5 });
    counter.reset();
    await store.transaction(async (tx) => {
      const [one, two] = await tx.getAll<{ balance: number }>(['accounts/one', 'accounts/two']);
      tx.update('accounts/one', { balance: (one?.balance ?? 0) - 1 });
      tx.update('accounts/two', { balance: (two?.balance ?? 0) + 1 });
      tx.create('audit/transfer-1', { amount: 1 });
    });
    expect(counter.snapshot()).toMatchObject({ reads: 2, writes: 3, writesAttempted: 3, commits: 1, failedCommits: 0 });
  });

  it('counts the reads of a retried transaction too', async () => {
    await store.set('hot/doc', { value: 0 });
    counter.reset();
    // Both transactions read the document before either writes it, so their commits conflict
    // and Firestore aborts one of them; the client retries it, reading again.
    let readsDone = 0;
    let releaseReads: () => void = () => undefined;
    const bothRead = new Promise<void>((resolve) => {
      releaseReads = resolve;
    });
    let attempts = 0;
    const increment = () =>
      store.transaction(async (tx) => {
        attempts += 1;
        const doc = await tx.get<{ value: number }>('hot/doc');
        readsDone += 1;
        if (readsDone === 2) releaseReads();
        if (readsDone <= 2) await bothRead;
        tx.set('hot/doc', { value: (doc?.value ?? 0) + 1 });
      });
    await Promise.all([increment(), increment()]);
    const counts = counter.snapshot();
    expect(attempts).toBeGreaterThan(2);
    // Every read the callbacks made, retries included, went over the wire once.
    expect(counts.reads).toBe(attempts);
    expect(counts).toMatchObject({ writes: 2, commits: 2 });
    expect(await store.get('hot/doc')).toEqual({ value: 2 });
  });

  it("keeps each document's write times on the wire: the most writes one document got within a window, not a commit the service refused", async () => {
    for (let i = 0; i < 3; i += 1) await store.set('hot/doc', { n: i });
    await store.set('cold/doc', { n: 0 });
    // A commit the service refuses (a create of a document that exists) wrote nothing: not counted.
    await expect(store.create('hot/doc', { n: 9 })).rejects.toThrow();
    expect(counter.maxWritesWithin(60_000, () => true)).toEqual({ path: 'hot/doc', writes: 3 });
    expect(counter.maxWritesWithin(60_000, (path) => path.startsWith('cold/'))).toEqual({ path: 'cold/doc', writes: 1 });
    expect(counter.snapshot()).toMatchObject({ writes: 4, writesAttempted: 5, failedCommits: 1 });
    counter.reset();
    expect(counter.maxWritesWithin(60_000, () => true)).toEqual({ path: null, writes: 0 });
  });
});

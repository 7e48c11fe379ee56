/**
 * The state store on Cloud Firestore (`@google-cloud/firestore`). Every call runs under a
 * deadline, because a client pointed at a dead Firestore hangs for minutes instead of failing;
 * failures become ControlPlaneErrors with the client's error as `cause`.
 */
import {
  FieldPath,
  Firestore,
  Timestamp,
  type DocumentData as FirestoreData,
  type DocumentSnapshot,
  type Query,
  type QuerySnapshot,
  type Settings,
  type Transaction,
} from '@google-cloud/firestore';
import { DEFAULT_DEADLINE_MS } from '../deadline.js';
import { ControlPlaneError } from '../errors.js';
import type { DocumentData, QuerySpec, StateStore, StoreTransaction, StoredDocument } from '../ports.js';
import { guardedCall, toControlPlaneError } from './grpc-errors.js';

/** How long a whole transaction, its retries included, may take unless told otherwise. */
export const DEFAULT_TRANSACTION_DEADLINE_MS = 10_000;

export interface FirestoreStoreOptions {
  firestore: Firestore;
  /** Deadline of each plain call (get, set, query...). */
  deadlineMs?: number;
  /** Deadline of a whole transaction, every attempt included. */
  transactionDeadlineMs?: number;
  /** Attempts of a transaction that meets contention (the client's default is 5). */
  maxTransactionAttempts?: number;
}

/**
 * A Firestore client with the settings the control plane relies on: gRPC rather than REST
 * (the operation counter sees gRPC calls only) and undefined fields skipped, as JSON would.
 * The FIRESTORE_EMULATOR_HOST variable, when set, overrides any host given here: the client
 * itself gives it precedence.
 */
export function createFirestore(projectId: string, settings: Settings = {}): Firestore {
  return new Firestore({ projectId, preferRest: false, ignoreUndefinedProperties: true, ...settings });
}

/** Converts Firestore Timestamps to Dates, at any depth. */
export function fromFirestoreValue(value: unknown): unknown {
  if (value instanceof Timestamp) return value.toDate();
  if (Array.isArray(value)) return value.map(fromFirestoreValue);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) out[key] = fromFirestoreValue(inner);
    return out;
  }
  // GeoPoint, Buffer, DocumentReference and scalars stay as they are.
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function dataOf<T extends object>(snapshot: DocumentSnapshot): T | undefined {
  if (!snapshot.exists) return undefined;
  return fromFirestoreValue(snapshot.data() ?? {}) as T;
}

function storedDocuments<T extends object>(snapshot: QuerySnapshot): Array<StoredDocument<T>> {
  return snapshot.docs.map((doc) => ({
    id: doc.id,
    path: doc.ref.path,
    data: fromFirestoreValue(doc.data()) as T,
  }));
}

/** Reads one document, in a transaction or not: the cursor of a paged query needs both. */
type SnapshotReader = (path: string) => Promise<DocumentSnapshot>;

/** Where, order, cursor and limit of a QuerySpec, on a Firestore query. */
async function buildQuery(
  firestore: Firestore,
  spec: QuerySpec,
  readCursor: SnapshotReader,
  paging: boolean,
): Promise<Query> {
  const collection = firestore.collection(spec.collection);
  let query: Query = collection;
  for (const clause of spec.where ?? []) query = query.where(clause.field, clause.op, clause.value);
  for (const order of spec.orderBy ?? []) query = query.orderBy(order.field, order.direction ?? 'asc');
  if (paging && spec.startAfterId !== undefined) {
    if ((spec.orderBy ?? []).length === 0) {
      query = query.orderBy(FieldPath.documentId()).startAfter(spec.startAfterId);
    } else {
      // With an explicit order the cursor needs the document's own values; the client adds the
      // document id as the final tie-breaking order.
      const cursor = await readCursor(`${spec.collection}/${spec.startAfterId}`);
      if (!cursor.exists) {
        throw new ControlPlaneError('not-found', `cannot page ${spec.collection} after ${spec.startAfterId}: that document no longer exists`, {
          details: { collection: spec.collection, startAfterId: spec.startAfterId },
        });
      }
      query = query.startAfter(cursor);
    }
  }
  if (paging && spec.limit !== undefined) query = query.limit(spec.limit);
  return query;
}

/** A StoreTransaction over a Firestore Transaction; reads fail once the deadline has passed. */
function wrapTransaction(firestore: Firestore, tx: Transaction, checkDeadline: () => void): StoreTransaction {
  const doc = (path: string) => firestore.doc(path);
  // Read errors are NOT mapped here: runTransaction decides from the raw gRPC code whether to
  // retry (ABORTED under contention), and the whole transaction's error is mapped once.
  return {
    async get<T extends object = DocumentData>(path: string): Promise<T | undefined> {
      checkDeadline();
      return dataOf<T>(await tx.get(doc(path)));
    },
    async getAll<T extends object = DocumentData>(paths: readonly string[]): Promise<Array<T | undefined>> {
      checkDeadline();
      const [first, ...rest] = paths.map(doc);
      if (first === undefined) return [];
      const snapshots = await tx.getAll(first, ...rest);
      return snapshots.map((snapshot) => dataOf<T>(snapshot));
    },
    async query<T extends object = DocumentData>(spec: QuerySpec): Promise<Array<StoredDocument<T>>> {
      checkDeadline();
      const query = await buildQuery(firestore, spec, (path) => tx.get(doc(path)), true);
      return storedDocuments<T>(await tx.get(query));
    },
    async count(spec: Omit<QuerySpec, 'orderBy' | 'limit' | 'startAfterId'>): Promise<number> {
      checkDeadline();
      const query = await buildQuery(firestore, spec, (path) => tx.get(doc(path)), false);
      return (await tx.get(query.count())).data().count;
    },
    create(path: string, data: object): void {
      tx.create(doc(path), data);
    },
    set(path: string, data: object): void {
      tx.set(doc(path), data as FirestoreData);
    },
    update(path: string, data: object): void {
      tx.update(doc(path), data as FirestoreData);
    },
    delete(path: string): void {
      tx.delete(doc(path));
    },
  };
}

/** The state store on a Firestore client. */
export function createFirestoreStore(options: FirestoreStoreOptions): StateStore {
  const { firestore } = options;
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const transactionDeadlineMs = options.transactionDeadlineMs ?? DEFAULT_TRANSACTION_DEADLINE_MS;
  const maxAttempts = options.maxTransactionAttempts;
  const plainCursor: SnapshotReader = (path) => firestore.doc(path).get();

  return {
    get<T extends object = DocumentData>(path: string): Promise<T | undefined> {
      return guardedCall(`firestore get ${path}`, deadlineMs, async () => dataOf<T>(await firestore.doc(path).get()));
    },

    async set(path: string, data: object): Promise<void> {
      await guardedCall(`firestore set ${path}`, deadlineMs, () => firestore.doc(path).set(data as FirestoreData));
    },

    async create(path: string, data: object): Promise<void> {
      await guardedCall(`firestore create ${path}`, deadlineMs, () => firestore.doc(path).create(data as FirestoreData));
    },

    async delete(path: string): Promise<void> {
      await guardedCall(`firestore delete ${path}`, deadlineMs, () => firestore.doc(path).delete());
    },

    query<T extends object = DocumentData>(spec: QuerySpec): Promise<Array<StoredDocument<T>>> {
      return guardedCall(`firestore query ${spec.collection}`, deadlineMs, async () => {
        const query = await buildQuery(firestore, spec, plainCursor, true);
        return storedDocuments<T>(await query.get());
      });
    },

    queryIds(spec: QuerySpec): Promise<string[]> {
      return guardedCall(`firestore query ids ${spec.collection}`, deadlineMs, async () => {
        // select() with no fields: the documents travel without their data.
        const query = (await buildQuery(firestore, spec, plainCursor, true)).select();
        return (await query.get()).docs.map((doc) => doc.id);
      });
    },

    count(spec: Omit<QuerySpec, 'orderBy' | 'limit' | 'startAfterId'>): Promise<number> {
      return guardedCall(`firestore count ${spec.collection}`, deadlineMs, async () => {
        const query = await buildQuery(firestore, spec, plainCursor, false);
        return (await query.count().get()).data().count;
      });
    },

    async transaction<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T> {
      let expired = false;
      const checkDeadline = (): void => {
        // Stops further attempts of an abandoned transaction: a ControlPlaneError is not a
        // gRPC status, so runTransaction rolls back instead of retrying.
        if (expired) {
          throw new ControlPlaneError('deadline-exceeded', `firestore transaction passed its ${transactionDeadlineMs} ms deadline`, {
            details: { deadlineMs: transactionDeadlineMs },
          });
        }
      };
      try {
        return await guardedCall('firestore transaction', transactionDeadlineMs, () =>
          firestore.runTransaction(
            async (tx) => {
              checkDeadline();
              const result = await work(wrapTransaction(firestore, tx, checkDeadline));
              // Do not commit what the caller was already told has failed. (A commit already
              // in flight when the deadline passes may still land: callers are idempotent.)
              checkDeadline();
              return result;
            },
            maxAttempts === undefined ? {} : { maxAttempts },
          ),
        );
      } catch (error) {
        if (error instanceof ControlPlaneError && error.code === 'deadline-exceeded') expired = true;
        throw toControlPlaneError(error, 'firestore transaction');
      }
    },
  };
}

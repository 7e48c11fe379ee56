/**
 * Counts Firestore document reads and writes on the wire, below the store adapter, so a
 * benchmark sees what a transaction really costs, its retries included.
 *
 * How: the Firestore client hands its settings to google-gax, which passes the gRPC option
 * `grpc.callInvocationTransformer` to the generated @grpc/grpc-js client (gax strips the
 * `grpc.` prefix for it and two other grpc-gcp options). The transformer adds a gRPC client
 * interceptor to every call, and the interceptor reads the requests sent and the responses
 * received. This uses only public surfaces (client settings, a grpc-js client option and the
 * grpc-js interceptor API): no patching of the client's private members. It needs the gRPC
 * transport, which createFirestore selects (`preferRest: false`).
 *
 * Why not the emulator: its auxiliary API (rules, rule coverage, index usage, import/export,
 * clear) has no operation counts, and production has none either.
 */
import { InterceptingCall, status as grpcStatus, type CallProperties, type Interceptor, type InterceptorOptions } from '@grpc/grpc-js';
import type { Settings } from '@google-cloud/firestore';

/** What went over the wire since the counter was created or last reset. */
export interface FirestoreOperationCounts {
  /** Documents returned by lookups (found or missing) and by queries. */
  reads: number;
  /** Document writes in commits (and batch writes) that succeeded. */
  writes: number;
  /** Document writes sent, whether their commit succeeded or not (an aborted retry included). */
  writesAttempted: number;
  /** Aggregation results (count, sum, average); production bills at least one read for each. */
  aggregations: number;
  commits: number;
  failedCommits: number;
  /** Calls per gRPC method name (BatchGetDocuments, RunQuery, Commit, Rollback...). */
  calls: Record<string, number>;
}

export interface FirestoreOperationCounter {
  /** Spread into the Firestore settings (`createFirestore(projectId, counter.settings)`). */
  readonly settings: Settings;
  /** A copy of the counts so far. */
  snapshot(): FirestoreOperationCounts;
  /**
   * The most writes any matching document (its path below `documents/`) got within `windowMs`,
   * by the time each commit was sent: every commit that landed, and every one whose answer never
   * came back (a commit that lands after the client gave up is counted too, so this bounds what
   * landed); only commits the service refused (aborted, a failed precondition) are left out.
   */
  maxWritesWithin(windowMs: number, matches: (path: string) => boolean): { path: string | null; writes: number };
  reset(): void;
}

/** The document path of a write (`update.name` or `delete`), below `.../documents/`. */
function writtenPath(write: unknown): string | undefined {
  const name = field(field(write, 'update'), 'name') ?? field(write, 'delete');
  if (typeof name !== 'string') return undefined;
  const at = name.indexOf('/documents/');
  return at < 0 ? name : name.slice(at + '/documents/'.length);
}

const SERVICE = '/google.firestore.v1.Firestore/';

/** Statuses with which the service definitely wrote nothing. */
const REFUSED: ReadonlySet<number> = new Set([grpcStatus.ABORTED, grpcStatus.FAILED_PRECONDITION, grpcStatus.ALREADY_EXISTS, grpcStatus.NOT_FOUND, grpcStatus.INVALID_ARGUMENT, grpcStatus.PERMISSION_DENIED, grpcStatus.UNAUTHENTICATED, grpcStatus.RESOURCE_EXHAUSTED]);

function emptyCounts(): FirestoreOperationCounts {
  return { reads: 0, writes: 0, writesAttempted: 0, aggregations: 0, commits: 0, failedCommits: 0, calls: {} };
}

function field(message: unknown, name: string): unknown {
  if (typeof message !== 'object' || message === null) return undefined;
  return (message as Record<string, unknown>)[name];
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function lengthOf(value: unknown): number {
  return Array.isArray(value) ? value.length : 0;
}

/** The most moments any matching key has within a sliding window of `windowMs`, and which key. */
export function mostWithin(timesByKey: ReadonlyMap<string, readonly number[]>, windowMs: number, matches: (key: string) => boolean): { path: string | null; writes: number } {
  let best = { path: null as string | null, writes: 0 };
  for (const [path, times] of timesByKey) {
    if (!matches(path)) continue;
    const sorted = [...times].sort((a, b) => a - b);
    let start = 0;
    for (let end = 0; end < sorted.length; end += 1) {
      while ((sorted[end] ?? 0) - (sorted[start] ?? 0) >= windowMs) start += 1;
      if (end - start + 1 > best.writes) best = { path, writes: end - start + 1 };
    }
  }
  return best;
}

/** A counter of document reads and writes for one or more Firestore clients. */
export function createFirestoreOperationCounter(): FirestoreOperationCounter {
  let counts = emptyCounts();
  /** When each document's writes were sent, by path. */
  let sent = new Map<string, number[]>();

  const interceptor: Interceptor = (options: InterceptorOptions, nextCall) => {
    const path = options.method_definition.path;
    const method = path.startsWith(SERVICE) ? path.slice(SERVICE.length) : path;
    counts.calls[method] = (counts.calls[method] ?? 0) + 1;
    let sentWrites = 0;
    let batchWritesOk = 0;
    /** This commit's writes by path, kept unless the service definitely refused it. */
    let sentPaths: string[] = [];
    let sentAt = 0;
    return new InterceptingCall(nextCall(options), {
      sendMessage(message: unknown, next: (message: unknown) => void) {
        if (method === 'Commit' || method === 'BatchWrite') {
          sentWrites = lengthOf(field(message, 'writes'));
          counts.writesAttempted += sentWrites;
          sentAt = Date.now();
          sentPaths = ((field(message, 'writes') as unknown[] | undefined) ?? []).map(writtenPath).filter((p): p is string => p !== undefined);
        }
        next(message);
      },
      start(metadata, _listener, next) {
        next(metadata, {
          onReceiveMessage(message: unknown, nextMessage: (message: unknown) => void) {
            if (method === 'BatchGetDocuments') {
              if (present(field(message, 'found')) || present(field(message, 'missing'))) counts.reads += 1;
            } else if (method === 'RunQuery') {
              if (present(field(message, 'document'))) counts.reads += 1;
            } else if (method === 'RunAggregationQuery') {
              if (present(field(message, 'result'))) counts.aggregations += 1;
            } else if (method === 'BatchWrite') {
              const statuses = field(message, 'status');
              if (Array.isArray(statuses)) batchWritesOk += statuses.filter((s) => (field(s, 'code') ?? 0) === 0).length;
            }
            nextMessage(message);
          },
          onReceiveStatus(status, nextStatus) {
            // A commit landed, or may have (no answer: a deadline, a cancel, a dropped connection);
            // one the service refused (aborted by contention, a precondition) wrote nothing.
            if ((method === 'Commit' || method === 'BatchWrite') && !REFUSED.has(status.code)) {
              for (const path of sentPaths) {
                const times = sent.get(path);
                if (times === undefined) sent.set(path, [sentAt]);
                else times.push(sentAt);
              }
            }
            if (method === 'Commit') {
              if (status.code === grpcStatus.OK) {
                counts.commits += 1;
                counts.writes += sentWrites;
              } else {
                counts.failedCommits += 1;
              }
            } else if (method === 'BatchWrite') {
              counts.writes += batchWritesOk;
            }
            nextStatus(status);
          },
        });
      },
    });
  };

  const transformer = (properties: CallProperties<unknown, unknown>): CallProperties<unknown, unknown> => ({
    ...properties,
    callOptions: {
      ...properties.callOptions,
      interceptors: [...(properties.callOptions.interceptors ?? []), interceptor],
    },
  });

  return {
    // google-gax passes `grpc.callInvocationTransformer` on as the grpc-js client option
    // `callInvocationTransformer` (see createStub in google-gax/build/src/grpc.js).
    settings: { preferRest: false, 'grpc.callInvocationTransformer': transformer },
    snapshot: () => ({ ...counts, calls: { ...counts.calls } }),
    maxWritesWithin: (windowMs, matches) => mostWithin(sent, windowMs, matches),
    reset: () => {
      counts = emptyCounts();
      sent = new Map();
    },
  };
}

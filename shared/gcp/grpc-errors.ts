/**
 * Turns the errors of the Google Cloud gRPC clients into ControlPlaneErrors, so callers see one
 * fixed set of codes with the original kept as `cause`.
 */
import { withDeadline } from '../deadline.js';
import { ControlPlaneError, type ErrorCode } from '../errors.js';

/** gRPC status codes the adapters tell apart (google.rpc.Code). */
export const GrpcCode = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

// Socket-level failures that surface without a gRPC status (seen when a channel is torn down).
const CONNECTION_ERRNOS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** The numeric gRPC status of an error thrown by a Google Cloud client, if it has one. */
export function grpcCodeOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = error.code;
  return typeof code === 'number' ? code : undefined;
}

function errnoOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = error.code;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Maps a client failure to a ControlPlaneError. ControlPlaneErrors pass through unchanged;
 * errors that are neither gRPC statuses nor connection failures (a bug, an invalid path) are
 * returned as they are, since they say more than any code would.
 */
export function toControlPlaneError(error: unknown, what: string): unknown {
  if (error instanceof ControlPlaneError) return error;
  const grpcCode = grpcCodeOf(error);
  const errno = errnoOf(error);
  let code: ErrorCode | undefined;
  let retryable: boolean | undefined;
  if (grpcCode !== undefined) {
    switch (grpcCode) {
      case GrpcCode.DEADLINE_EXCEEDED:
        code = 'deadline-exceeded';
        break;
      case GrpcCode.UNAVAILABLE:
      case GrpcCode.ABORTED:
      case GrpcCode.INTERNAL:
      case GrpcCode.CANCELLED:
      case GrpcCode.UNKNOWN:
        code = 'unavailable';
        break;
      case GrpcCode.RESOURCE_EXHAUSTED:
        code = 'rate-limited';
        break;
      case GrpcCode.ALREADY_EXISTS:
        code = 'already-exists';
        break;
      case GrpcCode.NOT_FOUND:
        code = 'not-found';
        break;
      case GrpcCode.FAILED_PRECONDITION:
        code = 'failed-precondition';
        break;
      default:
        // INVALID_ARGUMENT, PERMISSION_DENIED, UNAUTHENTICATED...: trying again will not help.
        code = 'internal';
        retryable = false;
    }
  } else if (errno !== undefined && CONNECTION_ERRNOS.has(errno)) {
    code = 'unavailable';
  }
  if (code === undefined) return error;
  return new ControlPlaneError(code, `${what} failed: ${messageOf(error)}`, {
    cause: error,
    ...(retryable === undefined ? {} : { retryable }),
    details: { operation: what, ...(grpcCode === undefined ? { errno } : { grpcCode }) },
  });
}

/**
 * Runs one client call under a deadline and maps its failure. The abandoned call of a dead
 * service may reject minutes later: a handler is attached so that is never an unhandled
 * rejection.
 */
export async function guardedCall<T>(what: string, ms: number, call: () => Promise<T>): Promise<T> {
  let started: Promise<T>;
  try {
    started = call();
  } catch (error) {
    throw toControlPlaneError(error, what);
  }
  started.catch(() => undefined);
  try {
    return await withDeadline(what, () => started, ms);
  } catch (error) {
    throw toControlPlaneError(error, what);
  }
}

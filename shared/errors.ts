/**
 * The fixed set of error codes. A retryable error is rethrown so Pub/Sub redelivers; a
 * permanent one is recorded and acknowledged.
 */
export const ERROR_CODES = [
  'invalid-message',
  'unknown-instance',
  'busy',
  'not-newer',
  'not-active',
  'not-implemented',
  'already-exists',
  'not-found',
  'conflict',
  'unavailable',
  'deadline-exceeded',
  'rate-limited',
  'failed-precondition',
  'unauthenticated',
  'permission-denied',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const RETRYABLE_BY_DEFAULT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'unavailable',
  'deadline-exceeded',
  'rate-limited',
  'conflict',
]);

export interface ControlPlaneErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  /** Safe to log and store: no secrets, no payloads. */
  details?: Record<string, unknown>;
}

/** An error with a code, a retryable flag, its cause and safe details. */
export class ControlPlaneError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: ControlPlaneErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ControlPlaneError';
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.details = options.details ?? {};
  }
}

/** True when the failure is worth another try (a redelivery, a later reconcile). */
export function isRetryable(error: unknown): boolean {
  if (error instanceof ControlPlaneError) return error.retryable;
  // Unknown failures (a bug, a dropped connection) are retried: losing an event is worse
  // than a bounded number of redeliveries ending on the dead-letter topic.
  return true;
}

/**
 * True when the service refused the call, so it cannot have taken effect: Cloud SQL's 409
 * (another operation runs), a 429. Any other failure of a call that was sent (a timeout, a
 * 503, a lost answer) may have landed.
 */
export function wasRefused(error: unknown): boolean {
  return error instanceof ControlPlaneError && (error.code === 'conflict' || error.code === 'rate-limited');
}

/** A short text of an error and its causes, for records and messages. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 4; depth += 1) {
    if (current instanceof Error) {
      parts.push(current.message);
      current = current.cause;
    } else {
      parts.push(typeof current === 'string' ? current : JSON.stringify(current));
      current = undefined;
    }
  }
  return parts.join(': ');
}

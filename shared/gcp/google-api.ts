/**
 * What the adapters on Google's generated clients share: turning their errors into
 * ControlPlaneErrors, reading protobuf timestamps and enums, and pointing a gax client in
 * REST mode at a plain HTTP endpoint without credentials (tests, local fakes).
 */
import { ControlPlaneError, type ErrorCode } from '../errors.js';

// ---------------------------------------------------------------------------- errors

/** gRPC status names by number (google.rpc.Code). */
const GRPC_STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;
type GrpcStatus = (typeof GRPC_STATUS_NAMES)[number];

/** The HTTP status Google's REST surface answers for each gRPC status (google.rpc.Code docs). */
const HTTP_BY_STATUS: Record<GrpcStatus, number> = {
  OK: 200,
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
  UNAUTHENTICATED: 401,
};

function statusFromHttp(http: number): GrpcStatus {
  switch (http) {
    case 400:
      return 'INVALID_ARGUMENT';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'PERMISSION_DENIED';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'ABORTED';
    case 429:
      return 'RESOURCE_EXHAUSTED';
    case 499:
      return 'CANCELLED';
    case 501:
      return 'UNIMPLEMENTED';
    case 503:
      return 'UNAVAILABLE';
    case 504:
      return 'DEADLINE_EXCEEDED';
    default:
      return http >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION';
  }
}

function isGrpcStatus(value: unknown): value is GrpcStatus {
  return typeof value === 'string' && (GRPC_STATUS_NAMES as readonly string[]).includes(value);
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** The answer a failed call carries, whichever client library threw it. */
interface FailedAnswer {
  status: GrpcStatus;
  httpStatus: number;
  /** `errors[0].reason` of the JSON error body, such as `operationInProgress`. */
  reason?: string;
}

/**
 * Reads an error thrown by google-gax (a GoogleError with a numeric gRPC `code`) or by
 * gaxios/googleapis (a GaxiosError with an HTTP `status` and the JSON error body in
 * `response.data`). Undefined when the call got no answer at all (refused, reset, aborted).
 */
function readFailedAnswer(error: unknown): FailedAnswer | undefined {
  const httpStatus = field(error, 'status');
  if (typeof httpStatus === 'number' && httpStatus >= 400) {
    // gaxios: the body is Google's JSON error format, whose `status` is more precise than
    // the HTTP code (409 is ALREADY_EXISTS or ABORTED).
    const body = field(field(field(error, 'response'), 'data'), 'error');
    const named = field(body, 'status');
    const reason = field(field(field(body, 'errors'), '0'), 'reason');
    return {
      status: isGrpcStatus(named) ? named : statusFromHttp(httpStatus),
      httpStatus,
      ...(typeof reason === 'string' ? { reason } : {}),
    };
  }
  const code = field(error, 'code');
  if (typeof code === 'number' && Number.isInteger(code) && code > 0 && code < GRPC_STATUS_NAMES.length) {
    // google-gax has already turned the HTTP answer (or the gRPC trailer) into a gRPC code.
    const status = GRPC_STATUS_NAMES[code];
    const reason = field(error, 'reason');
    return { status, httpStatus: HTTP_BY_STATUS[status], ...(typeof reason === 'string' ? { reason } : {}) };
  }
  return undefined;
}

export interface ErrorMappingOptions {
  /**
   * What ALREADY_EXISTS means for this service: Cloud SQL answers 409 while another
   * operation runs on the instance (`conflict`, retry later); Backup for GKE answers it for
   * an id in use (`already-exists`, fetch it instead).
   */
  alreadyExists: 'conflict' | 'already-exists';
}

/** Turns whatever a Google client threw into a ControlPlaneError with the cause and safe details. */
export function toControlPlaneError(what: string, error: unknown, options: ErrorMappingOptions): ControlPlaneError {
  if (error instanceof ControlPlaneError) return error;
  const answer = readFailedAnswer(error);
  const message = error instanceof Error ? error.message : String(error);
  if (answer === undefined) {
    // No HTTP answer: connection refused or reset, DNS, an unreadable body from a proxy.
    return new ControlPlaneError('unavailable', `${what} got no usable answer: ${message}`, {
      cause: error,
      details: { what },
    });
  }
  return errorForAnswer(what, answer, message, error, options);
}

/** The ControlPlaneError for an HTTP error status answered by a Google-style API. */
export function errorForHttpStatus(what: string, httpStatus: number, message: string, options: ErrorMappingOptions): ControlPlaneError {
  return errorForAnswer(what, { status: statusFromHttp(httpStatus), httpStatus }, message, undefined, options);
}

function errorForAnswer(what: string, answer: FailedAnswer, message: string, error: unknown, options: ErrorMappingOptions): ControlPlaneError {
  const details = { what, httpStatus: answer.httpStatus, status: answer.status, ...(answer.reason ? { reason: answer.reason } : {}) };
  const make = (code: ErrorCode, retryable?: boolean): ControlPlaneError =>
    new ControlPlaneError(code, `${what} failed with ${answer.httpStatus} ${answer.status}: ${message}`, {
      ...(error === undefined ? {} : { cause: error }),
      details,
      ...(retryable === undefined ? {} : { retryable }),
    });
  switch (answer.status) {
    case 'NOT_FOUND':
      return make('not-found', false);
    case 'ALREADY_EXISTS':
      return options.alreadyExists === 'conflict' ? make('conflict', true) : make('already-exists', false);
    case 'ABORTED':
      return make('conflict', true);
    case 'RESOURCE_EXHAUSTED':
      return make('rate-limited', true);
    case 'UNAVAILABLE':
    case 'CANCELLED':
      return make('unavailable', true);
    case 'DEADLINE_EXCEEDED':
      return make('deadline-exceeded', true);
    case 'UNIMPLEMENTED':
      return make('not-implemented', false);
    case 'INTERNAL':
    case 'UNKNOWN':
    case 'DATA_LOSS':
      // Google asks clients to retry 500s with backoff; Pub/Sub redelivery is that backoff.
      return make('internal', true);
    default:
      // 400, 401, 403 and the like: the request or our permissions are wrong, and the same
      // call will fail the same way; record it rather than redeliver it.
      return make('failed-precondition', false);
  }
}

/** True for an error that means "no such resource": get* calls answer undefined for it. */
export function isNotFound(error: ControlPlaneError): boolean {
  return error.code === 'not-found';
}

/** A permanent error for an answer that does not have the shape the API reference promises. */
export function malformedAnswer(what: string, path: string, problem: string, value: unknown): ControlPlaneError {
  return new ControlPlaneError('internal', `${what} answered with ${path} ${problem} (got ${JSON.stringify(value)})`, {
    retryable: false,
    details: { what, field: path },
  });
}

// ---------------------------------------------------------------------------- values

/**
 * An RFC 3339 time as `Date.toISOString()` writes it (milliseconds, Z): the API's own strings
 * carry 0, 3, 6 or 9 fraction digits, which would not sort as text against each other.
 * Accepts the protobuf Timestamp object that gax decodes (`{seconds, nanos}`) or a string.
 */
export function toIsoTime(value: unknown): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
  }
  const seconds = field(value, 'seconds');
  const nanos = field(value, 'nanos');
  const s = typeof seconds === 'string' ? Number(seconds) : typeof seconds === 'number' ? seconds : Number.NaN;
  if (Number.isNaN(s)) return undefined;
  const n = typeof nanos === 'number' ? nanos : 0;
  return new Date(s * 1000 + Math.floor(n / 1_000_000)).toISOString();
}

/** A string field; gax fills unset proto3 strings with '' (which means absent). */
export function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** An int64 as a decimal string: gax decodes int64 as strings, gRPC may give numbers or Longs. */
export function int64String(value: unknown): string | undefined {
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return value === '0' ? undefined : value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value === 0 ? undefined : String(value);
  if (typeof value === 'object' && value !== null && 'low' in value && 'high' in value) {
    // A protobufjs Long, whose toString is the decimal value.
    const text = (value as { toString(): string }).toString();
    if (/^-?\d+$/.test(text)) return text === '0' ? undefined : text;
  }
  return undefined;
}

/** The value of a protobuf wrapper (`BoolValue`, `Int32Value`): gax decodes it as `{value}`. */
export function unwrap(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && 'value' in value) return value.value;
  return value;
}

/**
 * An enum value as the API's string name. The REST transport decodes enums as names, but a
 * client built with other options (or on gRPC) can hand back numbers: those are named from
 * the generated enum object, whose reverse entries map numbers to names.
 */
export function enumName(value: unknown, names: Readonly<Record<number, string>>): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return names[value];
  return undefined;
}

/** `value` if it is one of `allowed`, else a permanent error naming the field. */
export function oneOf<T extends string>(what: string, path: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw malformedAnswer(what, path, `not one of ${allowed.join(', ')}`, value);
}

// ---------------------------------------------------------------------------- endpoints

/** Something that answers like Google's REST API, reached without credentials. */
export interface PlainEndpoint {
  /** Base URL such as `http://127.0.0.1:8123`. */
  url: string;
}

/**
 * The one part of google-auth-library's AuthClient that gax's REST transport uses:
 * `getRequestHeaders` (to recognise an auth client) and `fetch` (to send each call). This
 * one adds no credentials and leaves non-2xx answers to gax, which decodes Google's JSON
 * error body into a GoogleError exactly as it does for the real service.
 */
export const anonymousAuthClient = {
  getRequestHeaders: (): Promise<Headers> => Promise.resolve(new Headers()),
  fetch: (input: string | URL, init?: RequestInit): Promise<Response> => fetch(input, init),
};

/** gax client options for REST (`fallback`) calls to a plain HTTP endpoint without credentials. */
export function plainEndpointOptions(endpoint: PlainEndpoint): {
  fallback: true;
  apiEndpoint: string;
  port: number;
  protocol: string;
} {
  const url = new URL(endpoint.url);
  const protocol = url.protocol.replace(/:$/, '');
  const port = url.port === '' ? (protocol === 'https' ? 443 : 80) : Number(url.port);
  return { fallback: true, apiEndpoint: url.hostname, port, protocol };
}

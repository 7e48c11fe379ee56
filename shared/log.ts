/**
 * Log lines as Cloud Logging reads them from a function's stdout/stderr: one JSON object per
 * line, `severity` and `message`, the trace of the request being served
 * (`logging.googleapis.com/trace` and `…/spanId`, so a message's lines group under its trace in
 * the Logs Explorer), and labels naming the instance, operation and event it concerns
 * (`logging.googleapis.com/labels`, searchable as `labels.instance="cus-acme"`). An error line
 * is also a ReportedErrorEvent, so Error Reporting groups it by its stack.
 *
 * The trace and labels travel with the work in an AsyncLocalStorage: the function's entry opens
 * a context from its request (withLogContext), the edge adds what it learns as it decodes
 * (addLogLabels), and every line written meanwhile, by any module, carries them.
 *
 * Written by hand rather than with pino: the format is one JSON.stringify, and pino costs 10 to
 * 20 ms to load even bundled, paid on every cold start of every function.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { describeError } from './errors.js';

/** Structured log lines (Cloud Logging reads JSON on stdout/stderr). */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, error: unknown, fields?: Record<string, unknown>): void;
}

/** The labels a line may carry: what it is about. */
export const LOG_LABELS = ['function', 'instance', 'operation', 'event', 'rollout'] as const;
export type LogLabel = (typeof LOG_LABELS)[number];

/** The W3C trace of a request: 32 hex digits of trace, 16 of span. */
export interface TraceRef {
  traceId: string;
  spanId?: string;
  sampled?: boolean;
}

interface LogContext {
  trace?: TraceRef;
  labels: Partial<Record<LogLabel, string>>;
}

const current = new AsyncLocalStorage<LogContext>();

/** Runs `work` with this trace and these labels on every line it logs (nested contexts inherit). */
export function withLogContext<T>(context: { trace?: TraceRef; labels?: Partial<Record<LogLabel, string | undefined>> }, work: () => T): T {
  const outer = current.getStore();
  const trace = context.trace ?? outer?.trace;
  return current.run({ ...(trace === undefined ? {} : { trace }), labels: { ...outer?.labels, ...defined(context.labels ?? {}) } }, work);
}

/** Adds labels to the current context (the edge, once it has decoded which instance and event a message is). */
export function addLogLabels(labels: Partial<Record<LogLabel, string | undefined>>): void {
  const store = current.getStore();
  if (store !== undefined) Object.assign(store.labels, defined(labels));
}

function defined(labels: Partial<Record<LogLabel, string | undefined>>): Partial<Record<LogLabel, string>> {
  return Object.fromEntries(Object.entries(labels).filter(([, value]) => typeof value === 'string' && value !== ''));
}

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})$/;
const CLOUD_TRACE_CONTEXT = /^([\da-f]{32})(?:\/(\d+))?(?:;o=([01]))?$/;

/** A W3C `traceparent` (`00-<trace>-<span>-<flags>`); undefined when it is not one, or all zeros. */
export function traceOfTraceparent(value: unknown): TraceRef | undefined {
  const match = typeof value === 'string' ? TRACEPARENT.exec(value.trim().toLowerCase()) : null;
  if (match === null || /^0+$/.test(match[1] ?? '') || /^0+$/.test(match[2] ?? '')) return undefined;
  return { traceId: match[1], spanId: match[2], sampled: (parseInt(match[3], 16) & 1) === 1 };
}

/** Google's `X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=1` (the span id decimal; Cloud Logging wants it as 16 hex digits). */
export function traceOfCloudTraceContext(value: unknown): TraceRef | undefined {
  const match = typeof value === 'string' ? CLOUD_TRACE_CONTEXT.exec(value.trim().toLowerCase()) : null;
  if (match === null) return undefined;
  const span = match[2] === undefined ? undefined : BigInt.asUintN(64, BigInt(match[2])).toString(16).padStart(16, '0');
  return { traceId: match[1], ...(span === undefined ? {} : { spanId: span }), ...(match[3] === undefined ? {} : { sampled: match[3] === '1' }) };
}

/** The trace of an HTTP request: `traceparent` first (W3C), then Google's own header. */
export function traceOfHeaders(header: (name: string) => string | undefined): TraceRef | undefined {
  return traceOfTraceparent(header('traceparent')) ?? traceOfCloudTraceContext(header('x-cloud-trace-context'));
}

/**
 * The trace of a CloudEvent: its `traceparent` extension (Eventarc sets it on a Pub/Sub
 * trigger's events), else the one the publisher put on the message (`googclient_OpenTelemetryTraceParent`,
 * the Pub/Sub clients' attribute when their tracing is on).
 */
export function traceOfCloudEvent(event: unknown): TraceRef | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const fromEvent = traceOfTraceparent((event as { traceparent?: unknown }).traceparent);
  if (fromEvent !== undefined) return fromEvent;
  const attributes = (event as { data?: { message?: { attributes?: Record<string, unknown> } } }).data?.message?.attributes;
  return traceOfTraceparent(attributes?.googclient_OpenTelemetryTraceParent);
}

/**
 * The field of the line logged when an alert is published (its kind, one of ALERT_KINDS): the
 * log-based alert policies in infra match on it, so Cloud Monitoring sees an alert even when
 * Slack does not.
 */
export const ALERT_KIND_LOG_FIELD = 'alertKind';

/** Who writes the lines: the project a trace belongs to, and the service and version Error Reporting groups by. */
export interface LogIdentity {
  project?: string;
  service?: string;
  version?: string;
}

/** Cloud Functions (2nd gen) says its service and revision in K_SERVICE and K_REVISION. */
export function logIdentityOf(env: NodeJS.ProcessEnv): LogIdentity {
  return { project: env.GOOGLE_CLOUD_PROJECT, service: env.K_SERVICE ?? env.FUNCTION_TARGET, version: env.K_REVISION };
}

const REPORTED_ERROR_EVENT = 'type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent';

/** Writes one JSON line per entry, with the severity, trace and labels Cloud Logging understands. */
export function jsonLogger(write: (line: string) => void = (line) => process.stderr.write(line + '\n'), identity: LogIdentity = logIdentityOf(process.env)): Logger {
  const emit = (severity: string, message: string, fields: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => {
    const context = current.getStore();
    const trace = context?.trace;
    const labels = context?.labels ?? {};
    write(
      JSON.stringify({
        severity,
        message,
        ...fields,
        ...extra,
        ...(trace === undefined || identity.project === undefined ? {} : { 'logging.googleapis.com/trace': `projects/${identity.project}/traces/${trace.traceId}` }),
        ...(trace?.spanId === undefined ? {} : { 'logging.googleapis.com/spanId': trace.spanId }),
        ...(trace?.sampled === undefined ? {} : { 'logging.googleapis.com/trace_sampled': trace.sampled }),
        ...(Object.keys(labels).length === 0 ? {} : { 'logging.googleapis.com/labels': { ...labels } }),
        time: new Date().toISOString(),
      }),
    );
  };
  return {
    info: (message, fields) => emit('INFO', message, fields),
    warn: (message, fields) => emit('WARNING', message, fields),
    error: (message, error, fields) => {
      // Error Reporting reads the event from `message`, which must hold a V8 stack: the error's, or
      // where it was logged when what was thrown is not an Error; it groups by serviceContext.
      const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : (new Error(describeError(error)).stack ?? describeError(error));
      emit('ERROR', message, fields, {
        message: `${message}: ${stack}`,
        '@type': REPORTED_ERROR_EVENT,
        error: describeError(error),
        stack_trace: stack,
        serviceContext: { service: identity.service ?? 'managed-instance-control-plane', ...(identity.version === undefined ? {} : { version: identity.version }) },
      });
    },
  };
}

/** Drops everything; for tests that assert on state, not logs. */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

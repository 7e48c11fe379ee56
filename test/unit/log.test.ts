/**
 * The log line format: traces read from the headers and CloudEvents that carry them, the
 * context that puts them and the labels on every line, and error lines Error Reporting reads.
 */
import { describe, expect, it } from 'vitest';
import { addLogLabels, jsonLogger, traceOfCloudEvent, traceOfCloudTraceContext, traceOfHeaders, traceOfTraceparent, withLogContext } from '../../shared/log.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = jsonLogger((line) => lines.push(JSON.parse(line) as Record<string, unknown>), { project: 'mi-prod', service: 'lifecycle', version: 'lifecycle-00007' });
  return { lines, log };
}

describe('traces', () => {
  it('reads a W3C traceparent, and refuses what is not one', () => {
    expect(traceOfTraceparent(`00-${TRACE}-00f067aa0ba902b7-01`)).toEqual({ traceId: TRACE, spanId: '00f067aa0ba902b7', sampled: true });
    expect(traceOfTraceparent(`00-${TRACE.toUpperCase()}-00f067aa0ba902b7-00`)).toEqual({ traceId: TRACE, spanId: '00f067aa0ba902b7', sampled: false });
    for (const bad of [undefined, '', 'garbage', `00-${TRACE}-00f067aa0ba902b7`, `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, `00-${TRACE}-${'0'.repeat(16)}-01`, 42]) expect(traceOfTraceparent(bad)).toBeUndefined();
  });

  it("reads Google's X-Cloud-Trace-Context, its decimal span as the 16 hex digits Cloud Logging wants", () => {
    expect(traceOfCloudTraceContext(`${TRACE}/1;o=1`)).toEqual({ traceId: TRACE, spanId: '0000000000000001', sampled: true });
    expect(traceOfCloudTraceContext(`${TRACE}/18446744073709551615;o=0`)).toEqual({ traceId: TRACE, spanId: 'ffffffffffffffff', sampled: false });
    expect(traceOfCloudTraceContext(TRACE)).toEqual({ traceId: TRACE });
    expect(traceOfCloudTraceContext('short/1;o=1')).toBeUndefined();
  });

  it('prefers traceparent over the Google header on a request', () => {
    const headers: Record<string, string> = { traceparent: `00-${TRACE}-00f067aa0ba902b7-01`, 'x-cloud-trace-context': `${'1'.repeat(32)}/5;o=1` };
    expect(traceOfHeaders((name) => headers[name])?.traceId).toBe(TRACE);
    expect(traceOfHeaders((name) => (name === 'x-cloud-trace-context' ? headers[name] : undefined))?.traceId).toBe('1'.repeat(32));
    expect(traceOfHeaders(() => undefined)).toBeUndefined();
  });

  it("reads a CloudEvent's traceparent extension, else the publisher's attribute on the message", () => {
    expect(traceOfCloudEvent({ traceparent: `00-${TRACE}-00f067aa0ba902b7-01`, data: {} })?.traceId).toBe(TRACE);
    expect(traceOfCloudEvent({ data: { message: { attributes: { googclient_OpenTelemetryTraceParent: `00-${TRACE}-00f067aa0ba902b7-01` } } } })?.traceId).toBe(TRACE);
    expect(traceOfCloudEvent({ data: { message: { attributes: {} } } })).toBeUndefined();
    expect(traceOfCloudEvent('not an event')).toBeUndefined();
  });
});

describe('lines', () => {
  it('carry severity, message, fields and time; outside any context no trace and no labels', () => {
    const { lines, log } = capture();
    log.info('hello', { count: 2 });
    log.warn('careful');
    expect(lines[0]).toMatchObject({ severity: 'INFO', message: 'hello', count: 2 });
    expect(Date.parse(String(lines[0]?.time))).not.toBeNaN();
    expect(lines[1]?.severity).toBe('WARNING');
    for (const line of lines) expect(Object.keys(line).filter((k) => k.startsWith('logging.googleapis.com/'))).toEqual([]);
  });

  it('inside a context carry its trace and labels, with labels added later and nested contexts inheriting', async () => {
    const { lines, log } = capture();
    await withLogContext({ trace: { traceId: TRACE, spanId: '00f067aa0ba902b7', sampled: true }, labels: { function: 'lifecycle', instance: undefined } }, async () => {
      log.info('before');
      await Promise.resolve();
      addLogLabels({ instance: 'cus-acme', event: 'e-1', operation: '' });
      log.info('after');
      withLogContext({ labels: { operation: 'op-1' } }, () => log.info('nested'));
      log.info('outer again');
    });
    log.info('outside');
    expect(lines.map((l) => l['logging.googleapis.com/labels'])).toEqual([
      { function: 'lifecycle' },
      { function: 'lifecycle', instance: 'cus-acme', event: 'e-1' },
      { function: 'lifecycle', instance: 'cus-acme', event: 'e-1', operation: 'op-1' },
      { function: 'lifecycle', instance: 'cus-acme', event: 'e-1' },
      undefined,
    ]);
    expect(lines.slice(0, 4).every((l) => l['logging.googleapis.com/trace'] === `projects/mi-prod/traces/${TRACE}` && l['logging.googleapis.com/spanId'] === '00f067aa0ba902b7' && l['logging.googleapis.com/trace_sampled'] === true)).toBe(true);
    expect(lines[4]).not.toHaveProperty('logging.googleapis.com/trace');
  });

  it('of errors are ReportedErrorEvents: the stack in the message, the service and its version', () => {
    const { lines, log } = capture();
    const failure = new TypeError('cannot read the backup run');
    log.error('a message failed for good', failure, { ledgerKey: 'k' });
    log.error('a rejection that is not an Error', 'just text');
    const [first, second] = lines;
    expect(first).toMatchObject({
      severity: 'ERROR',
      '@type': 'type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent',
      serviceContext: { service: 'lifecycle', version: 'lifecycle-00007' },
      ledgerKey: 'k',
      stack_trace: failure.stack,
    });
    expect(String(first?.message)).toBe(`a message failed for good: ${String(failure.stack)}`);
    expect(String(first?.message)).toMatch(/TypeError: cannot read the backup run\n\s+at /);
    // Not an Error: the stack of where it was logged, so Error Reporting still has one to group by.
    expect(String(second?.message)).toMatch(/^a rejection that is not an Error: Error: just text\n\s+at /);
  });
});

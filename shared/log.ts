import { describeError } from './errors.js';

/** Structured log lines (Cloud Logging reads JSON on stdout/stderr). */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, error: unknown, fields?: Record<string, unknown>): void;
}

/** Writes one JSON line per entry, with the severity Cloud Logging understands. */
export function jsonLogger(write: (line: string) => void = (line) => process.stderr.write(line + '\n')): Logger {
  const emit = (severity: string, message: string, fields: Record<string, unknown> = {}) =>
    write(JSON.stringify({ severity, message, ...fields, time: new Date().toISOString() }));
  return {
    info: (message, fields) => emit('INFO', message, fields),
    warn: (message, fields) => emit('WARNING', message, fields),
    error: (message, error, fields) => emit('ERROR', message, { ...fields, error: describeError(error), stack: error instanceof Error ? error.stack : undefined }),
  };
}

/** Drops everything; for tests that assert on state, not logs. */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

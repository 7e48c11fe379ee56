/**
 * The health port over HTTPS: one GET with a deadline, answered as a status and the first 2 KiB
 * of the body, or as the error that kept an answer from coming (a timeout, a refused
 * connection, a name that does not resolve): never thrown, since that is the gate's evidence.
 */
import type { HealthPort, HttpAnswer } from '../ports.js';

const BODY_LIMIT = 2048;

function causeOf(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `timed out after ${timeoutMs} ms`;
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code !== undefined) return `${cause.code}${cause.message ? `: ${cause.message}` : ''}`;
  return error instanceof Error ? error.message : String(error);
}

export function createHttpsHealthProbe(options: { userAgent?: string } = {}): HealthPort {
  return {
    async get(url, { timeoutMs }): Promise<HttpAnswer> {
      const started = performance.now();
      const took = () => Math.round(performance.now() - started);
      try {
        const response = await fetch(url, {
          signal: AbortSignal.timeout(timeoutMs),
          headers: { accept: 'application/json, text/plain', 'user-agent': options.userAgent ?? 'mi-control-plane-health-gate' },
          // A redirect is an answer of its own (a misrouted domain), not something to follow.
          redirect: 'manual',
        });
        const text = await response.text();
        return { url, status: response.status, body: text.slice(0, BODY_LIMIT), latencyMs: took(), error: null };
      } catch (error) {
        return { url, status: null, body: '', latencyMs: took(), error: causeOf(error, timeoutMs) };
      }
    },
  };
}

/**
 * OpsGenie's alerts API (v2), the on-call pager: POST /v2/alerts with the API key as
 * `Authorization: GenieKey <key>`. It answers 202 {"result": "Request will be processed",
 * "took", "requestId"}: alerts are created asynchronously, and an open alert with the same
 * alias is deduplicated (its count goes up, nobody is paged again). Errors come as
 * {"message", "took", "requestId"}, with 401/403 for a bad key, 422 for a bad field, 429 above
 * the rate, 5xx.
 */
import * as z from 'zod';
import { ControlPlaneError } from '../errors.js';
import type { PagerPort } from '../ports.js';
import { withDeadline } from '../deadline.js';

export const OPSGENIE_ENDPOINT = 'https://api.opsgenie.com';

export interface OpsGenieOptions {
  apiKey: string;
  /** https://api.eu.opsgenie.com for an EU account; a local stand-in on `mi dev`. */
  endpoint?: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const accepted = z.looseObject({ result: z.string(), requestId: z.string().min(1) });
const failure = z.looseObject({ message: z.string() });

export function createOpsGeniePager(options: OpsGenieOptions): PagerPort {
  const endpoint = options.endpoint ?? OPSGENIE_ENDPOINT;
  const fetcher = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 5_000;
  return {
    async page(request) {
      const response = await withDeadline(
        'OpsGenie create alert',
        () =>
          fetcher(`${endpoint}/v2/alerts`, {
            method: 'POST',
            headers: { authorization: `GenieKey ${options.apiKey}`, 'content-type': 'application/json' },
            body: JSON.stringify(request),
          }),
        timeoutMs,
      ).catch((error: unknown) => {
        if (error instanceof ControlPlaneError) throw error;
        throw new ControlPlaneError('unavailable', `no answer from OpsGenie: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      });
      const text = await response.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      if (response.status === 202 || response.status === 200) {
        const ok = accepted.safeParse(body);
        if (!ok.success) throw new ControlPlaneError('internal', `OpsGenie accepted the alert with an answer of another shape: ${text.slice(0, 200)}`, { retryable: false });
        return { requestId: ok.data.requestId };
      }
      const message = failure.safeParse(body).data?.message ?? text.slice(0, 200);
      if (response.status === 429) throw new ControlPlaneError('rate-limited', `OpsGenie rate-limited the alert: ${message}`, { details: { status: 429 } });
      if (response.status >= 500) throw new ControlPlaneError('unavailable', `OpsGenie answered ${response.status}: ${message}`, { details: { status: response.status } });
      throw new ControlPlaneError(response.status === 401 || response.status === 403 ? 'permission-denied' : 'failed-precondition', `OpsGenie refused the alert (${response.status} ${message}): check MI_OPSGENIE_KEY and the alert's fields`, {
        retryable: false,
        details: { status: response.status },
      });
    },
  };
}

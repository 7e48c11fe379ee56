/**
 * Slack's incoming webhooks through @slack/webhook: one POST of the message's JSON to the
 * channel's URL. Slack answers 200 "ok", or an error status with a short reason in plain text
 * (400 invalid_payload, 403 action_prohibited, 404 no_service or channel_not_found, 410
 * channel_is_archived, 429 with Retry-After, 5xx). A URL that no longer works is a permanent
 * failure, recorded; a 429 or 5xx, or no answer, is retried by redelivery.
 */
import { IncomingWebhook, IncomingWebhookHTTPError, IncomingWebhookRequestError } from '@slack/webhook';
import { ControlPlaneError } from '../errors.js';
import type { SlackPort } from '../ports.js';

export interface SlackWebhookOptions {
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** Where a webhook URL points, without its secret path: safe to log. */
export function redactedWebhook(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}/…`;
  } catch {
    return '(not a URL)';
  }
}

export function toSlackError(error: unknown, url: string): ControlPlaneError {
  const where = redactedWebhook(url);
  if (error instanceof IncomingWebhookHTTPError) {
    const reason = error.body.trim().slice(0, 200) || error.statusMessage;
    const status = error.statusCode;
    if (status === 429) return new ControlPlaneError('rate-limited', `Slack rate-limited the webhook at ${where}: ${reason}`, { cause: error, details: { status } });
    if (status >= 500) return new ControlPlaneError('unavailable', `Slack answered ${status} at ${where}: ${reason}`, { cause: error, details: { status } });
    return new ControlPlaneError(status === 404 || status === 410 ? 'not-found' : 'failed-precondition', `Slack refused the message at ${where} (${status} ${reason}): fix the webhook in MI_NOTIFY_ROUTES`, {
      retryable: false,
      cause: error,
      details: { status, reason },
    });
  }
  if (error instanceof IncomingWebhookRequestError) return new ControlPlaneError('unavailable', `no answer from Slack at ${where}: ${error.original.message}`, { cause: error });
  return new ControlPlaneError('unavailable', `posting to Slack at ${where} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

export function createSlackWebhookPoster(options: SlackWebhookOptions = {}): SlackPort {
  const hooks = new Map<string, IncomingWebhook>();
  return {
    async post(url, message) {
      let hook = hooks.get(url);
      if (hook === undefined) {
        hook = new IncomingWebhook(url, { timeout: options.timeoutMs ?? 5_000, ...(options.fetch === undefined ? {} : { fetch: options.fetch }) });
        hooks.set(url, hook);
      }
      try {
        await hook.send({ text: message.text, unfurl_links: false, unfurl_media: false });
      } catch (error) {
        throw toSlackError(error, url);
      }
    },
  };
}

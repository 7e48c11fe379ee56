/**
 * The checks on a delivery before anything is looked up or recorded: method, size, the
 * signature over the raw bytes (constant time), the GitHub headers, and a JSON object body.
 */
import { verify } from '@octokit/webhooks-methods';
import { MAX_WEBHOOK_BODY_BYTES, type WebhookAnswer, type WebhookConfig, type WebhookRequest } from './config.js';

const SIGNATURE = /^sha256=[0-9a-f]{64}$/;
const DELIVERY_ID = /^[A-Za-z0-9-]{1,100}$/;

/** A signed delivery, ready to plan. */
export interface SignedDelivery {
  event: string;
  deliveryId: string;
  payload: Record<string, unknown>;
}

/** The delivery, once signed and well formed; otherwise the answer to give (a ping is answered here too). */
export async function readDelivery(req: WebhookRequest, config: WebhookConfig): Promise<SignedDelivery | { answer: WebhookAnswer }> {
  if (req.method !== 'POST') return { answer: { status: 405, body: { error: 'method-not-allowed', message: 'GitHub delivers webhooks with POST' } } };
  const max = config.maxBodyBytes ?? MAX_WEBHOOK_BODY_BYTES;
  const declared = Number(req.header('content-length') ?? 0);
  if ((Number.isFinite(declared) && declared > max) || (req.rawBody?.length ?? 0) > max) {
    return { answer: { status: 413, body: { error: 'too-large', message: `the body is over ${max} bytes` } } };
  }
  // Authenticate before looking at anything else: an unsigned caller learns nothing.
  const signature = req.header('x-hub-signature-256');
  if (signature === undefined || signature === '') {
    return { answer: { status: 401, body: { error: 'unauthenticated', message: 'missing X-Hub-Signature-256: configure the webhook with the shared secret' } } };
  }
  if (!SIGNATURE.test(signature)) return { answer: { status: 401, body: { error: 'unauthenticated', message: 'X-Hub-Signature-256 must be sha256=<64 hex digits>' } } };
  const raw = req.rawBody;
  if (raw === undefined || raw.length === 0) return { answer: { status: 400, body: { error: 'invalid-request', message: 'empty body' } } };
  const text = raw.toString('utf8');
  // Constant-time comparison of the HMAC over the bytes as received (verify uses timingSafeEqual).
  if (!(await verify(config.secret, text, signature))) {
    return { answer: { status: 401, body: { error: 'unauthenticated', message: 'X-Hub-Signature-256 does not match the body' } } };
  }

  const event = req.header('x-github-event');
  const deliveryId = req.header('x-github-delivery');
  if (event === undefined || !/^[a-z_]{1,64}$/.test(event)) return { answer: { status: 400, body: { error: 'invalid-request', message: 'missing or malformed X-GitHub-Event' } } };
  if (deliveryId === undefined || !DELIVERY_ID.test(deliveryId)) return { answer: { status: 400, body: { error: 'invalid-request', message: 'missing or malformed X-GitHub-Delivery' } } };
  if (!/^application\/json\b/i.test(req.header('content-type') ?? '')) {
    return { answer: { status: 415, body: { error: 'unsupported-media-type', message: 'configure the webhook with content type application/json' } } };
  }
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (error) {
    return { answer: { status: 400, body: { error: 'invalid-request', message: `the body is not JSON (${(error as Error).message})` } } };
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return { answer: { status: 400, body: { error: 'invalid-request', message: 'the body is not a JSON object' } } };
  }
  if (event === 'ping') return { answer: { status: 200, body: { pong: true } } };
  return { event, deliveryId, payload: payload as Record<string, unknown> };
}

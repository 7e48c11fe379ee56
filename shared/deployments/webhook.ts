/**
 * The GitHub webhook of the deployment repository, as a handler over a plain request: verify the
 * signature over the raw bytes (constant time), refuse oversized or unparsable bodies, record the
 * delivery (`webhookDeliveries/{id}`), and hand the work to `mi-deployments` as references (commit
 * ids and classified changes), never the payload. A redelivery (GitHub's "Redeliver" reuses the
 * delivery id) of a delivery whose push was handled to the end is a replay: 200, nothing done. Of
 * one whose push never completed (its message dead-lettered, say), the push is handed on again.
 */
import { verify } from '@octokit/webhooks-methods';
import { z } from 'zod';
import { classifyFiles, filesOfPush, incompleteReason, pushEventId, PUSH_PAYLOAD_CAPS } from '../domain/deployments/changes.js';
import { publishOutbox } from '../store/outbox.js';
import type { LedgerEntry, OutboxEntry } from '../store/records.js';
import { MAX_CHANGES_IN_MESSAGE, makeEnvelope, type AnyEnvelope, type DeploymentPayloads } from '../events/index.js';
import type { Logger } from '../log.js';
import type { Clock, EventBus, StateStore } from '../ports.js';
import { TOPICS, TTL_COLLECTIONS } from '../topology.js';
import type { DeliveryRecord } from './records.js';
import { COLLECTIONS, deploymentPaths, paths } from '../store/collections.js';

/** GitHub stops delivering payloads above 25 MB; anything bigger did not come from it. */
export const MAX_WEBHOOK_BODY_BYTES = 25 * 1024 * 1024;

const DELIVERY_RETENTION_DAYS = TTL_COLLECTIONS.find((c) => c.collection === COLLECTIONS.webhookDeliveries)?.days ?? 30;

export interface WebhookConfig {
  /** The shared secret GitHub signs with. */
  secret: string;
  /** owner/name of the deployment repository; pushes to any other are ignored. */
  repository: string;
  /** The branch whose pushes are merges; default: the repository's default branch as the payload names it. */
  branch?: string;
  maxBodyBytes?: number;
  /** File-list caps past which the two commits are compared instead (tests lower them). */
  caps?: { commits: number; filesPerCommit: number };
}

export interface WebhookDeps {
  store: StateStore;
  bus: EventBus;
  clock: Clock;
  log: Logger;
  config: WebhookConfig;
}

/** What the HTTP layer hands over: headers by lowercase name, and the bytes as received. */
export interface WebhookRequest {
  method: string;
  header(name: string): string | undefined;
  rawBody: Buffer | undefined;
}

export interface WebhookAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Refuses to build a handler without a secret (or with one too short to mean anything). */
export function checkWebhookConfig(config: Partial<WebhookConfig>): WebhookConfig {
  if (typeof config.secret !== 'string' || config.secret.trim().length < 16) {
    throw new Error('no webhook secret configured (MI_WEBHOOK_SECRET, at least 16 characters): the githubWebhook function will not start without one');
  }
  if (typeof config.repository !== 'string' || !/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(config.repository)) {
    throw new Error('no deployment repository configured (MI_DEPLOYMENT_REPOSITORY=owner/name)');
  }
  return { ...config, secret: config.secret, repository: config.repository };
}

const SIGNATURE = /^sha256=[0-9a-f]{64}$/;
const DELIVERY_ID = /^[A-Za-z0-9-]{1,100}$/;
const ZERO_COMMIT = /^0+$/;

const fileList = z.array(z.string()).optional();
const pushSchema = z.looseObject({
  ref: z.string(),
  before: z.string().regex(/^[0-9a-f]{40,64}$/),
  after: z.string().regex(/^[0-9a-f]{40,64}$/),
  forced: z.boolean().optional(),
  deleted: z.boolean().optional(),
  repository: z.looseObject({ full_name: z.string(), default_branch: z.string().optional() }),
  pusher: z.looseObject({ name: z.string().optional(), email: z.string().nullable().optional() }).optional(),
  commits: z.array(z.looseObject({ id: z.string(), timestamp: z.string().optional(), added: fileList, removed: fileList, modified: fileList })),
  head_commit: z.looseObject({ id: z.string(), timestamp: z.string().optional() }).nullable().optional(),
});

const pullRequestSchema = z.looseObject({
  action: z.string(),
  pull_request: z.looseObject({ merged: z.boolean().nullable().optional(), merge_commit_sha: z.string().nullable().optional(), number: z.number().optional() }),
});

interface Work {
  /** The push message to publish, if the delivery has work. */
  envelope?: AnyEnvelope;
  status: number;
  body: Record<string, unknown>;
}

function isoOrNow(value: string | undefined, now: Date): string {
  if (value !== undefined && !Number.isNaN(Date.parse(value))) return new Date(value).toISOString();
  return now.toISOString();
}

function planPush(payload: z.infer<typeof pushSchema>, deliveryId: string, config: WebhookConfig, now: Date): Work {
  const repository = payload.repository.full_name;
  if (repository.toLowerCase() !== config.repository.toLowerCase()) {
    return { status: 202, body: { ignored: `a push to ${repository}, not the deployment repository ${config.repository}` } };
  }
  const branch = config.branch ?? payload.repository.default_branch;
  if (branch === undefined || payload.ref !== `refs/heads/${branch}`) {
    return { status: 202, body: { ignored: `a push to ${payload.ref}, not to the default branch ${branch ?? '(unknown)'}` } };
  }
  if (payload.deleted === true || ZERO_COMMIT.test(payload.after)) return { status: 202, body: { ignored: 'the push deleted the branch' } };

  const caps = config.caps ?? PUSH_PAYLOAD_CAPS;
  const forced = payload.forced === true;
  // A first push has no base to compare with: its listed commits are all there is.
  const incomplete = ZERO_COMMIT.test(payload.before) ? undefined : incompleteReason({ forced, commits: payload.commits }, caps);
  let changes: DeploymentPayloads['deployment.pushed']['changes'];
  if (incomplete !== undefined) {
    changes = { source: 'compare', reason: incomplete };
  } else {
    const classified = classifyFiles(filesOfPush(payload.commits));
    changes =
      classified.instances.length > MAX_CHANGES_IN_MESSAGE
        ? { source: 'compare', reason: `more than ${MAX_CHANGES_IN_MESSAGE} instances changed: too many to carry in one message` }
        : { source: 'payload', instances: classified.instances, ignoredPaths: classified.ignoredPaths };
    if (classified.instances.length === 0) {
      return { status: 202, body: { ignored: `no instance folder changed (${classified.ignoredPaths} other paths)`, commit: payload.after } };
    }
  }
  const headCommit = payload.head_commit ?? payload.commits.find((c) => c.id === payload.after);
  const envelope = makeEnvelope({
    type: 'deployment.pushed',
    eventId: pushEventId(repository, payload.after),
    actor: `github:${payload.pusher?.name ?? 'unknown'}`,
    reason: `merge ${payload.after.slice(0, 12)} on ${branch} of ${repository}`,
    issuedAt: now.toISOString(),
    payload: {
      repository,
      ref: payload.ref,
      before: payload.before,
      after: payload.after,
      forced,
      committedAt: isoOrNow(headCommit?.timestamp, now),
      mergedBy: payload.pusher?.name ?? 'unknown',
      deliveryId,
      changes,
    },
  }) as unknown as AnyEnvelope;
  const summary = changes.source === 'payload' ? { instances: changes.instances.length } : { compare: changes.reason };
  return { envelope, status: 202, body: { accepted: payload.after, eventId: envelope.eventId, ...summary } };
}

function planDelivery(event: string, payload: Record<string, unknown>, deliveryId: string, config: WebhookConfig, now: Date): Work | { invalid: string } {
  switch (event) {
    case 'push': {
      const parsed = pushSchema.safeParse(payload);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return { invalid: `not a push payload: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}` };
      }
      return planPush(parsed.data, deliveryId, config, now);
    }
    case 'pull_request': {
      const parsed = pullRequestSchema.safeParse(payload);
      if (!parsed.success) return { invalid: 'not a pull_request payload' };
      if (parsed.data.action === 'closed' && parsed.data.pull_request.merged === true) {
        return { status: 202, body: { ignored: 'a merged pull request: the push of its merge carries the same change' } };
      }
      return { status: 202, body: { ignored: `pull_request ${parsed.data.action}: only merges change deployments` } };
    }
    default:
      return { status: 202, body: { ignored: `event ${event} is not one the control plane acts on (push to the default branch)` } };
  }
}

/** A delivery whose work is done. Records from before `handledAt` existed count as not done: the push ledger decides. */
function isHandled(record: DeliveryRecord): boolean {
  return typeof record.handledAt === 'string';
}

/** Handles one delivery; never throws for anything the sender controls. */
export async function handleGithubWebhook(req: WebhookRequest, deps: WebhookDeps): Promise<WebhookAnswer> {
  const { config } = deps;
  if (req.method !== 'POST') return { status: 405, body: { error: 'method-not-allowed', message: 'GitHub delivers webhooks with POST' } };
  const max = config.maxBodyBytes ?? MAX_WEBHOOK_BODY_BYTES;
  const declared = Number(req.header('content-length') ?? 0);
  if ((Number.isFinite(declared) && declared > max) || (req.rawBody?.length ?? 0) > max) {
    return { status: 413, body: { error: 'too-large', message: `the body is over ${max} bytes` } };
  }
  // Authenticate before looking at anything else: an unsigned caller learns nothing.
  const signature = req.header('x-hub-signature-256');
  if (signature === undefined || signature === '') {
    return { status: 401, body: { error: 'unauthenticated', message: 'missing X-Hub-Signature-256: configure the webhook with the shared secret' } };
  }
  if (!SIGNATURE.test(signature)) return { status: 401, body: { error: 'unauthenticated', message: 'X-Hub-Signature-256 must be sha256=<64 hex digits>' } };
  const raw = req.rawBody;
  if (raw === undefined || raw.length === 0) return { status: 400, body: { error: 'invalid-request', message: 'empty body' } };
  const text = raw.toString('utf8');
  // Constant-time comparison of the HMAC over the bytes as received (verify uses timingSafeEqual).
  if (!(await verify(config.secret, text, signature))) {
    return { status: 401, body: { error: 'unauthenticated', message: 'X-Hub-Signature-256 does not match the body' } };
  }

  const event = req.header('x-github-event');
  const deliveryId = req.header('x-github-delivery');
  if (event === undefined || !/^[a-z_]{1,64}$/.test(event)) return { status: 400, body: { error: 'invalid-request', message: 'missing or malformed X-GitHub-Event' } };
  if (deliveryId === undefined || !DELIVERY_ID.test(deliveryId)) return { status: 400, body: { error: 'invalid-request', message: 'missing or malformed X-GitHub-Delivery' } };
  if (!/^application\/json\b/i.test(req.header('content-type') ?? '')) {
    return { status: 415, body: { error: 'unsupported-media-type', message: 'configure the webhook with content type application/json' } };
  }
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (error) {
    return { status: 400, body: { error: 'invalid-request', message: `the body is not JSON (${(error as Error).message})` } };
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return { status: 400, body: { error: 'invalid-request', message: 'the body is not a JSON object' } };
  }
  if (event === 'ping') return { status: 200, body: { pong: true } };

  const now = deps.clock.now();
  const work = planDelivery(event, payload as Record<string, unknown>, deliveryId, config, now);
  if ('invalid' in work) return { status: 400, body: { error: 'invalid-request', message: work.invalid } };

  // One transaction: the delivery is recorded together with the message it leads to, so a
  // crash between them cannot lose the work nor let a redelivery do it twice.
  const outcome = await deps.store.transaction(async (tx) => {
    const path = deploymentPaths.webhookDelivery(deliveryId);
    const seen = await tx.get<DeliveryRecord>(path);
    const envelope = work.envelope;
    // The push ledger says whether the push was handled to the end, under any delivery id.
    const pushHandled = seen !== undefined && envelope !== undefined && !isHandled(seen) ? await tx.get<LedgerEntry>(paths.ledger(envelope.eventId)) : undefined;
    if (seen !== undefined) {
      if (isHandled(seen)) return { replay: seen, outbox: [] as OutboxEntry[] };
      if (envelope === undefined || pushHandled !== undefined) {
        tx.update(path, { handledAt: pushHandled?.recordedAt ?? now.toISOString() });
        return { replay: seen, outbox: [] as OutboxEntry[] };
      }
      // Seen, but its push never completed: hand it on again (the consumer keys every effect).
      tx.update(path, { redeliveries: (seen.redeliveries ?? 0) + 1, redeliveredAt: now.toISOString() });
    } else {
      const record: DeliveryRecord = {
        event,
        status: work.status,
        outcome: work.body,
        commit: envelope?.type === 'deployment.pushed' ? envelope.payload.after : null,
        eventId: envelope?.eventId ?? null,
        receivedAt: now.toISOString(),
        // Nothing to hand on is done at once; a push is done when the consumer says so.
        handledAt: envelope === undefined ? now.toISOString() : null,
        redeliveries: 0,
        expireAt: new Date(now.getTime() + DELIVERY_RETENTION_DAYS * 86_400_000),
      };
      tx.create(path, record);
    }
    if (envelope === undefined) return { replay: undefined, outbox: [] as OutboxEntry[] };
    // Set, not create: the same merge under a new delivery id is the same event, and the
    // consumer keys every effect by commit, instance and module.
    const entry: OutboxEntry = { topic: TOPICS.deployments, envelope, orderingKey: null, createdAt: now.toISOString() };
    tx.set(paths.outbox(envelope.eventId), entry);
    return { replay: undefined, redelivery: seen !== undefined, outbox: [entry] };
  });
  if (outcome.replay !== undefined) {
    return { status: 200, body: { replay: true, message: `delivery ${deliveryId} was handled (received ${outcome.replay.receivedAt}); nothing done again` } };
  }
  if (outcome.outbox.length > 0) {
    // A failed publish stays in the outbox for the reconciler: the delivery is still answered.
    await publishOutbox(deps, outcome.outbox);
  }
  if (outcome.redelivery === true) return { status: work.status, body: { ...work.body, redelivered: true } };
  return { status: work.status, body: work.body };
}

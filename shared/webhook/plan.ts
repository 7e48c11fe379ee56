/**
 * What a signed delivery asks for, decided from its payload alone: a push to the default branch
 * of the deployment repository becomes one `deployment.pushed` message (commit ids and the
 * classified changes, or "compare the two commits" when the payload's lists are capped); every
 * other delivery is acknowledged and ignored, with the reason.
 */
import * as z from 'zod';
import { lazySchema } from '../lazy-schema.js';
import { writeBackOperationsOfPush } from '../domain/deployments/write-back.js';
import { classifyFiles, filesOfPush, incompleteReason, pushEventId, PUSH_PAYLOAD_CAPS } from '../domain/deployments/changes.js';
import { MAX_CHANGES_IN_MESSAGE, makeEnvelope, type AnyEnvelope, type DeploymentPayloads } from '../events/index.js';
import type { WebhookConfig } from './config.js';

const ZERO_COMMIT = /^0+$/;

const fileList = lazySchema(() => z.array(z.string()).optional());
const pushSchema = lazySchema(() =>
  z.looseObject({
    ref: z.string(),
    before: z.string().regex(/^[0-9a-f]{40,64}$/),
    after: z.string().regex(/^[0-9a-f]{40,64}$/),
    forced: z.boolean().optional(),
    deleted: z.boolean().optional(),
    repository: z.looseObject({ full_name: z.string(), default_branch: z.string().optional() }),
    pusher: z.looseObject({ name: z.string().optional(), email: z.string().nullable().optional() }).optional(),
    commits: z.array(z.looseObject({ id: z.string(), message: z.string().optional(), timestamp: z.string().optional(), added: fileList, removed: fileList, modified: fileList, author: z.looseObject({ username: z.string().optional() }).optional() })),
    head_commit: z.looseObject({ id: z.string(), timestamp: z.string().optional() }).nullable().optional(),
  }),
);

const pullRequestSchema = lazySchema(() =>
  z.looseObject({
    action: z.string(),
    pull_request: z.looseObject({ merged: z.boolean().nullable().optional(), merge_commit_sha: z.string().nullable().optional(), number: z.number().optional() }),
  }),
);

/** What one delivery comes to: its answer, and the push message to publish when it has work. */
export interface Work {
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
  // The control plane's own write-backs: the record already holds what they say.
  const writeBacks = writeBackOperationsOfPush({ pusher: payload.pusher?.name, commits: payload.commits }, config.botLogin);
  if (writeBacks !== undefined) {
    return { status: 202, body: { ignored: `a write-back by the control plane (${writeBacks.join(', ')}): its record already holds this spec, so nothing is acted on again`, commit: payload.after, writeBack: writeBacks } };
  }

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
      authors: [...new Set(payload.commits.flatMap((c) => (c.author?.username === undefined || c.author.username === '' ? [] : [c.author.username])))].slice(0, 100),
      deliveryId,
      changes,
    },
  }) as unknown as AnyEnvelope;
  const summary = changes.source === 'payload' ? { instances: changes.instances.length } : { compare: changes.reason };
  return { envelope, status: 202, body: { accepted: payload.after, eventId: envelope.eventId, ...summary } };
}

/** The work of one delivery by its event type, or why its payload is not one of that type. */
export function planDelivery(event: string, payload: Record<string, unknown>, deliveryId: string, config: WebhookConfig, now: Date): Work | { invalid: string } {
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

/**
 * The GitHub webhook's handling time: a signed push listing 1,000 changed files (250 instances,
 * spec and module changes and ignored paths), from the raw bytes to the answer: signature check
 * over the body, parse, classification, the delivery and its message recorded in one Firestore
 * transaction, the reference message published on mi-deployments. Compared with the floor of
 * any durable handler: the signature checked, the body parsed, one document created in a
 * transaction and one small message published, with nothing classified. Both sides publish with
 * the same Pub/Sub client settings (batching wait, batch size, ordering): a floor that waited the
 * library's default 10 ms per publish while the handler's bus waits 5 ms would flatter the ratio.
 */
import { randomUUID, createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { PubSub } from '@google-cloud/pubsub';
import { sign, verify } from '@octokit/webhooks-methods';
import { DEFAULT_DEADLINE_MS } from '../shared/deadline.js';
import { handleGithubWebhook, type WebhookDeps } from '../shared/webhook/index.js';
import { createFirestoreStore } from '../shared/gcp/firestore-store.js';
import { createPubSubBus } from '../shared/gcp/pubsub-bus.js';
import { silentLogger } from '../shared/log.js';
import { systemClock } from '../shared/ports.js';
import { benchmarkResult, type BenchmarkResult } from './results.js';
import { interleavedOrder } from './stats.js';
import type { BenchWorld } from './world.js';

const SECRET = 'bench-webhook-secret-0123456789';
const REPOSITORY = 'acme/deployments';
export const WEBHOOK_FILES = 1_000;
/** The batching wait of both sides' publishes (the bus's own default, passed explicitly so they cannot drift apart). */
export const PUBLISH_BATCH_DELAY_MS = 5;

const sha = (seed: string) => createHash('sha1').update(seed).digest('hex');

/** A push payload as GitHub shapes it, listing `files` changed paths in one commit. */
export function largePush(after: string, files = WEBHOOK_FILES): string {
  const paths: string[] = [];
  for (let i = 0; paths.length < files; i += 1) {
    const root = `environments/${i % 3 === 0 ? 'dev' : 'prod'}/deployments/inst-${String(i).padStart(5, '0')}`;
    paths.push(`${root}/config.yaml`, `${root}/terraform/stacks/monitoring/main.tf`, `${root}/terraform/stacks/networking/vpc.tf`, `${root}/README.md`);
  }
  const commit = {
    id: after,
    tree_id: sha(`tree ${after}`),
    distinct: true,
    message: 'Roll out the monitoring and networking changes',
    timestamp: '2026-11-26T10:00:00Z',
    url: `https://github.com/${REPOSITORY}/commit/${after}`,
    author: { name: 'Codertocat', email: 'codertocat@example.com', username: 'Codertocat' },
    committer: { name: 'GitHub', email: 'noreply@github.com', username: 'web-flow' },
    added: [],
    removed: [],
    modified: paths.slice(0, files),
  };
  return JSON.stringify({
    ref: 'refs/heads/main',
    before: sha(`before ${after}`),
    after,
    repository: { id: 1, name: 'deployments', full_name: REPOSITORY, default_branch: 'main', private: true },
    pusher: { name: 'Codertocat', email: 'codertocat@example.com' },
    sender: { login: 'Codertocat', id: 21031067 },
    created: false,
    deleted: false,
    forced: false,
    base_ref: null,
    compare: `https://github.com/${REPOSITORY}/compare/x...y`,
    commits: [commit],
    head_commit: commit,
  });
}

export async function benchWebhook(world: BenchWorld, options: { pairs: number; warmup: number }): Promise<BenchmarkResult> {
  const pubsub = new PubSub({ projectId: world.projectId });
  const bus = createPubSubBus({ pubsub, maxBatchDelayMs: PUBLISH_BATCH_DELAY_MS });
  const deps: WebhookDeps = {
    store: createFirestoreStore({ firestore: world.firestore }),
    bus,
    clock: systemClock,
    log: silentLogger,
    config: { secret: SECRET, repository: REPOSITORY },
  };
  await pubsub.topic('bench-webhook-raw').get({ autoCreate: true });
  // The topic object the floor publishes through is configured as the bus configures its own
  // (shared/gcp/pubsub-bus.ts): same batching wait and size, ordering enabled.
  const rawTopic = pubsub.topic('bench-webhook-raw', {
    messageOrdering: true,
    batching: { maxMilliseconds: PUBLISH_BATCH_DELAY_MS, maxMessages: 100 },
    gaxOpts: { timeout: DEFAULT_DEADLINE_MS },
  });
  const full: number[] = [];
  const floor: number[] = [];
  try {
    const order = interleavedOrder(options.pairs + options.warmup);
    for (let index = 0; index < order.length; index += 1) {
      // A new merge commit and delivery each time: every sample is handled in full, never a replay.
      const body = largePush(sha(`bench ${index} ${randomUUID()}`));
      const signature = await sign(SECRET, body);
      const raw = Buffer.from(body);
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': signature, 'content-length': String(raw.length) };
      const timed = index >= 2 * options.warmup;
      if (order[index] === 'a') {
        const started = performance.now();
        const answer = await handleGithubWebhook({ method: 'POST', header: (name) => headers[name.toLowerCase()], rawBody: raw }, deps);
        const ms = performance.now() - started;
        if (answer.status !== 202) throw new Error(`the webhook answered ${answer.status}: ${JSON.stringify(answer.body)}`);
        if (timed) full.push(ms);
      } else {
        const started = performance.now();
        if (!(await verify(SECRET, raw.toString('utf8'), signature))) throw new Error('signature');
        const parsed = JSON.parse(raw.toString('utf8')) as { after: string };
        const delivery = headers['x-github-delivery'] ?? randomUUID();
        await deps.store.transaction(async (tx) => {
          await tx.get(`benchWebhookRaw/${delivery}`);
          tx.create(`benchWebhookRaw/${delivery}`, { after: parsed.after, at: new Date().toISOString() });
        });
        await rawTopic.publishMessage({ data: Buffer.from(JSON.stringify({ after: parsed.after })) });
        if (timed) floor.push(performance.now() - started);
      }
    }
  } finally {
    await bus.close();
  }
  return benchmarkResult({
    name: 'github-webhook-push-1000-files',
    measures: `a signed push listing ${WEBHOOK_FILES} changed files: raw bytes to the 202 answer (signature, parse, classification, delivery + message in one transaction, publish) vs the same I/O with nothing classified`,
    warmup: options.warmup,
    // The handler does one round trip more than the floor (the outbox entry deleted once published,
    // so a lost publish is republished), plus classifying 1,000 paths: at most twice the floor.
    target: 2,
    a: { label: 'githubWebhook handler', samples: full },
    b: { label: `verify + parse + one-document transaction + one publish (batching wait ${PUBLISH_BATCH_DELAY_MS} ms, as the handler's bus)`, samples: floor },
  });
}

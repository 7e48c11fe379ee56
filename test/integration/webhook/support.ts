/**
 * Real GitHub payloads from @octokit/webhooks-examples, moved onto the deployment repository's
 * layout and signed with @octokit/webhooks-methods, and a world to deliver them to: the
 * githubWebhook function on the Firestore and Pub/Sub emulators, the deployments consumer on an
 * in-memory repository, and the engine that accepts what it asks for.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { sign } from '@octokit/webhooks-methods';
import type { WebhookDefinition } from '@octokit/webhooks-examples';
import { createDeploymentsConsumer, type DeploymentsConsumer } from '../../../shared/deployments/index.js';
import { MemoryDeploymentRepo } from '../../../shared/deployments/memory-repo.js';
import { handleGithubWebhook, type WebhookAnswer, type WebhookConfig, type WebhookDeps } from '../../../shared/webhook/index.js';
import type { AnyEnvelope, Envelope } from '../../../shared/events/index.js';
import { silentLogger } from '../../../shared/log.js';
import type { EventBus } from '../../../shared/ports.js';
import { createEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { pubSubCloudEvent } from '../../../harness/cloud-event.js';
import { deliver } from '../../../shared/edge.js';
import { lifecycleRoute } from '../../../shared/routes.js';
import { createRollouts, type Rollouts } from '../../../shared/rollout/index.js';
import { TOPICS } from '../../../shared/topology.js';

const require = createRequire(import.meta.url);
const EXAMPLES = require('@octokit/webhooks-examples') as WebhookDefinition[];

type PushEvent = WebhookDefinition<'push'>['examples'][number];
type PullRequestEvent = WebhookDefinition<'pull_request'>['examples'][number];
type PingEvent = WebhookDefinition<'ping'>['examples'][number];

export const SECRET = 'a-test-secret-of-enough-length';
export const REPOSITORY = 'acme/deployments';

function example<T>(name: string, pick: (e: T) => boolean): T {
  const definition = EXAMPLES.find((d) => d.name === name);
  const found = (definition?.examples as T[] | undefined)?.find(pick);
  if (found === undefined) throw new Error(`no ${name} example in @octokit/webhooks-examples`);
  return structuredClone(found);
}

/** A commit id from a number, as git would show one (distinct in its first 12 digits too). */
export const sha = (n: number) => createHash('sha1').update(`commit ${n}`).digest('hex');

export interface PushFiles {
  added?: string[];
  modified?: string[];
  removed?: string[];
}

/** GitHub's push example to the default branch, moved to our repository, with these commits' files. */
export function pushPayload(options: { before: string; after: string; commits: PushFiles[]; forced?: boolean; timestamp?: string }): PushEvent {
  const push = example<PushEvent>('push', (e) => e.ref === 'refs/heads/master' && e.commits.length === 1);
  const template = push.commits[0];
  if (template === undefined) throw new Error('the push example has no commit');
  push.repository.full_name = REPOSITORY;
  push.repository.name = 'deployments';
  push.repository.default_branch = 'main';
  push.ref = 'refs/heads/main';
  push.before = options.before;
  push.after = options.after;
  push.created = false;
  push.forced = options.forced ?? false;
  push.commits = options.commits.map((files, i) => ({
    ...template,
    id: i === options.commits.length - 1 ? options.after : sha(0xc0ffee00 + i),
    timestamp: options.timestamp ?? '2026-11-26T10:00:00Z',
    added: files.added ?? [],
    modified: files.modified ?? [],
    removed: files.removed ?? [],
  }));
  const last = push.commits[push.commits.length - 1];
  push.head_commit = last === undefined ? null : { ...last };
  return push;
}

/** GitHub's example of a pull request closed, made merged into our default branch at `mergeCommit`. */
export function mergedPullRequest(mergeCommit: string): PullRequestEvent {
  const pr = example<PullRequestEvent>('pull_request', (e) => e.action === 'closed');
  pr.repository.full_name = REPOSITORY;
  pr.pull_request.merged = true;
  pr.pull_request.merge_commit_sha = mergeCommit;
  pr.pull_request.base.ref = 'main';
  return pr;
}

export function pingPayload(): PingEvent {
  return example<PingEvent>('ping', () => true);
}

/** The folder of an instance in the deployment repository. */
export const instanceRoot = (environment: string, id: string) => `environments/${environment}/deployments/${id}`;

/** A valid config.yaml of an instance (customer instances get a maintenance window). */
export function instanceConfig(id: string, environment: 'dev' | 'prod', tier: 'internal' | 'customer', version: string): string {
  const window = tier === 'customer' ? 'maintenanceWindow:\n  days: [sat]\n  start: "02:00"\n  hours: 4\n  timeZone: Etc/UTC\n' : '';
  const owner = environment === 'dev' ? `owner: owner-of-${id}@example.com\n` : '';
  return `id: ${id}\nslug: ${id}\nenvironment: ${environment}\ntier: ${tier}\ndomain: ${id}.example.com\nregion: us-central1\nversion: ${version}\n${window}${owner}`;
}

/** Headers GitHub sends, with a signature over exactly these bytes. */
export async function signedHeaders(body: string, event: string, delivery: string, secret = SECRET): Promise<Record<string, string>> {
  return {
    'content-type': 'application/json',
    'x-github-event': event,
    'x-github-delivery': delivery,
    'x-hub-signature-256': await sign(secret, body),
    'user-agent': 'GitHub-Hookshot/test',
  };
}

/** A bus that records what was published and passes it on. */
export function recordingBus(inner: EventBus) {
  const published: Array<{ topic: string; envelope: AnyEnvelope }> = [];
  const bus: EventBus = {
    async publish(topic, envelope, options) {
      published.push({ topic, envelope: envelope as AnyEnvelope });
      return inner.publish(topic, envelope, options);
    },
  };
  return { bus, published };
}

export interface WebhookWorld {
  fx: EngineFixture;
  repo: MemoryDeploymentRepo;
  published: Array<{ topic: string; envelope: AnyEnvelope }>;
  webhookDeps: WebhookDeps;
  consumer: DeploymentsConsumer;
  /** Push messages published on mi-deployments so far. */
  pushes(): Array<Envelope<'deployment.pushed'>>;
  /** Lifecycle commands published on mi-lifecycle so far. */
  commands(): AnyEnvelope[];
  /** Posts a signed delivery to the webhook handler; the push messages it published (the consumer is not run). */
  post(payload: unknown, options?: { event?: string; delivery?: string }): Promise<{ answer: WebhookAnswer; pushes: Array<Envelope<'deployment.pushed'>> }>;
  /** Runs the module changes' published ticks, then delivers published lifecycle commands (from index `from`) to the engine, as the lifecycle function would. */
  deliverCommands(from?: number): Promise<number>;
  /** The rollouts service module changes run on, and a run of its published ticks. */
  rollouts: Rollouts;
  runTicks(): Promise<void>;
  close(): Promise<void>;
}

/** GitHub's example pushes are pushed and written by Codertocat, who is this person. */
export const PUSHER_EMAIL = 'codertocat@example.com';
export const GITHUB_IDENTITIES = { codertocat: PUSHER_EMAIL };

export async function createWebhookWorld(fileUrl: string, config: Partial<WebhookConfig> = {}): Promise<WebhookWorld> {
  const fx = await createEngineFixture(fileUrl);
  const repo = new MemoryDeploymentRepo();
  const { bus, published } = recordingBus(fx.bus);
  const webhookDeps: WebhookDeps = { store: fx.store, bus, clock: fx.clock, log: silentLogger, config: { secret: SECRET, repository: REPOSITORY, ...config } };
  // Module changes run on the rollout planner: its ticks (on mi-rollout) are delivered with the commands.
  const rollouts = createRollouts({ store: fx.store, bus, clock: fx.clock, minTickIntervalMs: 0 });
  const consumer = createDeploymentsConsumer({ store: fx.store, bus, repo, executor: fx.fleet.executor, clock: fx.clock, githubIdentities: GITHUB_IDENTITIES, fanOuts: rollouts });
  let delivered = 0;
  let ticked = 0;
  /** The module changes' ticks published so far and not yet run, run as the rollout function would. */
  const runTicks = async () => {
    for (;;) {
      const ticks = published.filter((p) => p.topic === TOPICS.rollout).slice(ticked);
      if (ticks.length === 0) return;
      ticked += ticks.length;
      for (const t of ticks) await rollouts.onTick(t.envelope as Envelope<'rollout.tick'>);
    }
  };
  const world: WebhookWorld = {
    fx,
    repo,
    published,
    webhookDeps,
    consumer,
    pushes: () => published.filter((p) => p.topic === 'mi-deployments').map((p) => p.envelope as Envelope<'deployment.pushed'>),
    commands: () => published.filter((p) => p.topic === 'mi-lifecycle').map((p) => p.envelope),
    async post(payload, options = {}) {
      const body = JSON.stringify(payload);
      const headers = await signedHeaders(body, options.event ?? 'push', options.delivery ?? randomUUID());
      const from = world.pushes().length;
      const answer = await handleGithubWebhook({ method: 'POST', header: (n) => headers[n.toLowerCase()], rawBody: Buffer.from(body) }, webhookDeps);
      return { answer, pushes: world.pushes().slice(from) };
    },
    rollouts,
    runTicks,
    async deliverCommands(from = delivered) {
      await runTicks();
      const commands = world.commands().slice(from);
      for (const envelope of commands) await deliver(fx.engine.deps, lifecycleRoute(fx.engine), pubSubCloudEvent(envelope, { topic: 'mi-lifecycle' }));
      delivered = from + commands.length;
      return commands.length;
    },
    close: () => fx.close(),
  };
  return world;
}

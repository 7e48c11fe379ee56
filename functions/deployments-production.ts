/**
 * The deployment-repository functions in the cloud: githubWebhook (its secret from Secret
 * Manager, injected as WEBHOOK_SECRET_ENV), the deployments consumer (the repository through
 * Octokit) and applyConfirmations (Google's ID-token keys). Each environment is validated
 * before anything runs.
 */
import { z } from 'zod';
import { createDeploymentsConsumer, type DeploymentsConsumer } from '../shared/deployments/consumer.js';
import { checkWebhookConfig, type WebhookDeps } from '../shared/deployments/webhook.js';
import { createGoogleIdentity, googleJwks } from '../shared/identity/index.js';
import { createOnceOutbox } from '../shared/store/outbox.js';
import { jsonLogger } from '../shared/log.js';
import { systemClock, type DeploymentRepoPort } from '../shared/ports.js';
import { ControlPlaneError } from '../shared/errors.js';
import { WEBHOOK_SECRET_ENV } from '../shared/topology.js';
import type { ConfirmationDeps } from './deployments-wiring.js';

const project = z.string({ error: 'GOOGLE_CLOUD_PROJECT is missing: the project that holds Firestore and the topics' }).min(1);
const repository = z
  .string({ error: 'MI_DEPLOYMENT_REPOSITORY is missing: the deployment repository as owner/name' })
  .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, { error: 'MI_DEPLOYMENT_REPOSITORY: expected owner/name' });

export const webhookEnvironmentSchema = z.object({
  GOOGLE_CLOUD_PROJECT: project,
  MI_DEPLOYMENT_REPOSITORY: repository,
  [WEBHOOK_SECRET_ENV]: z
    .string({ error: `${WEBHOOK_SECRET_ENV} is missing: the GitHub webhook secret (Secret Manager injects it); the function does not start without one` })
    .min(16, { error: `${WEBHOOK_SECRET_ENV} is shorter than 16 characters: use a long random secret` }),
  MI_DEPLOYMENT_BRANCH: z.string().min(1).optional(),
});

export const deploymentsEnvironmentSchema = z.object({
  GOOGLE_CLOUD_PROJECT: project,
  MI_DEPLOYMENT_REPOSITORY: repository,
  MI_GITHUB_TOKEN: z.string({ error: 'MI_GITHUB_TOKEN is missing: a token that may read the deployment repository' }).min(1),
  MI_EXECUTOR_STATUS_URL: z.url({ error: 'MI_EXECUTOR_STATUS_URL is missing or not a URL: where the executor answers GET /runs/<key>' }),
  /** Comma-separated; default monitoring,executors,security. */
  MI_AUTO_APPLY_MODULES: z.string().optional(),
});

export const confirmationsEnvironmentSchema = z.object({
  GOOGLE_CLOUD_PROJECT: project,
  MI_EXECUTOR_STATUS_URL: z.url({ error: 'MI_EXECUTOR_STATUS_URL is missing or not a URL: where the executor answers GET /runs/<key>' }),
  MI_APPLY_CONFIRMATIONS_AUDIENCE: z
    .string({ error: "MI_APPLY_CONFIRMATIONS_AUDIENCE is missing: the audience of confirmers' ID tokens (the function's URL)" })
    .trim()
    .min(1),
});

function read<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new Error(`cannot start: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  return parsed.data;
}

export const readWebhookEnvironment = (env: NodeJS.ProcessEnv) => read(webhookEnvironmentSchema, env);
export const readDeploymentsEnvironment = (env: NodeJS.ProcessEnv) => read(deploymentsEnvironmentSchema, env);

async function storeAndBus(projectId: string) {
  const [{ PubSub }, { createFirestore, createFirestoreStore }, { createPubSubBus }] = await Promise.all([
    import('@google-cloud/pubsub'),
    import('../shared/gcp/firestore-store.js'),
    import('../shared/gcp/pubsub-bus.js'),
  ]);
  return { store: createFirestoreStore({ firestore: createFirestore(projectId) }), bus: createPubSubBus({ pubsub: new PubSub({ projectId }) }) };
}

export async function buildProductionWebhook(env: NodeJS.ProcessEnv = process.env): Promise<WebhookDeps> {
  const config = readWebhookEnvironment(env);
  const secret = String(config[WEBHOOK_SECRET_ENV]);
  return {
    ...(await storeAndBus(config.GOOGLE_CLOUD_PROJECT)),
    clock: systemClock,
    log: jsonLogger(),
    config: checkWebhookConfig({ secret, repository: config.MI_DEPLOYMENT_REPOSITORY, ...(config.MI_DEPLOYMENT_BRANCH ? { branch: config.MI_DEPLOYMENT_BRANCH } : {}) }),
  };
}

async function consumerOn(config: { GOOGLE_CLOUD_PROJECT: string; MI_EXECUTOR_STATUS_URL: string; MI_AUTO_APPLY_MODULES?: string | undefined }, repo: DeploymentRepoPort): Promise<DeploymentsConsumer> {
  const { createExecutorAdapter } = await import('../shared/gcp/executor.js');
  const { store, bus } = await storeAndBus(config.GOOGLE_CLOUD_PROJECT);
  const autoApply = config.MI_AUTO_APPLY_MODULES?.split(',').map((m) => m.trim()).filter((m) => m !== '');
  const log = jsonLogger();
  return createDeploymentsConsumer({
    store,
    bus,
    repo,
    executor: createExecutorAdapter({ outbox: createOnceOutbox({ store, bus, clock: systemClock, log }), statusUrl: config.MI_EXECUTOR_STATUS_URL }),
    clock: systemClock,
    log,
    ...(autoApply === undefined ? {} : { autoApplyModules: autoApply }),
  });
}

export async function buildProductionDeployments(env: NodeJS.ProcessEnv = process.env): Promise<DeploymentsConsumer> {
  const config = readDeploymentsEnvironment(env);
  const { createGitHubDeploymentRepo } = await import('../shared/gcp/github-repo.js');
  return consumerOn(config, await createGitHubDeploymentRepo({ repository: config.MI_DEPLOYMENT_REPOSITORY, token: config.MI_GITHUB_TOKEN }));
}

/** A port this function is not given: it holds no right to it, so a call is a bug, said as such. */
function notGranted(fn: string, what: string): DeploymentRepoPort {
  const refuse = (): never => {
    throw new ControlPlaneError('permission-denied', `${fn} is given no access to ${what}`, { retryable: false });
  };
  return { readFile: refuse, compare: refuse, ancestry: refuse };
}

/** A confirmation records a person and hands commands on: it reads no repository, so it holds no token. */
export async function buildProductionConfirmations(env: NodeJS.ProcessEnv = process.env): Promise<ConfirmationDeps> {
  const config = read(confirmationsEnvironmentSchema, env);
  return {
    identity: createGoogleIdentity({ keys: googleJwks() }),
    confirmer: await consumerOn(config, notGranted('applyConfirmations', 'the deployment repository')),
    audience: config.MI_APPLY_CONFIRMATIONS_AUDIENCE,
  };
}

/**
 * The deployment repository's functions in `mi dev`: the githubWebhook function with a local
 * secret, the deployments consumer reading a local git checkout (`.mi-dev/deployment-repo`, made
 * with `git init` when missing), and applyConfirmations verifying tokens of the local signer, with
 * the confirmations URL as the audience (as in the cloud).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { useConfirmations, useDeployments, useWebhook } from '../../functions/deployments-wiring.js';
import { createDeploymentsConsumer, type DeploymentsConsumer } from '../../shared/deployments/consumer.js';
import { createGitDeploymentRepo } from '../../shared/deployments/git-repo.js';
import { localIdentity, type LocalSigner } from '../../shared/identity/index.js';
import type { Logger } from '../../shared/log.js';
import { systemClock, type EventBus, type ExecutorPort, type StateStore } from '../../shared/ports.js';

/** Where `mi dev` keeps its deployment repository unless MI_DEV_DEPLOYMENT_REPO names another. */
export const DEFAULT_DEPLOYMENT_REPO = fileURLToPath(new URL('../../.mi-dev/deployment-repo', import.meta.url));
export const LOCAL_DEPLOYMENT_REPOSITORY = 'local/deployments';

export interface LocalDeployments {
  repoPath: string;
  /** The secret local deliveries are signed with (MI_DEV_WEBHOOK_SECRET, or a new random one). */
  webhookSecret: string;
  consumer: DeploymentsConsumer;
  confirmationsUrl: string;
}

async function ensureGitRepo(path: string, log: Logger): Promise<void> {
  if (existsSync(join(path, '.git'))) return;
  await mkdir(path, { recursive: true });
  try {
    await promisify(execFile)('git', ['init', '-q', '-b', 'main', path], { timeout: 10_000 });
  } catch (error) {
    log.warn('could not make the local deployment repository (is git installed?); config.yaml reads will fail', { path, error: String(error) });
  }
}

/** Wires the three functions for this process. */
export async function wireLocalDeployments(input: {
  store: StateStore;
  bus: EventBus;
  executor: Pick<ExecutorPort, 'getRunStatus'>;
  signer: LocalSigner;
  confirmationsUrl: string;
  log: Logger;
  env?: NodeJS.ProcessEnv;
}): Promise<LocalDeployments> {
  const env = input.env ?? process.env;
  const repoPath = env.MI_DEV_DEPLOYMENT_REPO?.trim() || DEFAULT_DEPLOYMENT_REPO;
  await ensureGitRepo(repoPath, input.log);
  const webhookSecret = env.MI_DEV_WEBHOOK_SECRET?.trim() || randomBytes(24).toString('hex');
  const consumer = createDeploymentsConsumer({ store: input.store, bus: input.bus, repo: createGitDeploymentRepo({ path: repoPath }), executor: input.executor, clock: systemClock, log: input.log });
  useWebhook({ store: input.store, bus: input.bus, clock: systemClock, log: input.log, config: { secret: webhookSecret, repository: LOCAL_DEPLOYMENT_REPOSITORY, branch: 'main' } });
  useDeployments(consumer);
  useConfirmations({ identity: localIdentity(input.signer), confirmer: consumer, audience: input.confirmationsUrl });
  return { repoPath, webhookSecret, consumer, confirmationsUrl: input.confirmationsUrl };
}

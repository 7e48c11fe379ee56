/**
 * The deployment repository in `mi dev`: a local git checkout (`.mi-dev/deployment-repo`, made
 * with `git init` when missing) that the deployments consumer reads, and the local secret the
 * githubWebhook function checks deliveries with.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createGitDeploymentRepo } from '../../shared/deployments/git-repo.js';
import type { WebhookConfig } from '../../shared/webhook/index.js';
import type { Logger } from '../../shared/log.js';
import type { DeploymentRepoPort } from '../../shared/ports.js';

/** Where `mi dev` keeps its deployment repository unless MI_DEV_DEPLOYMENT_REPO names another. */
export const DEFAULT_DEPLOYMENT_REPO = fileURLToPath(new URL('../../.mi-dev/deployment-repo', import.meta.url));
export const LOCAL_DEPLOYMENT_REPOSITORY = 'local/deployments';

export interface LocalDeployments {
  repoPath: string;
  /** The secret local deliveries are signed with (MI_DEV_WEBHOOK_SECRET, or a new random one). */
  webhookSecret: string;
  repo: DeploymentRepoPort;
  webhook: WebhookConfig;
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

/** The local deployment repository (a git checkout) and the webhook's secret for this process. */
export async function localDeployments(input: { log: Logger; env?: NodeJS.ProcessEnv }): Promise<LocalDeployments> {
  const env = input.env ?? process.env;
  const repoPath = env.MI_DEV_DEPLOYMENT_REPO?.trim() || DEFAULT_DEPLOYMENT_REPO;
  await ensureGitRepo(repoPath, input.log);
  const webhookSecret = env.MI_DEV_WEBHOOK_SECRET?.trim() || randomBytes(24).toString('hex');
  return {
    repoPath,
    webhookSecret,
    repo: createGitDeploymentRepo({ path: repoPath }),
    webhook: { secret: webhookSecret, repository: LOCAL_DEPLOYMENT_REPOSITORY, branch: 'main' },
  };
}

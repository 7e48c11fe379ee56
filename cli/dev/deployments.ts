/**
 * The deployment repository in `mi dev`: a local git checkout (`.mi-dev/deployment-repo`, made
 * with `git init` when missing) that the deployments consumer reads, and the local secret the
 * githubWebhook function checks deliveries with.
 */
import { execFile } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { createGitDeploymentRepo, LOCAL_BOT } from '../../shared/deployments/git-repo.js';
import { configPathOf } from '../../shared/domain/deployments/paths.js';
import { specOf } from '../../shared/domain/deployments/write-back.js';
import type { InstanceSpec } from '../../shared/events/index.js';
import type { WebhookConfig } from '../../shared/webhook/index.js';
import type { Logger } from '../../shared/log.js';
import type { DeploymentRepoPort } from '../../shared/ports.js';
import { inProject } from '../project-root.js';

/** Where `mi dev` keeps its deployment repository unless MI_DEV_DEPLOYMENT_REPO names another. */
export const DEFAULT_DEPLOYMENT_REPO = inProject('.mi-dev', 'deployment-repo');
export const LOCAL_DEPLOYMENT_REPOSITORY = 'local/deployments';

export interface LocalDeployments {
  repoPath: string;
  /** The secret local deliveries are signed with (MI_DEV_WEBHOOK_SECRET, or a new random one). */
  webhookSecret: string;
  repo: DeploymentRepoPort;
  webhook: WebhookConfig;
  /** From now on, each commit the control plane writes is delivered to the webhook as GitHub delivers a push. */
  deliverPushesTo(webhookUrl: string): void;
  /** Commits config.yaml of each instance whose folder has none (the seeded fleet), as one person's commits; no push is delivered. */
  seedConfigs(specs: readonly InstanceSpec[]): Promise<number>;
}

/** A GitHub push delivery of one commit, signed with the webhook's secret (X-Hub-Signature-256). */
async function deliverPush(url: string, secret: string, commit: { before: string; after: string; branch: string; path: string; message: string }, log: Logger): Promise<void> {
  const body = JSON.stringify({
    ref: `refs/heads/${commit.branch}`,
    before: commit.before,
    after: commit.after,
    forced: false,
    repository: { full_name: LOCAL_DEPLOYMENT_REPOSITORY, default_branch: 'main' },
    pusher: { name: LOCAL_BOT.name, email: LOCAL_BOT.email },
    commits: [{ id: commit.after, message: commit.message, timestamp: new Date().toISOString(), added: [], removed: [], modified: [commit.path], author: { username: LOCAL_BOT.name } }],
    head_commit: { id: commit.after, timestamp: new Date().toISOString() },
  });
  const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': signature },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const answer = await response.text();
  log.info(`githubWebhook: the push of write-back ${commit.after.slice(0, 12)} answered ${response.status} ${answer.slice(0, 300)}`);
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
  let webhookUrl: string | undefined;
  const repo = createGitDeploymentRepo({
    path: repoPath,
    onCommitted: async (commit) => {
      if (webhookUrl === undefined) return;
      // As GitHub does, after the commit; a failed delivery is logged (GitHub would show it failed).
      await deliverPush(webhookUrl, webhookSecret, commit, input.log).catch((error: unknown) => input.log.warn('could not deliver the push of a write-back to the webhook', { error: String(error) }));
    },
  });
  return {
    repoPath,
    webhookSecret,
    repo,
    webhook: { secret: webhookSecret, repository: LOCAL_DEPLOYMENT_REPOSITORY, branch: 'main', botLogin: LOCAL_BOT.name },
    deliverPushesTo(url) {
      webhookUrl = url;
    },
    async seedConfigs(specs) {
      let written = 0;
      for (const spec of specs) {
        const path = configPathOf(spec.environment, spec.id);
        const current = await repo.readFile(path, 'main').catch(() => undefined);
        if (current !== undefined) continue;
        await repo.writeFile({ path, branch: 'main', content: stringify(specOf(spec)), message: `mi dev: config.yaml of ${spec.id} (the seeded fleet)`, expected: undefined });
        written += 1;
      }
      return written;
    },
  };
}

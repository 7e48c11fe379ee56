/**
 * Where `mi compliance report` reads CC8.1's change evidence: the deployment repository on GitHub
 * (MI_DEPLOYMENT_REPOSITORY, owner/name) with a token that may read its pull requests and its
 * administration (branch protection): MI_GITHUB_TOKEN, else GITHUB_TOKEN. Without both the report
 * still runs, and every commit the control plane applied in its period is a finding that says its
 * evidence was not read. Pull requests are read on main unless MI_DEPLOYMENT_BRANCH names another.
 */
import type { ChangeTrailOptions } from '../shared/compliance/changes.js';
import type { CliEnv } from './backend.js';

const REPOSITORY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

/** The report's reader of the repository, when the environment names one. */
export async function changeEvidenceOf(env: CliEnv): Promise<ChangeTrailOptions> {
  const repository = env.MI_DEPLOYMENT_REPOSITORY?.trim();
  const token = (env.MI_GITHUB_TOKEN || env.GITHUB_TOKEN)?.trim();
  const branch = env.MI_DEPLOYMENT_BRANCH?.trim() || 'main';
  if (repository === undefined || !REPOSITORY.test(repository) || token === undefined || token === '') return { branch };
  const { createGitHubDeploymentRepo } = await import('../shared/gcp/github-repo.js');
  return { repo: await createGitHubDeploymentRepo({ repository, token }), branch };
}

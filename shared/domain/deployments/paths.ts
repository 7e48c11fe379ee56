/**
 * The layout of the deployment repository, as pure functions over paths:
 * `environments/<env>/deployments/<instanceId>/config.yaml` (the instance spec) and
 * `environments/<env>/deployments/<instanceId>/terraform/stacks/<module>/...` (its modules) and
 * `environments/<env>/deployments/<instanceId>/kubernetes/` (its workloads, a kustomization).
 */
import { ENVIRONMENTS, INSTANCE_ID_PATTERN, type Environment } from '../../events/instance.js';

/** Module names as folder names: lowercase letters, digits, `-` and `_`, starting with a letter or digit. */
export const MODULE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export type DeploymentPath =
  | { kind: 'config'; environment: Environment; instanceId: string }
  | { kind: 'module'; environment: Environment; instanceId: string; module: string }
  /** Inside an instance folder but neither its config nor a module (README, other tooling). */
  | { kind: 'instance-other'; environment: Environment; instanceId: string };

/** Where an instance's config.yaml lives. */
export function configPathOf(environment: string, instanceId: string): string {
  return `environments/${environment}/deployments/${instanceId}/config.yaml`;
}

/** Where an instance's Terraform stack of one module lives (what a build runs `terraform -chdir=` in). */
export function stackPathOf(environment: string, instanceId: string, module: string): string {
  return `environments/${environment}/deployments/${instanceId}/terraform/stacks/${module}`;
}

/** Where an instance's Kubernetes manifests live: a kustomization, with `jobs/migrate.yaml` beside it. */
export function manifestsPathOf(environment: string, instanceId: string): string {
  return `environments/${environment}/deployments/${instanceId}/kubernetes`;
}

/** The instance whose folder a repository path is, or is inside: `environments/<env>/deployments/<id>[/…]`. */
export function instanceFolderOf(path: string): { environment: Environment; instanceId: string } | undefined {
  const parts = path.split('/');
  if (parts.length < 4 || parts[0] !== 'environments' || parts[2] !== 'deployments') return undefined;
  const environment = parts[1] as Environment;
  const instanceId = parts[3] ?? '';
  if (!(ENVIRONMENTS as readonly string[]).includes(environment) || !INSTANCE_ID_PATTERN.test(instanceId)) return undefined;
  return { environment, instanceId };
}

/** What a repository path is, or undefined for paths the control plane ignores. */
export function parseDeploymentPath(path: string): DeploymentPath | undefined {
  const parts = path.split('/');
  const folder = parts.length < 5 ? undefined : instanceFolderOf(path);
  if (folder === undefined) return undefined;
  const { environment, instanceId } = folder;
  // Empty segments ("a//b") or dot segments are never what the layout means.
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return undefined;
  if (parts.length === 5 && parts[4] === 'config.yaml') return { kind: 'config', environment, instanceId };
  if (parts.length >= 8 && parts[4] === 'terraform' && parts[5] === 'stacks' && MODULE_NAME_PATTERN.test(parts[6] ?? '')) {
    return { kind: 'module', environment, instanceId, module: parts[6] ?? '' };
  }
  return { kind: 'instance-other', environment, instanceId };
}

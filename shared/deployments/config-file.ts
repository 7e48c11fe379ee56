/** An instance's config.yaml: read at one commit of the deployment repository, and parsed into a spec of its folder. */
import { parseDocument } from 'yaml';
import type { FileAt } from '../domain/deployments/spec-changes.js';
import { ControlPlaneError } from '../errors.js';
import { instanceSpecSchema, issueToDecodeError, type InstanceSpec } from '../events/index.js';
import type { DeploymentRepoPort } from '../ports.js';

/** Git's id for "no commit" (the `before` of a branch's first push). */
const ZERO_COMMIT = /^0+$/;

/** Parses config.yaml; the file and the field at fault when it is not a valid spec of this folder. */
export function parseConfig(text: string, where: { environment: string; instanceId: string }): { spec: InstanceSpec } | { field: string | null; reason: string } {
  const document = parseDocument(text, { prettyErrors: false });
  if (document.errors.length > 0) return { field: null, reason: `not YAML: ${document.errors[0]?.message ?? 'parse error'}` };
  const parsed = instanceSpecSchema.safeParse(document.toJS(), { reportInput: true });
  if (!parsed.success) {
    const error = issueToDecodeError('payload', parsed.error, []);
    return { field: error.field ?? null, reason: error.message };
  }
  if (parsed.data.id !== where.instanceId) return { field: 'id', reason: `id: expected the folder's instance id ${where.instanceId}, got ${parsed.data.id}` };
  if (parsed.data.environment !== where.environment) {
    return { field: 'environment', reason: `environment: expected ${where.environment} (the folder it is in), got ${parsed.data.environment}` };
  }
  return { spec: parsed.data };
}

/** config.yaml at one commit; an unknown commit is said so, never read as an absent file. */
export async function fileAt(repo: DeploymentRepoPort, path: string, commit: string): Promise<FileAt> {
  if (ZERO_COMMIT.test(commit)) return { state: 'absent' }; // before a branch's first push there is nothing
  try {
    const text = await repo.readFile(path, commit);
    return text === undefined ? { state: 'absent' } : { state: 'present', text };
  } catch (error) {
    if (error instanceof ControlPlaneError && error.code === 'not-found') return { state: 'unknown-commit', commit };
    throw error;
  }
}

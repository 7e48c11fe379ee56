/**
 * The instance an on-call engineer stands in: inside a checkout of the deployment repository,
 * `environments/<env>/deployments/<id>/…` names the instance the instance commands take when
 * no id (nor `-e`/`--slug`) is given. The layout is the domain's (shared/domain/deployments/paths.ts).
 */
import { sep } from 'node:path';
import { instanceFolderOf } from '../shared/domain/deployments/paths.js';

/** The instance whose folder `directory` (absolute) is in; the innermost when folders nest. */
export function instanceHere(directory: string): { environment: string; instanceId: string } | undefined {
  const parts = directory.split(sep).filter((p) => p !== '');
  for (let i = parts.length - 1; i >= 0; i -= 1) {
    if (parts[i] !== 'environments') continue;
    const found = instanceFolderOf(parts.slice(i).join('/'));
    if (found !== undefined) return found;
  }
  return undefined;
}

export const NO_INSTANCE_HERE = 'give an instance id, or run mi inside its folder of the deployment repository (environments/<env>/deployments/<id>)';

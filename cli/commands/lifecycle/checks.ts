/**
 * What the CLI refuses up front (exit 2) because the lifecycle function would reject it
 * anyway, and the instance spec of `mi create --file`, read and checked by schema.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { instanceSpecSchema, type InstanceRecord, type InstanceSpec } from '../../../shared/events/index.js';
import { refused } from '../../errors.js';

/** Refuses what the lifecycle function would reject for any command: a busy or inactive instance. */
export function checkAvailable(instance: InstanceRecord, allowed: ReadonlyArray<InstanceRecord['status']> = ['active']): void {
  if (instance.lease !== null) {
    throw refused(
      `instance ${instance.id} is busy with ${instance.lease.operationType} operation ${instance.lease.operationId} (mi op get ${instance.lease.operationId} shows it)`,
    );
  }
  if (!allowed.includes(instance.status)) throw refused(`instance ${instance.id} is ${instance.status}, not ${allowed.join(' or ')}`);
}

/** Reads a config.yaml (the deployment repository's instance spec) and checks it by schema. */
export async function specFromFile(path: string): Promise<InstanceSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw refused(`--file: cannot read ${path}: ${(error as Error).message}`, error);
  }
  let value: unknown;
  try {
    // YAML turns an unquoted timestamp into a Date: the spec wants the text.
    value = JSON.parse(JSON.stringify(parseYaml(text)));
  } catch (error) {
    throw refused(`--file: ${path} is not YAML: ${(error as Error).message}`, error);
  }
  const parsed = instanceSpecSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw refused(`--file: ${path}: ${issue?.path.join('.') || 'spec'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/**
 * Writing an operation's spec change back to the instance's config.yaml, as pure decisions: what
 * the file becomes (its other fields and comments kept), when there is nothing to write, when a
 * person changed the file since and the write-back must not undo them, and how a write-back
 * commit is recognised (its trailer) so the webhook does not act on it a second time.
 */
import { isMap, parseDocument } from 'yaml';
import type { InstanceSpec } from '../../events/index.js';

/** The trailer of every write-back commit: `Mi-Write-Back: <operation id>`. */
export const WRITE_BACK_TRAILER = 'Mi-Write-Back';

/** The spec fields an operation may change and write back. */
export type WrittenFields = Partial<Pick<InstanceSpec, 'version' | 'region'>>;

export interface WriteBack {
  instanceId: string;
  operationId: string;
  operationType: string;
  /** The fields as they were when the operation began, and as it left them. */
  before: WrittenFields;
  after: WrittenFields;
  /** The whole spec, for an instance whose folder may hold no config.yaml yet (a create). */
  spec?: InstanceSpec;
}

export type WriteBackDecision =
  | { kind: 'write'; text: string; message: string }
  | { kind: 'already'; reason: string }
  /** Someone changed the file since the operation began: their change stands (it is its own push). */
  | { kind: 'superseded'; reason: string }
  | { kind: 'invalid'; reason: string };

function describe(fields: WrittenFields): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');
}

/** The commit message: what changed, why, and the trailer that marks it. */
export function writeBackMessage(change: WriteBack): string {
  return [
    `mi: ${change.instanceId} ${describe(change.after)}`,
    '',
    `Written back by the control plane after ${change.operationType} operation ${change.operationId} succeeded,`,
    'so that this repository and the control plane record the same spec.',
    '',
    `${WRITE_BACK_TRAILER}: ${change.operationId}`,
  ].join('\n');
}

/** The operation a commit message names in its write-back trailer, if any. */
export function writeBackOperationOf(message: string): string | undefined {
  const match = new RegExp(`^${WRITE_BACK_TRAILER}: (op-[0-9a-z-]{1,120})\\s*$`, 'm').exec(message);
  return match?.[1];
}

/**
 * A push made only of write-back commits by the control plane's bot: nothing in it is a person's
 * change, so nothing is acted on. A push by anyone else, or with any other commit, is a push.
 */
export function writeBackOperationsOfPush(push: { pusher: string | undefined; commits: ReadonlyArray<{ message?: string | undefined }> }, botLogin: string | undefined): string[] | undefined {
  if (botLogin === undefined || push.pusher !== botLogin || push.commits.length === 0) return undefined;
  const operations = push.commits.map((c) => writeBackOperationOf(c.message ?? ''));
  if (operations.some((op) => op === undefined)) return undefined;
  return [...new Set(operations as string[])];
}

function yamlOfSpec(spec: InstanceSpec): string {
  const document = parseDocument('{}');
  for (const [key, value] of Object.entries(spec)) if (value !== undefined) document.set(key, value);
  return document.toString();
}

/** What config.yaml becomes after the write-back (its text at the branch head, or undefined when absent). */
export function decideWriteBack(current: string | undefined, change: WriteBack): WriteBackDecision {
  const message = writeBackMessage(change);
  if (current === undefined) {
    if (change.spec === undefined) return { kind: 'superseded', reason: 'config.yaml is gone from the branch: the instance folder was removed since' };
    return { kind: 'write', text: yamlOfSpec({ ...change.spec, ...change.after }), message };
  }
  const document = parseDocument(current);
  if (document.errors.length > 0 || !isMap(document.contents)) return { kind: 'invalid', reason: `config.yaml is not a YAML mapping: ${document.errors[0]?.message ?? 'not a mapping'}` };
  const fields = Object.keys(change.after) as Array<keyof WrittenFields>;
  const now = Object.fromEntries(fields.map((f) => [f, document.get(f)]));
  if (fields.every((f) => now[f] === change.after[f])) return { kind: 'already', reason: `config.yaml already says ${describe(change.after)}` };
  // Only what still says what the operation started from is written: anything else is a person's newer word.
  const changedSince = fields.filter((f) => now[f] !== change.before[f] && now[f] !== change.after[f]);
  if (changedSince.length > 0) {
    return { kind: 'superseded', reason: `config.yaml says ${changedSince.map((f) => `${f} ${String(now[f])}`).join(', ')}, changed since the operation began (from ${describe(change.before)}): left as it is` };
  }
  for (const f of fields) document.set(f, change.after[f]);
  return { kind: 'write', text: document.toString(), message };
}

/**
 * What an operation that ended well writes back: the spec fields it changed (an upgrade's version,
 * a disaster recovery's region), or a created instance's whole spec; nothing for the others.
 */
export function writeBackOfOperation(operation: { id: string; type: string }, before: InstanceSpec, after: InstanceSpec): Omit<WriteBack, 'instanceId'> | undefined {
  const changed: WrittenFields = {};
  const was: WrittenFields = {};
  for (const field of ['version', 'region'] as const) {
    if (before[field] !== after[field] || operation.type === 'create') {
      changed[field] = after[field];
      was[field] = before[field];
    }
  }
  if (Object.keys(changed).length === 0) return undefined;
  const spec = operation.type === 'create' ? specOf(after) : undefined;
  return { operationId: operation.id, operationType: operation.type, before: was, after: changed, ...(spec === undefined ? {} : { spec }) };
}

/** The spec part of an instance record (what config.yaml holds). */
export function specOf(record: InstanceSpec): InstanceSpec {
  const { id, slug, environment, tier, domain, region, version, maintenanceWindow, expiresAt, owner } = record;
  return {
    id,
    slug,
    environment,
    tier,
    domain,
    region,
    version,
    ...(maintenanceWindow === undefined ? {} : { maintenanceWindow }),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(owner === undefined ? {} : { owner }),
  };
}

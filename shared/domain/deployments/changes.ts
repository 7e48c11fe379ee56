/**
 * What a merge changed in the deployment repository, as pure decisions: the net file list of a
 * push, whether the payload may be incomplete (then the two commits are compared instead), and
 * the classification of changed paths into per-instance spec and module changes.
 */
import { createHash } from 'node:crypto';
import type { Environment } from '../../events/instance.js';
import { parseDeploymentPath } from './paths.js';

/** A file as GitHub's compare API lists it (`status` as the API spells it). */
export interface ChangedFile {
  filename: string;
  status: string;
  /** For a rename: where the file was before. */
  previous_filename?: string;
}

/** What happened to one instance in a merge. */
export interface InstanceChange {
  instanceId: string;
  environment: Environment;
  /** `changed`: config.yaml added or modified (a spec change); `removed`: the instance folder's config is gone. */
  config: 'changed' | 'removed' | null;
  /** Modules with any file changed under `terraform/stacks/<module>/`, sorted. */
  modules: string[];
}

export interface ChangeSet {
  instances: InstanceChange[];
  /** Paths outside the layout, or inside an instance folder but neither config nor module. */
  ignoredPaths: number;
}

/**
 * GitHub's caps on a push payload: `commits` lists at most 2048 commits (the 20 of the docs is
 * the timeline's, not the webhook's), and each commit's added/removed/modified lists at most
 * 3000 files between them. A payload at either cap may be missing changes.
 */
export const PUSH_PAYLOAD_CAPS = { commits: 2048, filesPerCommit: 3000 } as const;

export interface PushCommit {
  id: string;
  added?: readonly string[];
  removed?: readonly string[];
  modified?: readonly string[];
}

/** Why the payload's file lists cannot be trusted to be complete, or undefined when they can. */
export function incompleteReason(
  push: { forced: boolean; commits: readonly PushCommit[] },
  caps: { commits: number; filesPerCommit: number } = PUSH_PAYLOAD_CAPS,
): string | undefined {
  if (push.forced) return 'forced push: the listed commits need not cover the change from before to after';
  if (push.commits.length >= caps.commits) return `commits list at its cap (${caps.commits})`;
  const full = push.commits.find((c) => (c.added?.length ?? 0) + (c.removed?.length ?? 0) + (c.modified?.length ?? 0) >= caps.filesPerCommit);
  if (full) return `file list of commit ${full.id} at its cap (${caps.filesPerCommit})`;
  return undefined;
}

/** The net change of each path over the push's commits, in order (added then removed is no change). */
export function filesOfPush(commits: readonly PushCommit[]): ChangedFile[] {
  const net = new Map<string, string>();
  for (const commit of commits) {
    for (const path of commit.added ?? []) net.set(path, net.get(path) === 'removed' ? 'modified' : 'added');
    for (const path of commit.modified ?? []) if (net.get(path) !== 'added') net.set(path, 'modified');
    for (const path of commit.removed ?? []) {
      if (net.get(path) === 'added') net.delete(path);
      else net.set(path, 'removed');
    }
  }
  return [...net].map(([filename, status]) => ({ filename, status }));
}

/** Classifies changed files into per-instance changes; renames count as a removal and an addition. */
export function classifyFiles(files: readonly ChangedFile[]): ChangeSet {
  const byInstance = new Map<string, { instanceId: string; environment: Environment; config: InstanceChange['config']; modules: Set<string> }>();
  let ignoredPaths = 0;
  const note = (filename: string, status: string) => {
    const parsed = parseDeploymentPath(filename);
    if (parsed === undefined || parsed.kind === 'instance-other' || status === 'unchanged') {
      ignoredPaths += 1;
      return;
    }
    const key = `${parsed.environment}/${parsed.instanceId}`;
    let entry = byInstance.get(key);
    if (entry === undefined) {
      entry = { instanceId: parsed.instanceId, environment: parsed.environment, config: null, modules: new Set() };
      byInstance.set(key, entry);
    }
    if (parsed.kind === 'module') entry.modules.add(parsed.module);
    // A config added anywhere wins over one removed (a folder moved between environments keeps its instance).
    else entry.config = status === 'removed' ? (entry.config ?? 'removed') : 'changed';
  };
  for (const file of files) {
    if (file.status === 'renamed' && file.previous_filename !== undefined) note(file.previous_filename, 'removed');
    note(file.filename, file.status === 'renamed' || file.status === 'copied' ? 'added' : file.status);
  }
  const instances = [...byInstance.values()]
    .map((e) => ({ instanceId: e.instanceId, environment: e.environment, config: e.config, modules: [...e.modules].sort() }))
    .sort((a, b) => a.instanceId.localeCompare(b.instanceId) || a.environment.localeCompare(b.environment));
  return { instances, ignoredPaths };
}

/** A UUID (version 5 layout) derived from the parts: the same parts always give the same id. */
export function derivedUuid(...parts: readonly string[]): string {
  const hex = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  const variant = ((parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The event id of the push message for one merge commit: a replay under a new delivery id is the same event. */
export function pushEventId(repository: string, commit: string): string {
  return derivedUuid('deployment.push', repository.toLowerCase(), commit);
}

/**
 * The event id of a lifecycle command caused by one change (merge commit, instance, and a
 * subject: `config` or a module's action). `attempt` moves on only when the engine answered
 * busy, so a replayed message asks again under the id it asked under before.
 */
export function changeEventId(commit: string, instanceId: string, subject: string, attempt = 0): string {
  return derivedUuid('deployment.change', commit, instanceId, subject, String(attempt));
}

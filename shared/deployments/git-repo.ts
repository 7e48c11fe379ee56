/**
 * The deployment repository as a local git checkout, for `mi dev`: files are read with
 * `git cat-file` at a commit verified to exist, commits compared with `git diff --name-status`
 * and ordered with `git merge-base --is-ancestor`, so a developer commits to a local repository
 * and posts a signed push to the githubWebhook function.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlPlaneError } from '../errors.js';
import type { ComparedFile, DeploymentRepoPort } from '../ports.js';
import { SimulatedGitHub } from '../sim/github.js';

const STATUS: Record<string, string> = { A: 'added', D: 'removed', M: 'modified', R: 'renamed', C: 'copied', T: 'changed' };
const REF = /^[0-9a-f]{7,64}$|^[A-Za-z0-9._/-]{1,200}$/;

function git(cwd: string, args: readonly string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('git', [...args], { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error && typeof (error as NodeJS.ErrnoException).code === 'string') {
        reject(new ControlPlaneError('unavailable', `git ${args[0] ?? ''} failed in ${cwd}: ${error.message}`, { cause: error }));
        return;
      }
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function gitWithInput(cwd: string, args: readonly string[], input: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile('git', [...args], { cwd, timeout: timeoutMs, encoding: 'utf8', env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      if (error && typeof (error as NodeJS.ErrnoException).code === 'string') {
        reject(new ControlPlaneError('unavailable', `git ${args[0] ?? ''} failed in ${cwd}: ${error.message}`, { cause: error }));
        return;
      }
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    // A command that reads no input may exit before it is written: that is not an error.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input === '' ? undefined : input);
  });
}

/** Who the control plane's own commits are by, locally (GitHub uses the token's identity). */
export const LOCAL_BOT = { name: 'mi-control-plane', email: 'mi-control-plane@users.noreply.local' };

/**
 * A DeploymentRepoPort on the git checkout at `path`. A write is a commit made with git's
 * plumbing (a temporary index), the branch moved only if it still points where it was read
 * (`update-ref` with the old value); a checked-out branch with a clean tree is fast-forwarded.
 * `onCommitted` hears of each commit written (`mi dev` posts it to the webhook, as GitHub would).
 * A local checkout has no pull requests: `github` answers for them (by default none, so every
 * commit reads as pushed without review, as it was).
 */
export function createGitDeploymentRepo(options: {
  path: string;
  timeoutMs?: number;
  onCommitted?: (commit: { before: string; after: string; branch: string; path: string; message: string }) => Promise<void>;
  github?: SimulatedGitHub;
}): DeploymentRepoPort {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const github = options.github ?? new SimulatedGitHub();
  const checkRef = (ref: string) => {
    if (!REF.test(ref) || ref.startsWith('-')) throw new ControlPlaneError('invalid-message', `not a git ref: ${ref}`, { retryable: false });
  };
  /** The commit id `ref` names; `not-found` when the checkout does not have it (a file there is then unknown, never absent). */
  async function commitOf(ref: string): Promise<string> {
    checkRef(ref);
    const result = await git(options.path, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], timeoutMs);
    const id = result.stdout.trim();
    if (result.code !== 0 || id === '') throw new ControlPlaneError('not-found', `no commit ${ref} in the deployment repository at ${options.path}`, { retryable: false, details: { ref } });
    return id;
  }
  const isAncestor = async (ancestor: string, descendant: string) => (await git(options.path, ['merge-base', '--is-ancestor', ancestor, descendant], timeoutMs)).code === 0;
  return {
    async readFile(path, ref) {
      // The commit first: `git show <unknown>:<path>` says the path "does not exist", which is not "absent".
      const commit = await commitOf(ref);
      if (path.startsWith('-') || path.includes('..')) return undefined;
      const type = await git(options.path, ['cat-file', '-t', `${commit}:${path}`], timeoutMs);
      if (type.code !== 0 || type.stdout.trim() !== 'blob') return undefined;
      const result = await git(options.path, ['cat-file', 'blob', `${commit}:${path}`], timeoutMs);
      if (result.code === 0) return result.stdout;
      throw new ControlPlaneError('unavailable', `git cat-file ${commit}:${path}: ${result.stderr.trim()}`);
    },
    async compare(base, head) {
      checkRef(base);
      checkRef(head);
      const result = await git(options.path, ['diff', '--name-status', '-M', '-z', base, head, '--'], timeoutMs);
      if (result.code !== 0) throw new ControlPlaneError('not-found', `git diff ${base} ${head}: ${result.stderr.trim()}`, { retryable: false });
      const parts = result.stdout.split('\0').filter((p) => p !== '');
      const files: ComparedFile[] = [];
      for (let i = 0; i < parts.length; ) {
        const code = parts[i] ?? '';
        const letter = code[0] ?? 'M';
        if (letter === 'R' || letter === 'C') {
          files.push({ filename: parts[i + 2] ?? '', status: STATUS[letter] ?? 'modified', previous_filename: parts[i + 1] ?? '' });
          i += 3;
        } else {
          files.push({ filename: parts[i + 1] ?? '', status: STATUS[letter] ?? 'modified' });
          i += 2;
        }
      }
      return { files };
    },
    resolve: (ref) => commitOf(ref),
    async writeFile(change) {
      checkRef(change.branch);
      if (change.path.startsWith('-') || change.path.includes('..')) throw new ControlPlaneError('invalid-message', `not a repository path: ${change.path}`, { retryable: false });
      // A branch with no commit yet (a fresh `git init`) gets its first one.
      const head = await commitOf(change.branch).catch((error: unknown) => {
        if (error instanceof ControlPlaneError && error.code === 'not-found') return undefined;
        throw error;
      });
      const current = head === undefined ? undefined : await this.readFile(change.path, head);
      if (current !== change.expected) throw new ControlPlaneError('conflict', `${change.path} on ${change.branch} changed since it was read`, { details: { path: change.path } });
      const index = join(tmpdir(), `mi-write-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}.index`);
      const env = { GIT_INDEX_FILE: index, GIT_AUTHOR_NAME: LOCAL_BOT.name, GIT_AUTHOR_EMAIL: LOCAL_BOT.email, GIT_COMMITTER_NAME: LOCAL_BOT.name, GIT_COMMITTER_EMAIL: LOCAL_BOT.email };
      const step = async (args: string[], input = '') => {
        const result = await gitWithInput(options.path, args, input, env, timeoutMs);
        if (result.code !== 0) throw new ControlPlaneError('unavailable', `git ${args.join(' ')}: ${result.stderr.trim()}`);
        return result.stdout.trim();
      };
      try {
        await step(head === undefined ? ['read-tree', '--empty'] : ['read-tree', head]);
        const blob = await step(['hash-object', '-w', '--stdin'], change.content);
        await step(['update-index', '--add', '--cacheinfo', `100644,${blob},${change.path}`]);
        const tree = await step(['write-tree']);
        const commit = await step(['commit-tree', tree, ...(head === undefined ? [] : ['-p', head]), '-F', '-'], change.message);
        // A person's checkout of that branch, if clean, follows (their own changes are never touched).
        const checkedOut = (await git(options.path, ['symbolic-ref', '--quiet', 'HEAD'], timeoutMs)).stdout.trim();
        const clean = (await git(options.path, ['status', '--porcelain', '--untracked-files=no'], timeoutMs)).stdout.trim() === '';
        // The old value: the branch must still point there (or, for its first commit, not exist).
        const moved = await gitWithInput(options.path, ['update-ref', `refs/heads/${change.branch}`, commit, head ?? ''], '', {}, timeoutMs);
        if (moved.code !== 0) throw new ControlPlaneError('conflict', `${change.branch} moved while ${change.path} was written`, { details: { path: change.path } });
        if (checkedOut === `refs/heads/${change.branch}` && clean) await git(options.path, ['reset', '--quiet', '--hard', commit], timeoutMs);
        await options.onCommitted?.({ before: head ?? '0'.repeat(40), after: commit, branch: change.branch, path: change.path, message: change.message });
        return { commit };
      } finally {
        await rm(index, { force: true });
      }
    },
    async ancestry(base, head) {
      const [from, to] = await Promise.all([commitOf(base), commitOf(head)]);
      if (from === to) return 'identical';
      if (await isAncestor(from, to)) return 'ahead';
      if (await isAncestor(to, from)) return 'behind';
      return 'diverged';
    },
    async pullRequestsOfCommit(commit) {
      await commitOf(commit);
      return github.pullRequestsOfCommit(commit);
    },
    reviewsOf: (pullNumber) => github.reviewsOf(pullNumber),
    branchProtection: (branch) => github.branchProtection(branch),
  };
}

/**
 * The deployment repository as a local git checkout, for `mi dev`: files are read with
 * `git cat-file` at a commit verified to exist, commits compared with `git diff --name-status`
 * and ordered with `git merge-base --is-ancestor`, so a developer commits to a local repository
 * and posts a signed push to the githubWebhook function.
 */
import { execFile } from 'node:child_process';
import { ControlPlaneError } from '../errors.js';
import type { ComparedFile, DeploymentRepoPort } from '../ports.js';

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

/** A DeploymentRepoPort on the git checkout at `path`. */
export function createGitDeploymentRepo(options: { path: string; timeoutMs?: number }): DeploymentRepoPort {
  const timeoutMs = options.timeoutMs ?? 10_000;
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
    async ancestry(base, head) {
      const [from, to] = await Promise.all([commitOf(base), commitOf(head)]);
      if (from === to) return 'identical';
      if (await isAncestor(from, to)) return 'ahead';
      if (await isAncestor(to, from)) return 'behind';
      return 'diverged';
    },
  };
}

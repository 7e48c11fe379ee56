/**
 * The deployment repository adapters keep the port's promise: a file of a commit the repository
 * does not have is `not-found`, never "no such file" (that would read as a removal), and
 * `ancestry` orders two commits as GitHub's compare API does. The local git adapter runs real git;
 * the GitHub adapter runs on an Octokit that answers as GitHub's REST API does.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Octokit } from '@octokit/rest';
import { afterAll, describe, expect, it } from 'vitest';
import { createGitDeploymentRepo } from '../../../shared/deployments/git-repo.js';
import { MemoryDeploymentRepo } from '../../../shared/deployments/memory-repo.js';
import { createGitHubDeploymentRepo } from '../../../shared/gcp/github-repo.js';
import { controlPlaneFailure } from '../../support/failures.js';

const UNKNOWN = '0123456789abcdef0123456789abcdef01234567';
const scratch: string[] = [];
afterAll(() => {
  for (const path of scratch) rmSync(path, { recursive: true, force: true });
});

function gitRepo() {
  const path = mkdtempSync(join(tmpdir(), 'mi-repo-adapter-'));
  scratch.push(path);
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd: path, encoding: 'utf8' }).trim();
  git('init', '-q', '-b', 'main');
  const commit = (file: string, text: string) => {
    writeFileSync(join(path, file), text);
    git('add', file);
    git('commit', '-q', '-m', text);
    return git('rev-parse', 'HEAD');
  };
  return { path, git, commit };
}

describe('the local git repository', () => {
  it('reads a file at a commit; a file not in a known commit is absent; an unknown commit is not-found, even with the file on disk', async () => {
    const { path, commit } = gitRepo();
    const first = commit('config.yaml', 'version: 1');
    const repo = createGitDeploymentRepo({ path });
    expect(await repo.readFile('config.yaml', first)).toBe('version: 1');
    expect(await repo.readFile('other.yaml', first)).toBeUndefined();
    const failure = await controlPlaneFailure(repo.readFile('config.yaml', UNKNOWN));
    expect(failure.code).toBe('not-found');
    expect(failure.message).toMatch(/no commit 0123456789abcdef/);
  });

  it('orders commits as the compare API does, by commit id or branch name', async () => {
    const { path, git, commit } = gitRepo();
    const a = commit('f', 'a');
    const b = commit('f', 'b');
    git('checkout', '-q', '-b', 'side', a);
    const c = commit('f', 'c');
    git('checkout', '-q', 'main');
    const repo = createGitDeploymentRepo({ path });
    expect(await repo.ancestry(a, b)).toBe('ahead');
    expect(await repo.ancestry(b, a)).toBe('behind');
    expect(await repo.ancestry(b, b)).toBe('identical');
    expect(await repo.ancestry(b, c)).toBe('diverged');
    expect(await repo.ancestry(a, 'refs/heads/main')).toBe('ahead');
    expect(await repo.ancestry(c, 'refs/heads/main')).toBe('diverged');
    expect((await controlPlaneFailure(repo.ancestry(UNKNOWN, b))).code).toBe('not-found');
  });
});

describe('the in-memory repository (tests)', () => {
  it('orders commits by their parents and branches', async () => {
    const repo = new MemoryDeploymentRepo();
    repo.commit('a', {});
    repo.commit('b', {}, { parents: ['a'], branch: 'main' });
    repo.commit('c', {}, { parents: ['a'] });
    expect(await Promise.all([repo.ancestry('a', 'b'), repo.ancestry('b', 'a'), repo.ancestry('b', 'c'), repo.ancestry('a', 'refs/heads/main'), repo.ancestry('b', 'b')])).toEqual(['ahead', 'behind', 'diverged', 'ahead', 'identical']);
    expect((await controlPlaneFailure(repo.readFile('x', 'nope'))).code).toBe('not-found');
    expect(() => repo.commit('d', {}, { parents: ['nope'] })).toThrow(/no commit nope/);
  });
});

/** An HTTP error as Octokit throws it. */
const httpError = (status: number, message: string) => Object.assign(new Error(message), { status });

/** An Octokit answering as GitHub does: `commits` are the ids it has, `files` the files of each. */
function fakeOctokit(github: { commits: Record<string, Record<string, string>>; compare?: (basehead: string) => string; failWith?: number }) {
  const calls: string[] = [];
  const octokit = {
    rest: {
      repos: {
        getContent: ({ path, ref }: { path: string; ref: string }) => {
          calls.push(`getContent ${ref}:${path}`);
          if (github.failWith !== undefined) return Promise.reject(httpError(github.failWith, 'Server Error'));
          const text = github.commits[ref]?.[path];
          // GitHub answers 404 for a file missing from a commit AND for a commit it does not have.
          return text === undefined ? Promise.reject(httpError(404, 'Not Found')) : Promise.resolve({ data: text });
        },
        getCommit: ({ ref }: { ref: string }) => {
          calls.push(`getCommit ${ref}`);
          return ref in github.commits ? Promise.resolve({ data: ref }) : Promise.reject(httpError(422, `No commit found for SHA: ${ref}`));
        },
        compareCommitsWithBasehead: ({ basehead }: { basehead: string }) => {
          calls.push(`compare ${basehead}`);
          const [base = '', head = ''] = basehead.split('...');
          if (!(base in github.commits || base === 'main') || !(head in github.commits || head === 'main')) return Promise.reject(httpError(404, 'Not Found'));
          return Promise.resolve({ data: { status: github.compare?.(basehead) ?? 'identical', files: [] } });
        },
      },
    },
  };
  return { octokit: octokit as unknown as Octokit, calls };
}

describe('the GitHub repository', () => {
  const known = 'a'.repeat(40);
  it('a 404 of a file in a commit GitHub has is "absent"; of a commit it does not have, not-found', async () => {
    const { octokit, calls } = fakeOctokit({ commits: { [known]: { 'config.yaml': 'version: 1' } } });
    const repo = await createGitHubDeploymentRepo({ repository: 'acme/deployments', octokit });
    expect(await repo.readFile('config.yaml', known)).toBe('version: 1');
    expect(await repo.readFile('gone.yaml', known)).toBeUndefined();
    const failure = await controlPlaneFailure(repo.readFile('config.yaml', UNKNOWN));
    expect(failure.code).toBe('not-found');
    expect(failure.message).toMatch(/no commit 0123456789abcdef.* in acme\/deployments/);
    expect(calls).toEqual([`getContent ${known}:config.yaml`, `getContent ${known}:gone.yaml`, `getCommit ${known}`, `getContent ${UNKNOWN}:config.yaml`, `getCommit ${UNKNOWN}`]);
  });

  it('a server error is retryable, never "absent"', async () => {
    const { octokit } = fakeOctokit({ commits: { [known]: {} }, failWith: 502 });
    const repo = await createGitHubDeploymentRepo({ repository: 'acme/deployments', octokit });
    const failure = await controlPlaneFailure(repo.readFile('config.yaml', known));
    expect([failure.code, failure.retryable]).toEqual(['unavailable', true]);
  });

  it("orders commits with the compare API's status, branch names without refs/heads/", async () => {
    const other = 'b'.repeat(40);
    const { octokit, calls } = fakeOctokit({ commits: { [known]: {}, [other]: {} }, compare: (basehead) => (basehead.endsWith('main') ? 'behind' : 'ahead') });
    const repo = await createGitHubDeploymentRepo({ repository: 'acme/deployments', octokit });
    expect(await repo.ancestry(known, other)).toBe('ahead');
    expect(await repo.ancestry(known, 'refs/heads/main')).toBe('behind');
    expect(calls).toEqual([`compare ${known}...${other}`, `compare ${known}...main`]);
    expect((await controlPlaneFailure(repo.ancestry(UNKNOWN, known))).code).toBe('not-found');
  });
});

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

describe('writing through the local git repository', () => {
  it('commits a file as the control plane on the branch, only over what was read; a clean checkout follows; a first commit is made on an empty repository', async () => {
    const { path, git, commit } = gitRepo();
    const first = commit('config.yaml', 'version: 1\n');
    const repo = createGitDeploymentRepo({ path });
    const written = await repo.writeFile({ path: 'config.yaml', branch: 'main', content: 'version: 2\n', message: 'mi: bump\n\nMi-Write-Back: op-1', expected: 'version: 1\n' });
    expect(git('rev-parse', 'main')).toBe(written.commit);
    expect(git('rev-parse', `${written.commit}^`)).toBe(first);
    expect(git('log', '-1', '--format=%an', written.commit)).toBe('mi-control-plane');
    expect(await repo.readFile('config.yaml', 'main')).toBe('version: 2\n');
    expect(git('status', '--porcelain')).toBe('');
    const stale = await controlPlaneFailure(repo.writeFile({ path: 'config.yaml', branch: 'main', content: 'version: 3\n', message: 'x', expected: 'version: 1\n' }));
    expect([stale.code, stale.retryable]).toEqual(['conflict', true]);

    const empty = gitRepo();
    const fresh = createGitDeploymentRepo({ path: empty.path });
    const root = await fresh.writeFile({ path: 'a/config.yaml', branch: 'main', content: 'id: x\n', message: 'seed', expected: undefined });
    expect(await fresh.readFile('a/config.yaml', root.commit)).toBe('id: x\n');
  });
});

describe('writing through the GitHub repository', () => {
  /** The contents API as GitHub answers it: GET a file (base64 content, blob sha), PUT it with that sha; a stale sha is a 409. */
  function contentsApi(file: { text: string; sha: string } | undefined) {
    const puts: Array<Record<string, unknown>> = [];
    const octokit = {
      rest: {
        repos: {
          getContent: (params: { path: string; ref: string }) => {
            if (file === undefined) return Promise.reject(Object.assign(new Error('Not Found'), { status: 404 }));
            return Promise.resolve({ data: { type: 'file', encoding: 'base64', size: file.text.length, name: 'config.yaml', path: params.path, sha: file.sha, content: Buffer.from(file.text).toString('base64') } });
          },
          createOrUpdateFileContents: (params: Record<string, unknown>) => {
            puts.push(params);
            if (file !== undefined && params.sha !== file.sha) return Promise.reject(Object.assign(new Error('is at 3d21ec53a331a6f037a91c368710b99387d012c1 but expected 0000'), { status: 409 }));
            return Promise.resolve({ data: { content: { name: 'config.yaml', sha: 'b'.repeat(40) }, commit: { sha: 'c'.repeat(40), message: params.message } } });
          },
        },
      },
    };
    return { octokit: octokit as unknown as Octokit, puts };
  }

  it('PUTs the new content over the blob it read, on the branch, and answers the commit', async () => {
    const { octokit, puts } = contentsApi({ text: 'version: 1\n', sha: 'a'.repeat(40) });
    const repo = await createGitHubDeploymentRepo({ repository: 'acme/deployments', octokit });
    expect(await repo.writeFile({ path: 'x/config.yaml', branch: 'main', content: 'version: 2\n', message: 'mi: bump', expected: 'version: 1\n' })).toEqual({ commit: 'c'.repeat(40) });
    expect(puts).toMatchObject([{ owner: 'acme', repo: 'deployments', path: 'x/config.yaml', branch: 'main', sha: 'a'.repeat(40), message: 'mi: bump', content: Buffer.from('version: 2\n').toString('base64') }]);
  });

  it('a file that changed since it was read is a retryable conflict, and nothing is written', async () => {
    const { octokit, puts } = contentsApi({ text: 'version: 3\n', sha: 'd'.repeat(40) });
    const repo = await createGitHubDeploymentRepo({ repository: 'acme/deployments', octokit });
    const failure = await controlPlaneFailure(repo.writeFile({ path: 'x/config.yaml', branch: 'main', content: 'version: 2\n', message: 'mi: bump', expected: 'version: 1\n' }));
    expect([failure.code, failure.retryable, puts.length]).toEqual(['conflict', true, 0]);
  });
});

/**
 * An in-memory deployment repository for tests: commits are snapshots of files with their
 * parents, compared the way GitHub's compare API lists them, and branches that point at commits.
 * Not a simulator of a Google service: only of a git repository.
 */
import { createHash } from 'node:crypto';
import type { CommitAncestry, ComparedFile, DeploymentRepoPort, RepoBranchProtection, RepoPullRequest, RepoRead, RepoReview } from '../ports.js';
import { SimulatedGitHub } from '../sim/github.js';
import { ControlPlaneError } from '../errors.js';

/** The value of `work` as a promise, or its error as a rejection (the port's methods never throw synchronously). */
function settle<T>(work: () => T): Promise<T> {
  return new Promise((resolve) => resolve(work()));
}

interface StoredCommit {
  files: ReadonlyMap<string, string>;
  parents: readonly string[];
}

export class MemoryDeploymentRepo implements DeploymentRepoPort {
  private readonly commits = new Map<string, StoredCommit>();
  private readonly branches = new Map<string, string>();
  /** How often compare was called (tests check the fallback took place). */
  compareCalls = 0;
  /** How often ancestry was asked (tests check it is asked only when needed). */
  ancestryCalls = 0;

  /** Its pull requests, reviews and branch protection, as GitHub answers them (none until a test seeds them). */
  constructor(readonly github: SimulatedGitHub = new SimulatedGitHub()) {}

  /** Records a commit whose tree is `files`, child of `parents`; `branch` then points at it. */
  commit(id: string, files: Record<string, string>, options: { parents?: readonly string[]; branch?: string } = {}): void {
    for (const parent of options.parents ?? []) this.idOf(parent);
    this.commits.set(id, { files: new Map(Object.entries(files)), parents: [...(options.parents ?? [])] });
    if (options.branch !== undefined) this.branches.set(options.branch, id);
  }

  /** Points `branch` at a commit (a forced push). */
  setBranch(branch: string, id: string): void {
    this.idOf(id);
    this.branches.set(branch, id);
  }

  private idOf(ref: string): string {
    const branch = this.branches.get(ref.replace(/^refs\/heads\//, ''));
    const id = branch ?? ref;
    if (!this.commits.has(id)) throw new ControlPlaneError('not-found', `no commit ${ref} in the deployment repository`, { retryable: false, details: { ref } });
    return id;
  }

  private tree(ref: string): ReadonlyMap<string, string> {
    return (this.commits.get(this.idOf(ref)) as StoredCommit).files;
  }

  private ancestors(id: string): Set<string> {
    const seen = new Set<string>();
    const queue = [id];
    for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
      if (seen.has(next)) continue;
      seen.add(next);
      queue.push(...(this.commits.get(next)?.parents ?? []));
    }
    return seen;
  }

  resolve(ref: string): Promise<string> {
    return settle(() => this.idOf(ref));
  }

  readFile(path: string, ref: string): Promise<string | undefined> {
    return settle(() => this.tree(ref).get(path));
  }

  compare(base: string, head: string): Promise<{ files: ComparedFile[] }> {
    this.compareCalls += 1;
    return settle(() => {
      const before = this.tree(base);
      const after = this.tree(head);
      const files: ComparedFile[] = [];
      for (const [path, text] of after) {
        const old = before.get(path);
        if (old === undefined) files.push({ filename: path, status: 'added' });
        else if (old !== text) files.push({ filename: path, status: 'modified' });
      }
      for (const path of before.keys()) if (!after.has(path)) files.push({ filename: path, status: 'removed' });
      return { files };
    });
  }

  /** Commits written through the port, oldest first (the control plane's write-backs). */
  readonly written: Array<{ commit: string; path: string; message: string; content: string }> = [];

  writeFile(change: { path: string; branch: string; content: string; message: string; expected: string | undefined }): Promise<{ commit: string }> {
    return settle(() => {
      const head = this.idOf(change.branch);
      const files = new Map(this.tree(head));
      if (files.get(change.path) !== change.expected) {
        throw new ControlPlaneError('conflict', `${change.path} on ${change.branch} changed since it was read`, { retryable: true, details: { path: change.path } });
      }
      files.set(change.path, change.content);
      const commit = createHash('sha1').update(`${head}\0${change.path}\0${change.content}\0${change.message}`).digest('hex');
      this.commits.set(commit, { files, parents: [head] });
      this.branches.set(change.branch, commit);
      this.written.push({ commit, path: change.path, message: change.message, content: change.content });
      return { commit };
    });
  }

  ancestry(base: string, head: string): Promise<CommitAncestry> {
    this.ancestryCalls += 1;
    return settle((): CommitAncestry => {
      const from = this.idOf(base);
      const to = this.idOf(head);
      if (from === to) return 'identical';
      if (this.ancestors(to).has(from)) return 'ahead';
      if (this.ancestors(from).has(to)) return 'behind';
      return 'diverged';
    });
  }

  pullRequestsOfCommit(commit: string): Promise<RepoRead<RepoPullRequest[]>> {
    return settle(() => this.idOf(commit)).then(() => this.github.pullRequestsOfCommit(commit));
  }

  reviewsOf(pullNumber: number): Promise<RepoRead<RepoReview[]>> {
    return this.github.reviewsOf(pullNumber);
  }

  branchProtection(branch: string): Promise<RepoRead<RepoBranchProtection | null>> {
    return this.github.branchProtection(branch);
  }
}

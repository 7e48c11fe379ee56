/**
 * An in-memory deployment repository for tests: commits are snapshots of files, compared the way
 * GitHub's compare API lists them. Not a simulator of a Google service: only of a git repository.
 */
import type { ComparedFile, DeploymentRepoPort } from '../ports.js';
import { ControlPlaneError } from '../errors.js';

export class MemoryDeploymentRepo implements DeploymentRepoPort {
  private readonly commits = new Map<string, ReadonlyMap<string, string>>();
  /** How often compare was called (tests check the fallback took place). */
  compareCalls = 0;

  /** Records a commit whose tree is `files`. */
  commit(id: string, files: Record<string, string>): void {
    this.commits.set(id, new Map(Object.entries(files)));
  }

  private tree(ref: string): ReadonlyMap<string, string> {
    const tree = this.commits.get(ref);
    if (tree === undefined) throw new ControlPlaneError('not-found', `no commit ${ref} in the deployment repository`, { retryable: false });
    return tree;
  }

  readFile(path: string, ref: string): Promise<string | undefined> {
    return Promise.resolve(this.tree(ref).get(path));
  }

  compare(base: string, head: string): Promise<{ files: ComparedFile[] }> {
    this.compareCalls += 1;
    const before = this.tree(base);
    const after = this.tree(head);
    const files: ComparedFile[] = [];
    for (const [path, text] of after) {
      const old = before.get(path);
      if (old === undefined) files.push({ filename: path, status: 'added' });
      else if (old !== text) files.push({ filename: path, status: 'modified' });
    }
    for (const path of before.keys()) if (!after.has(path)) files.push({ filename: path, status: 'removed' });
    return Promise.resolve({ files });
  }
}

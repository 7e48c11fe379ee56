/** Which of two changes of one instance is newer, by ancestry on the default branch, asked of the repository. */
import { newerChange, type Ancestry } from '../../domain/deployments/spec-changes.js';
import { ControlPlaneError } from '../../errors.js';
import type { DeploymentRepoPort } from '../../ports.js';
import type { NewerThan, Push, Verdict } from './model.js';

function rethrowUnlessGone(error: unknown): Ancestry {
  if (error instanceof ControlPlaneError && error.code === 'not-found') return 'diverged';
  throw error;
}

/**
 * For one push: which of its commit and a recorded one is newer, asked of the repository once
 * per recorded commit. A fast-forward push from exactly the recorded commit needs no question.
 */
export function newerThan(repo: DeploymentRepoPort, push: Push): NewerThan {
  const asked = new Map<string, Promise<Verdict>>();
  const { after, before, forced, ref } = push.payload;
  async function decide(stored: string): Promise<Verdict> {
    let relation: Ancestry;
    try {
      relation = forced === false && stored === before ? 'ahead' : await repo.ancestry(stored, after);
    } catch (error) {
      // The pushed commit was read just before, so it is the recorded one the repository no
      // longer has: rewritten away, it is on no branch, and the pushed commit is newer.
      if (error instanceof ControlPlaneError && error.code === 'not-found') return { winner: 'incoming' };
      throw error;
    }
    const first = newerChange(relation);
    if (first.winner !== 'ask-branch') return first;
    const onBranch = async (commit: string) => ['ahead', 'identical'].includes(await repo.ancestry(commit, ref).catch((error: unknown) => rethrowUnlessGone(error)));
    const [incoming, kept] = await Promise.all([onBranch(after), onBranch(stored)]);
    const second = newerChange(relation, { incoming, stored: kept });
    return second.winner === 'ask-branch' ? { winner: 'stored', reason: 'diverged' } : second;
  }
  return (stored) => {
    let verdict = asked.get(stored);
    if (verdict === undefined) {
      verdict = decide(stored);
      asked.set(stored, verdict);
    }
    return verdict;
  };
}

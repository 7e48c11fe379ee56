/**
 * The deployment repository's pull requests, reviews and branch protection as GitHub's REST API
 * answers them, in process. It does not cooperate: a commit pushed straight to a branch has no
 * pull request ([]), a commit may sit in an open pull request that never merged, reviews are
 * kept as submitted (an approval by the pull request's own author, a CHANGES_REQUESTED or a
 * DISMISSED after an APPROVED: the list holds them all, oldest first, as GitHub lists them), and
 * a branch nobody protected answers 404 "Branch not protected", which the port reads as null.
 * github.com refuses an author's approval of their own pull request (422), but a bot or a second
 * account of the author is not refused: the control plane judges what the API answers.
 */
import { ControlPlaneError } from '../errors.js';
import type { RepoBranchProtection, RepoPullRequest, RepoRead, RepoReview, ReviewState } from '../ports.js';
import { FaultInjector, type ServiceErrorStyle } from './faults.js';

export type GitHubMethod = 'pullRequestsOfCommit' | 'reviewsOf' | 'branchProtection';

const STYLE: ServiceErrorStyle = { service: 'github', conflictCode: 'conflict' };

interface SimPull {
  number: number;
  author: string | null;
  base: string;
  /** The pull request's own commits, oldest first; the last is its head. */
  commits: string[];
  mergedAt: string | null;
  mergeCommitSha: string | null;
  reviews: RepoReview[];
}

/** Pull requests, reviews and protection of one repository, as GitHub's REST API answers them. */
export class SimulatedGitHub {
  readonly faults = new FaultInjector<GitHubMethod>(STYLE);
  private readonly pulls = new Map<number, SimPull>();
  private readonly protections = new Map<string, RepoBranchProtection>();
  private nextNumber = 1;
  private nextReviewId = 80_000_001;

  constructor(readonly repository = 'local/deployments') {}

  /** Opens a pull request of `commits` (oldest first) into `base`; returns its number. */
  openPullRequest(input: { author: string | null; commits: readonly string[]; base?: string; number?: number }): number {
    if (input.commits.length === 0) throw new RangeError('a pull request has at least one commit');
    const number = input.number ?? this.nextNumber;
    if (this.pulls.has(number)) throw new RangeError(`pull request #${number} exists`);
    this.nextNumber = Math.max(this.nextNumber, number + 1);
    this.pulls.set(number, { number, author: input.author, base: input.base ?? 'main', commits: [...input.commits], mergedAt: null, mergeCommitSha: null, reviews: [] });
    return number;
  }

  /** Adds commits to an open pull request (its head moves). */
  pushToPullRequest(number: number, commits: readonly string[]): void {
    const pull = this.pull(number);
    if (pull.mergedAt !== null) throw new RangeError(`pull request #${number} is merged`);
    pull.commits.push(...commits);
  }

  /** Submits a review, on the pull request's head unless `commitId` says otherwise. */
  review(number: number, input: { reviewer: string | null; state: ReviewState; at: string; commitId?: string }): number {
    const pull = this.pull(number);
    const id = this.nextReviewId;
    this.nextReviewId += 1;
    pull.reviews.push({ id, reviewer: input.reviewer, state: input.state, commitId: input.commitId ?? pull.commits.at(-1) ?? null, submittedAt: input.state === 'PENDING' ? null : input.at });
    return id;
  }

  /** Dismisses a review (its state becomes DISMISSED, as GitHub's dismissal API and stale-review dismissal do). */
  dismiss(number: number, reviewId: number): void {
    const review = this.pull(number).reviews.find((r) => r.id === reviewId);
    if (review === undefined) throw new RangeError(`no review ${reviewId} on #${number}`);
    review.state = 'DISMISSED';
  }

  /** Merges a pull request as `mergeCommitSha` (a merge, squash or rebase commit; its own head for a fast-forward). */
  merge(number: number, input: { mergeCommitSha: string; at: string }): void {
    const pull = this.pull(number);
    pull.mergedAt = input.at;
    pull.mergeCommitSha = input.mergeCommitSha;
  }

  /** Protects a branch (what `PUT /branches/{branch}/protection` sets). */
  protect(branch: string, protection: RepoBranchProtection): void {
    this.protections.set(branch, structuredClone(protection));
  }

  unprotect(branch: string): void {
    this.protections.delete(branch);
  }

  private pull(number: number): SimPull {
    const pull = this.pulls.get(number);
    if (pull === undefined) throw new RangeError(`no pull request #${number}`);
    return pull;
  }

  private path(rest: string): string {
    return `GET /repos/${this.repository}/${rest}`;
  }

  /** GitHub lists the merged pull request that brought the commit in, and open ones that hold it; [] for a commit pushed without one. */
  pullRequestsOfCommit(commit: string): Promise<RepoRead<RepoPullRequest[]>> {
    return this.faults.call('pullRequestsOfCommit', commit, () => {
      const value = [...this.pulls.values()]
        .filter((p) => p.commits.includes(commit) || p.mergeCommitSha === commit)
        .map((p) => this.view(p));
      return { call: this.path(`commits/${commit}/pulls`), value };
    });
  }

  reviewsOf(pullNumber: number): Promise<RepoRead<RepoReview[]>> {
    return this.faults.call('reviewsOf', String(pullNumber), () => {
      const pull = this.pulls.get(pullNumber);
      if (pull === undefined) throw new ControlPlaneError('not-found', `github: no pull request #${pullNumber} in ${this.repository}`, { retryable: false, details: { httpStatus: 404 } });
      // A pending review is its author's draft: other people's tokens do not see it.
      return { call: this.path(`pulls/${pullNumber}/reviews`), value: pull.reviews.filter((r) => r.state !== 'PENDING').map((r) => ({ ...r })) };
    });
  }

  branchProtection(branch: string): Promise<RepoRead<RepoBranchProtection | null>> {
    return this.faults.call('branchProtection', branch, () => {
      const protection = this.protections.get(branch);
      return { call: this.path(`branches/${branch}/protection`), value: protection === undefined ? null : structuredClone(protection) };
    });
  }

  private view(p: SimPull): RepoPullRequest {
    return {
      number: p.number,
      url: `https://github.com/${this.repository}/pull/${p.number}`,
      state: p.mergedAt === null ? 'open' : 'closed',
      author: p.author,
      mergedAt: p.mergedAt,
      mergeCommitSha: p.mergeCommitSha,
      baseRef: p.base,
      headSha: p.commits.at(-1) ?? '',
    };
  }
}

/** The protection a well-run repository has: one approving review, stale reviews dismissed, admins included, CI required. */
export const STRICT_PROTECTION: RepoBranchProtection = {
  requiredApprovingReviewCount: 1,
  dismissStaleReviews: true,
  requireCodeOwnerReviews: false,
  enforceAdmins: true,
  requiredStatusChecks: { strict: true, contexts: ['ci'] },
};

/**
 * CC8.1 change management, as a pure decision over what GitHub answered: a commit the control
 * plane applied passes when it came in through a merged pull request, someone other than the
 * pull request's author approved it (their latest review, not a later CHANGES_REQUESTED or
 * DISMISSED, on the merged head or kept valid by the repository dismissing stale approvals), at
 * least as many such people as the base branch's protection requires, and that protection
 * requires at least one approving review. Anything else is a finding, with the reasons.
 */
import type { RepoBranchProtection, RepoPullRequest, RepoReview } from '../../ports.js';

/** The change control, judged per commit applied in the period. */
export const CHANGE_CONTROL = 'change.reviewed';
export const CHANGE_CONTROL_TEXT =
  'Every commit the control plane applied came in through a merged pull request approved by someone other than its author, on a base branch whose protection requires at least one approving review';

/** What was read of one commit: its pull requests, the reviews of the one that merged it, the protection of its base branch. */
export interface CommitChangeFacts {
  commit: string;
  pulls: readonly RepoPullRequest[];
  /** The reviews of `pullOfCommit(commit, pulls)`; [] when there is none. */
  reviews: readonly RepoReview[];
  /** The protection of that pull request's base branch (or of the applied branch, for a commit without one); null when not protected. */
  protection: RepoBranchProtection | null;
}

export interface CommitJudgement {
  outcome: 'pass' | 'fail';
  /** The pull request judged (the one that merged the commit); null when there is none. */
  pull: RepoPullRequest | null;
  author: string | null;
  /** Who approved it, other than the author (latest review per reviewer APPROVED and valid for the head); [] when nobody did. */
  approvers: string[];
  /** Why it fails; [] when it passes. */
  reasons: string[];
}

const same = (a: string | null, b: string | null) => a !== null && b !== null && a.toLowerCase() === b.toLowerCase();

/** The pull request that merged `commit`: a merged one whose merge commit it is, else the earliest merged one holding it; undefined when none merged. */
export function pullOfCommit(commit: string, pulls: readonly RepoPullRequest[]): RepoPullRequest | undefined {
  const merged = pulls.filter((p) => p.mergedAt !== null).sort((a, b) => (a.mergedAt ?? '').localeCompare(b.mergedAt ?? '') || a.number - b.number);
  return merged.find((p) => p.mergeCommitSha === commit) ?? merged[0];
}

/**
 * Each reviewer's latest deciding review, as GitHub decides a pull request: APPROVED,
 * CHANGES_REQUESTED and DISMISSED replace what came before; COMMENTED and PENDING do not.
 * Reviews are taken in the order GitHub lists them (oldest first), ties by id.
 */
export function latestReviews(reviews: readonly RepoReview[]): Map<string, RepoReview> {
  const latest = new Map<string, RepoReview>();
  const ordered = [...reviews].sort((a, b) => (a.submittedAt ?? '').localeCompare(b.submittedAt ?? '') || a.id - b.id);
  for (const review of ordered) {
    if (review.reviewer === null || review.state === 'COMMENTED' || review.state === 'PENDING') continue;
    latest.set(review.reviewer.toLowerCase(), review);
  }
  return latest;
}

/** Judges one applied commit against CC8.1. */
export function judgeCommit(facts: CommitChangeFacts): CommitJudgement {
  const pull = pullOfCommit(facts.commit, facts.pulls) ?? null;
  const reasons: string[] = [];
  const protection = facts.protection;
  const required = protection?.requiredApprovingReviewCount ?? 0;
  if (protection === null) reasons.push('the base branch is not protected');
  else if (required < 1) reasons.push('the base branch protection requires no approving review');
  if (pull === null) {
    reasons.push(facts.pulls.length === 0 ? 'pushed without a pull request' : `no merged pull request (${facts.pulls.map((p) => `#${p.number} ${p.state}`).join(', ')})`);
    return { outcome: 'fail', pull: null, author: null, approvers: [], reasons };
  }
  const approvals = [...latestReviews(facts.reviews).values()].filter((r) => r.state === 'APPROVED');
  // An approval of an older head counts only when the repository dismisses stale approvals (GitHub would have).
  const current = approvals.filter((r) => r.commitId === pull.headSha || protection?.dismissStaleReviews === true);
  const approvers = current.filter((r) => !same(r.reviewer, pull.author)).map((r) => r.reviewer ?? '');
  if (approvers.length === 0) {
    if (current.some((r) => same(r.reviewer, pull.author))) reasons.push(`approved only by its author ${pull.author ?? '?'}`);
    else if (approvals.length > current.length) reasons.push(`approved only on an older commit than the merged head ${pull.headSha.slice(0, 12)}`);
    else reasons.push('no approving review from someone other than the author');
  } else if (approvers.length < required) {
    reasons.push(`${approvers.length} approving review(s) from others, the protection requires ${required}`);
  }
  return { outcome: reasons.length === 0 ? 'pass' : 'fail', pull, author: pull.author, approvers: approvers.sort(), reasons };
}

/**
 * CC8.1 per commit: it passes iff a pull request merged it, someone other than its author approved
 * it as their latest deciding review (on the merged head, or kept by a repository that dismisses
 * stale approvals), as many such people as the protection requires, and the base branch's
 * protection requires at least one approving review. A table of the cases GitHub really produces,
 * and a property against a second, plain statement of the rule.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { judgeCommit, latestReviews, pullOfCommit, type CommitChangeFacts } from '../../../shared/domain/compliance/changes.js';
import type { RepoBranchProtection, RepoPullRequest, RepoReview, ReviewState } from '../../../shared/ports.js';

const MERGE = 'm'.repeat(40);
const HEAD = 'h'.repeat(40);
const OLD = 'o'.repeat(40);
const PROTECTED: RepoBranchProtection = { requiredApprovingReviewCount: 1, dismissStaleReviews: false, requireCodeOwnerReviews: false, enforceAdmins: true, requiredStatusChecks: { strict: true, contexts: ['ci'] } };

const pull = (over: Partial<RepoPullRequest> = {}): RepoPullRequest => ({
  number: 7,
  url: 'https://github.com/acme/deployments/pull/7',
  state: 'closed',
  author: 'alice',
  mergedAt: '2026-11-30T10:00:00Z',
  mergeCommitSha: MERGE,
  baseRef: 'main',
  headSha: HEAD,
  ...over,
});
let nextId = 1;
const review = (reviewer: string | null, state: ReviewState, at: string, commitId: string = HEAD): RepoReview => ({ id: nextId++, reviewer, state, commitId, submittedAt: at });
const facts = (over: Partial<CommitChangeFacts> = {}): CommitChangeFacts => ({ commit: MERGE, pulls: [pull()], reviews: [review('bob', 'APPROVED', '2026-11-30T09:00:00Z')], protection: PROTECTED, ...over });

describe('CC8.1 for one applied commit', () => {
  it.each([
    ['a merged pull request approved by another person under protection passes', facts(), 'pass', []],
    ['a commit pushed without a pull request fails', facts({ pulls: [], reviews: [] }), 'fail', ['pushed without a pull request']],
    ['a pull request that never merged fails', facts({ pulls: [pull({ state: 'open', mergedAt: null, mergeCommitSha: null })] }), 'fail', ['no merged pull request (#7 open)']],
    ['approved only by its author fails', facts({ reviews: [review('alice', 'APPROVED', '2026-11-30T09:00:00Z')] }), 'fail', ['approved only by its author alice']],
    ['an author told apart from the approver regardless of case', facts({ reviews: [review('ALICE', 'APPROVED', '2026-11-30T09:00:00Z')] }), 'fail', ['approved only by its author alice']],
    [
      'CHANGES_REQUESTED after an APPROVED by the same reviewer fails',
      facts({ reviews: [review('bob', 'APPROVED', '2026-11-30T08:00:00Z'), review('bob', 'CHANGES_REQUESTED', '2026-11-30T09:00:00Z')] }),
      'fail',
      ['no approving review from someone other than the author'],
    ],
    ['a DISMISSED approval fails', facts({ reviews: [review('bob', 'DISMISSED', '2026-11-30T09:00:00Z')] }), 'fail', ['no approving review from someone other than the author']],
    ['a COMMENTED after an APPROVED keeps the approval', facts({ reviews: [review('bob', 'APPROVED', '2026-11-30T08:00:00Z'), review('bob', 'COMMENTED', '2026-11-30T09:00:00Z')] }), 'pass', []],
    ['an approval of an older commit, stale reviews kept, fails', facts({ reviews: [review('bob', 'APPROVED', '2026-11-30T08:00:00Z', OLD)] }), 'fail', [`approved only on an older commit than the merged head ${HEAD.slice(0, 12)}`]],
    ['an approval of an older commit counts where stale approvals are dismissed', facts({ reviews: [review('bob', 'APPROVED', '2026-11-30T08:00:00Z', OLD)], protection: { ...PROTECTED, dismissStaleReviews: true } }), 'pass', []],
    ['an unprotected branch fails even with an approval', facts({ protection: null }), 'fail', ['the base branch is not protected']],
    ['protection without required reviews fails', facts({ protection: { ...PROTECTED, requiredApprovingReviewCount: null } }), 'fail', ['the base branch protection requires no approving review']],
    ['fewer approvals from others than the protection requires fails', facts({ protection: { ...PROTECTED, requiredApprovingReviewCount: 2 } }), 'fail', ['1 approving review(s) from others, the protection requires 2']],
    ['a deleted reviewer account does not approve', facts({ reviews: [review(null, 'APPROVED', '2026-11-30T09:00:00Z')] }), 'fail', ['no approving review from someone other than the author']],
  ])('%s', (_name, input, outcome, reasons) => {
    const judged = judgeCommit(input);
    expect(judged.outcome).toBe(outcome);
    expect(judged.reasons).toEqual(reasons);
  });

  it('names the author and every approver other than the author', () => {
    const judged = judgeCommit(facts({ reviews: [review('carol', 'APPROVED', '2026-11-30T08:00:00Z'), review('alice', 'APPROVED', '2026-11-30T08:30:00Z'), review('bob', 'APPROVED', '2026-11-30T09:00:00Z')] }));
    expect([judged.author, judged.approvers, judged.pull?.number]).toEqual(['alice', ['bob', 'carol'], 7]);
  });

  it('judges the pull request whose merge commit it is, not an open one that also holds it', () => {
    const open = pull({ number: 9, state: 'open', mergedAt: null, mergeCommitSha: null });
    const other = pull({ number: 3, mergedAt: '2026-11-29T10:00:00Z', mergeCommitSha: 'x'.repeat(40) });
    expect(pullOfCommit(MERGE, [open, other, pull()])?.number).toBe(7);
    expect(pullOfCommit('y'.repeat(40), [open, other, pull()])?.number).toBe(3);
  });

  it("keeps each reviewer's latest deciding review, in the order GitHub submitted them", () => {
    const latest = latestReviews([review('bob', 'CHANGES_REQUESTED', '2026-11-30T09:00:00Z'), review('bob', 'APPROVED', '2026-11-30T08:00:00Z'), review('bob', 'PENDING', '2026-11-30T10:00:00Z')]);
    expect(latest.get('bob')?.state).toBe('CHANGES_REQUESTED');
  });
});

const people = ['alice', 'bob', 'carol'] as const;
const states: ReviewState[] = ['APPROVED', 'CHANGES_REQUESTED', 'COMMENTED', 'DISMISSED', 'PENDING'];
const arbitraryFacts = fc
  .record({
    hasPull: fc.boolean(),
    merged: fc.boolean(),
    author: fc.constantFrom(...people),
    reviews: fc.array(fc.record({ reviewer: fc.constantFrom(...people), state: fc.constantFrom(...states), onHead: fc.boolean(), minute: fc.nat(59) }), { maxLength: 6 }),
    protection: fc.option(fc.record({ required: fc.option(fc.nat(3), { nil: null }), dismissStale: fc.boolean() }), { nil: null }),
  })
  .map(({ hasPull, merged, author, reviews, protection }) => ({
    commit: MERGE,
    pulls: hasPull ? [pull({ author, mergedAt: merged ? '2026-11-30T10:00:00Z' : null, mergeCommitSha: merged ? MERGE : null, state: merged ? 'closed' : 'open' })] : [],
    // Distinct minutes so "latest" is never a tie the rule statement would have to break.
    reviews: reviews.map((r, i) => ({ id: i + 1, reviewer: r.reviewer, state: r.state, commitId: r.onHead ? HEAD : OLD, submittedAt: `2026-11-30T09:${String(i).padStart(2, '0')}:00Z` })),
    protection: protection === null ? null : { ...PROTECTED, requiredApprovingReviewCount: protection.required, dismissStaleReviews: protection.dismissStale },
  }));

describe('CC8.1, as a property', () => {
  it('passes iff merged by a pull request, approved by enough others as their latest say on what merged, under protection requiring a review', () => {
    fc.assert(
      fc.property(arbitraryFacts, (f) => {
        const merged = f.pulls.find((p) => p.mergedAt !== null);
        const required = f.protection?.requiredApprovingReviewCount ?? 0;
        // The rule, stated plainly: each reviewer's last review that is not a comment or a draft.
        const last = new Map<string, RepoReview>();
        for (const r of f.reviews) if (r.state !== 'COMMENTED' && r.state !== 'PENDING' && r.reviewer !== null) last.set(r.reviewer, r);
        const others = [...last.values()].filter((r) => r.state === 'APPROVED' && r.reviewer !== merged?.author && (r.commitId === HEAD || f.protection?.dismissStaleReviews === true));
        const expected = merged !== undefined && f.protection !== null && required >= 1 && others.length >= Math.max(1, required);
        const judged = judgeCommit(f);
        expect(judged.outcome).toBe(expected ? 'pass' : 'fail');
        expect(judged.reasons.length === 0).toBe(expected);
        // Whoever it names as approver is never the author.
        for (const approver of judged.approvers) expect(approver).not.toBe(judged.author);
      }),
      { numRuns: 2000 },
    );
  });
});

/**
 * The GitHub adapter's change evidence, on a real Octokit whose fetch answers with GitHub's own
 * responses (test/fixtures/github, see its README for where each comes from): pull requests of a
 * commit, their reviews, branch protection; the 404 "Branch not protected" as no protection, a
 * commit pushed without a pull request as [], a malformed answer as a named permanent error, and
 * 5xx and 429 as retryable.
 */
import { readFileSync } from 'node:fs';
import { Octokit } from '@octokit/rest';
import { describe, expect, it } from 'vitest';
import { createGitHubDeploymentRepo } from '../../../shared/gcp/github-repo.js';
import { controlPlaneFailure } from '../../support/failures.js';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../../fixtures/github/${name}`, import.meta.url), 'utf8'));
const SHA = 'e5bd3914e2e596debea16f433f57875b5b90bcd6';

/** A fetch answering GitHub's way: `routes` maps `METHOD path` (no query) to a status and body. */
function github(routes: Record<string, { status: number; body: unknown } | Array<{ status: number; body: unknown }>>) {
  const seen: string[] = [];
  const fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const key = `${init?.method ?? 'GET'} ${url.pathname}`;
    seen.push(`${key}${url.search}`);
    const route = routes[key];
    const answer = Array.isArray(route) ? route.shift() : route;
    if (answer === undefined) return Promise.resolve(new Response(JSON.stringify({ message: 'Not Found' }), { status: 404, headers: { 'content-type': 'application/json' } }));
    return Promise.resolve(new Response(answer.status === 204 ? null : JSON.stringify(answer.body), { status: answer.status, headers: { 'content-type': 'application/json; charset=utf-8' } }));
  };
  // Octokit logs every failed request; the failures here are the point.
  const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  return { octokit: new Octokit({ request: { fetch }, log: quiet }), seen };
}

const repoOn = (octokit: Octokit) => createGitHubDeploymentRepo({ repository: 'octocat/Hello-World', octokit });

describe('the GitHub adapter reads change evidence', () => {
  it("lists a commit's pull requests with the fields CC8.1 reads, from GitHub's example", async () => {
    const { octokit, seen } = github({ [`GET /repos/octocat/Hello-World/commits/${SHA}/pulls`]: { status: 200, body: fixture('commit-pulls.json') } });
    const read = await (await repoOn(octokit)).pullRequestsOfCommit(SHA);
    expect(read).toEqual({
      call: `GET /repos/octocat/Hello-World/commits/${SHA}/pulls`,
      value: [
        {
          number: 1347,
          url: 'https://github.com/octocat/Hello-World/pull/1347',
          state: 'open',
          author: 'octocat',
          mergedAt: '2011-01-26T19:01:12Z',
          mergeCommitSha: SHA,
          baseRef: 'master',
          headSha: '6dcb09b5b57875f334f61aebed695e2e4193db5e',
        },
      ],
    });
    expect(seen).toEqual([`GET /repos/octocat/Hello-World/commits/${SHA}/pulls?per_page=100&page=1`]);
  });

  it('a commit pushed without a pull request lists none; a commit GitHub does not have is not-found', async () => {
    const { octokit } = github({
      [`GET /repos/octocat/Hello-World/commits/${SHA}/pulls`]: { status: 200, body: [] },
      [`GET /repos/octocat/Hello-World/commits/${'0'.repeat(40)}/pulls`]: { status: 422, body: { message: `No commit found for SHA: ${'0'.repeat(40)}`, documentation_url: 'https://docs.github.com/rest' } },
    });
    const repo = await repoOn(octokit);
    expect((await repo.pullRequestsOfCommit(SHA)).value).toEqual([]);
    const failure = await controlPlaneFailure(repo.pullRequestsOfCommit('0'.repeat(40)));
    expect([failure.code, failure.retryable]).toEqual(['not-found', false]);
  });

  it("lists a pull request's reviews, every page, oldest first", async () => {
    const [example] = fixture('pull-request-reviews.json') as Array<Record<string, unknown>>;
    // A full first page (100) and a second: every page is read.
    const page1 = Array.from({ length: 100 }, (_, i) => ({ ...example, id: 1000 + i, state: 'COMMENTED' }));
    const page2 = [{ ...example, id: 2000, user: { ...(example?.user as object), login: 'hubot' }, state: 'CHANGES_REQUESTED' }];
    const { octokit, seen } = github({
      'GET /repos/octocat/Hello-World/pulls/12/reviews': [
        { status: 200, body: page1 },
        { status: 200, body: page2 },
      ],
    });
    const read = await (await repoOn(octokit)).reviewsOf(12);
    expect(read.call).toBe('GET /repos/octocat/Hello-World/pulls/12/reviews');
    expect(read.value).toHaveLength(101);
    expect(read.value.at(-1)).toEqual({ id: 2000, reviewer: 'hubot', state: 'CHANGES_REQUESTED', commitId: 'ecdd80bb57125d7ba9641ffaa4d7d2c19d3f3091', submittedAt: '2019-11-17T17:43:43Z' });
    expect(seen).toEqual(['GET /repos/octocat/Hello-World/pulls/12/reviews?per_page=100&page=1', 'GET /repos/octocat/Hello-World/pulls/12/reviews?per_page=100&page=2']);
  });

  it("reads GitHub's example review as an APPROVED by octocat on its commit", async () => {
    const { octokit } = github({ 'GET /repos/octocat/Hello-World/pulls/12/reviews': { status: 200, body: fixture('pull-request-reviews.json') } });
    expect((await (await repoOn(octokit)).reviewsOf(12)).value).toEqual([{ id: 80, reviewer: 'octocat', state: 'APPROVED', commitId: 'ecdd80bb57125d7ba9641ffaa4d7d2c19d3f3091', submittedAt: '2019-11-17T17:43:43Z' }]);
  });

  it("reads a branch's protection as recorded from api.github.com", async () => {
    const { octokit } = github({ 'GET /repos/octocat/Hello-World/branches/main/protection': { status: 200, body: fixture('branch-protection.json') } });
    expect(await (await repoOn(octokit)).branchProtection('main')).toEqual({
      call: 'GET /repos/octocat/Hello-World/branches/main/protection',
      value: { requiredApprovingReviewCount: 1, dismissStaleReviews: true, requireCodeOwnerReviews: false, enforceAdmins: true, requiredStatusChecks: { strict: true, contexts: ['foo/bar'] } },
    });
  });

  it('a protection without required reviews has no approving count; without status checks, none', async () => {
    const recorded = fixture('branch-protection.json') as Record<string, unknown>;
    const { octokit } = github({ 'GET /repos/octocat/Hello-World/branches/main/protection': { status: 200, body: { ...recorded, required_pull_request_reviews: undefined, required_status_checks: null } } });
    expect((await (await repoOn(octokit)).branchProtection('main')).value).toMatchObject({ requiredApprovingReviewCount: null, requiredStatusChecks: null });
  });

  it('the 404 "Branch not protected" is no protection; another 404 is not', async () => {
    const { octokit } = github({
      'GET /repos/octocat/Hello-World/branches/main/protection': { status: 404, body: fixture('branch-not-protected.json') },
      'GET /repos/octocat/Hello-World/branches/gone/protection': { status: 404, body: { message: 'Branch not found', documentation_url: 'https://docs.github.com/rest' } },
    });
    const repo = await repoOn(octokit);
    expect(await repo.branchProtection('main')).toEqual({ call: 'GET /repos/octocat/Hello-World/branches/main/protection', value: null });
    expect((await controlPlaneFailure(repo.branchProtection('gone'))).code).toBe('not-found');
  });

  it('a token without administration read is told so, and not retried', async () => {
    const { octokit } = github({ 'GET /repos/octocat/Hello-World/branches/main/protection': { status: 403, body: { message: 'Resource not accessible by integration' } } });
    const failure = await controlPlaneFailure((await repoOn(octokit)).branchProtection('main'));
    expect([failure.code, failure.retryable]).toEqual(['permission-denied', false]);
    expect(failure.message).toMatch(/administration/);
  });

  it('a malformed answer is a permanent error naming the field, never a crash', async () => {
    const [example] = fixture('pull-request-reviews.json') as Array<Record<string, unknown>>;
    const { octokit } = github({
      'GET /repos/octocat/Hello-World/pulls/12/reviews': { status: 200, body: [{ ...example, state: 'LGTM' }] },
      [`GET /repos/octocat/Hello-World/commits/${SHA}/pulls`]: { status: 200, body: { message: 'not a list' } },
      'GET /repos/octocat/Hello-World/branches/main/protection': { status: 200, body: { enforce_admins: { enabled: 'yes' } } },
    });
    const repo = await repoOn(octokit);
    const failures = [await controlPlaneFailure(repo.reviewsOf(12)), await controlPlaneFailure(repo.pullRequestsOfCommit(SHA)), await controlPlaneFailure(repo.branchProtection('main'))];
    for (const failure of failures) {
      expect([failure.code, failure.retryable]).toEqual(['failed-precondition', false]);
      expect(failure.message).toMatch(/GitHub answered a shape the control plane does not read/);
    }
    expect(failures.map((f) => f.message.match(/ at (\S+):/)?.[1])).toEqual(['0.state', '(root)', 'enforce_admins.enabled']);
  });

  it('5xx and 429 are retryable', async () => {
    const { octokit } = github({
      'GET /repos/octocat/Hello-World/pulls/12/reviews': { status: 502, body: { message: 'Server Error' } },
      'GET /repos/octocat/Hello-World/branches/main/protection': { status: 429, body: { message: 'API rate limit exceeded' } },
    });
    const repo = await repoOn(octokit);
    for (const failing of [repo.reviewsOf(12), repo.branchProtection('main')]) expect((await controlPlaneFailure(failing)).retryable).toBe(true);
  });
});

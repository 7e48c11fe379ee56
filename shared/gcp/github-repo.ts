/**
 * The deployment repository on GitHub, through Octokit: files read at a commit with the contents
 * API (raw), commits compared with the compare API, every page of files read, and ordered by the
 * compare API's status. Each call has a deadline; 404 on a file of a commit GitHub has is "not
 * there" (a value), of a commit it does not have `not-found`; rate limits and 5xx are retryable.
 * The change evidence (pull requests of a commit, their reviews, branch protection) is parsed
 * with schemas: a response of another shape is a permanent error naming the field, and the 404
 * "Branch not protected" is the answer "no protection", not a failure.
 */
import type { Octokit } from '@octokit/rest';
import * as z from 'zod';
import { ControlPlaneError } from '../errors.js';
import { REVIEW_STATES, type ComparedFile, type DeploymentRepoPort, type RepoBranchProtection, type RepoPullRequest, type RepoReview } from '../ports.js';

export interface GitHubRepoOptions {
  /** owner/name */
  repository: string;
  /** A token that may read the repository's contents. */
  token?: string;
  /** An Octokit to use instead (tests). */
  octokit?: Octokit;
  deadlineMs?: number;
}

/** The compare API lists at most 3000 files, 100 a page. */
const PER_PAGE = 100;
const MAX_PAGES = 30;

function statusOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number' ? error.status : undefined;
}

function translate(error: unknown, what: string): ControlPlaneError {
  const status = statusOf(error);
  if (status === 404) return new ControlPlaneError('not-found', `${what}: not found`, { cause: error, retryable: false });
  if (status === 403 || status === 429) return new ControlPlaneError('rate-limited', `${what}: GitHub refused (${status}); retry later`, { cause: error });
  if (status === 401) return new ControlPlaneError('permission-denied', `${what}: the GitHub token was refused`, { cause: error, retryable: false });
  return new ControlPlaneError('unavailable', `${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/** The message of GitHub's error body (`{ message, documentation_url }`), as Octokit's RequestError carries it. */
function messageOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('response' in error)) return undefined;
  const data = (error as { response?: { data?: unknown } }).response?.data;
  return typeof data === 'object' && data !== null && 'message' in data && typeof data.message === 'string' ? data.message : undefined;
}

// What GitHub answers, validated: a field missing or of another type is a clear error, never a crash further on.
const login = z.object({ login: z.string() }).nullable();
const pullSchema = z.object({
  number: z.number().int(),
  html_url: z.string(),
  state: z.enum(['open', 'closed']),
  user: login,
  merged_at: z.string().nullable(),
  merge_commit_sha: z.string().nullable(),
  base: z.object({ ref: z.string() }),
  head: z.object({ sha: z.string() }),
});
const reviewSchema = z.object({
  id: z.number().int(),
  user: login,
  state: z.enum(REVIEW_STATES),
  commit_id: z.string().nullable(),
  submitted_at: z.string().optional(),
});
const enabled = z.object({ enabled: z.boolean() });
const protectionSchema = z.object({
  required_pull_request_reviews: z
    .object({ required_approving_review_count: z.number().int().optional(), dismiss_stale_reviews: z.boolean().optional(), require_code_owner_reviews: z.boolean().optional() })
    .optional(),
  enforce_admins: enabled.optional(),
  required_status_checks: z.object({ strict: z.boolean().optional(), contexts: z.array(z.string()).optional() }).nullable().optional(),
});

/** Parses what GitHub answered to `call`; a shape it should not have is a permanent, named error. */
function parsed<T extends z.ZodType>(schema: T, data: unknown, call: string): z.infer<T> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue === undefined ? '' : ` at ${issue.path.join('.') || '(root)'}: ${issue.message}`;
  throw new ControlPlaneError('failed-precondition', `${call}: GitHub answered a shape the control plane does not read${where}; the evidence cannot be taken from it`, { retryable: false, details: { call } });
}

function pullOf(data: z.infer<typeof pullSchema>): RepoPullRequest {
  return { number: data.number, url: data.html_url, state: data.state, author: data.user?.login ?? null, mergedAt: data.merged_at, mergeCommitSha: data.merge_commit_sha, baseRef: data.base.ref, headSha: data.head.sha };
}

function reviewOf(data: z.infer<typeof reviewSchema>): RepoReview {
  return { id: data.id, reviewer: data.user?.login ?? null, state: data.state, commitId: data.commit_id, submittedAt: data.submitted_at ?? null };
}

function protectionOf(data: z.infer<typeof protectionSchema>): RepoBranchProtection {
  const reviews = data.required_pull_request_reviews;
  const checks = data.required_status_checks;
  return {
    // Reviews required with no count given: GitHub's default, one.
    requiredApprovingReviewCount: reviews === undefined ? null : (reviews.required_approving_review_count ?? 1),
    dismissStaleReviews: reviews?.dismiss_stale_reviews ?? false,
    requireCodeOwnerReviews: reviews?.require_code_owner_reviews ?? false,
    enforceAdmins: data.enforce_admins?.enabled ?? false,
    requiredStatusChecks: checks === undefined || checks === null ? null : { strict: checks.strict ?? false, contexts: checks.contexts ?? [] },
  };
}

/** A DeploymentRepoPort on GitHub. */
export async function createGitHubDeploymentRepo(options: GitHubRepoOptions): Promise<DeploymentRepoPort> {
  const [owner = '', repo = ''] = options.repository.split('/');
  const deadlineMs = options.deadlineMs ?? 10_000;
  const octokit = options.octokit ?? new (await import('@octokit/rest')).Octokit(options.token === undefined ? {} : { auth: options.token });
  const request = { signal: undefined as AbortSignal | undefined };
  const signal = () => ({ ...request, signal: AbortSignal.timeout(deadlineMs) });
  /** Resolves when GitHub has the commit; `not-found` when it does not. */
  async function commitExists(ref: string): Promise<void> {
    try {
      await octokit.rest.repos.getCommit({ owner, repo, ref, mediaType: { format: 'sha' }, request: signal() });
    } catch (error) {
      // 422 is GitHub's "No commit found for SHA" for a well-formed id it does not have.
      if (statusOf(error) === 422) throw new ControlPlaneError('not-found', `no commit ${ref} in ${options.repository}`, { cause: error, retryable: false, details: { ref } });
      throw translate(error, `looking up commit ${ref}`);
    }
  }
  /** GitHub's compare takes branch names without `refs/heads/`. */
  const refName = (ref: string) => ref.replace(/^refs\/heads\//, '');
  return {
    async readFile(path, ref) {
      try {
        const response = await octokit.rest.repos.getContent({ owner, repo, path, ref, mediaType: { format: 'raw' }, request: signal() });
        return typeof response.data === 'string' ? response.data : JSON.stringify(response.data);
      } catch (error) {
        if (statusOf(error) !== 404) throw translate(error, `reading ${path} at ${ref}`);
      }
      // The contents API answers 404 both for a file not in the commit and for a commit GitHub
      // does not have (yet): only a commit that exists makes the 404 "no such file".
      await commitExists(ref);
      return undefined;
    },
    async compare(base, head) {
      const files: ComparedFile[] = [];
      for (let page = 1; page <= MAX_PAGES; page += 1) {
        let data;
        try {
          ({ data } = await octokit.rest.repos.compareCommitsWithBasehead({ owner, repo, basehead: `${base}...${head}`, per_page: PER_PAGE, page, request: signal() }));
        } catch (error) {
          throw translate(error, `comparing ${base}...${head}`);
        }
        const pageFiles = data.files ?? [];
        for (const f of pageFiles) files.push({ filename: f.filename, status: f.status, ...(f.previous_filename ? { previous_filename: f.previous_filename } : {}) });
        if (pageFiles.length < PER_PAGE) break;
      }
      return { files };
    },
    async resolve(ref) {
      try {
        const { data } = await octokit.rest.repos.getCommit({ owner, repo, ref: refName(ref), request: signal() });
        return data.sha;
      } catch (error) {
        if (statusOf(error) === 422 || statusOf(error) === 404) throw new ControlPlaneError('not-found', `no commit ${ref} in ${options.repository}`, { cause: error, retryable: false, details: { ref } });
        throw translate(error, `looking up ${ref}`);
      }
    },
    async writeFile(change) {
      // The contents API takes the blob it replaces (its sha): a file changed in between is a 409.
      let sha: string | undefined;
      try {
        const { data } = await octokit.rest.repos.getContent({ owner, repo, path: change.path, ref: change.branch, request: signal() });
        if (!Array.isArray(data) && data.type === 'file') {
          sha = data.sha;
          const text = Buffer.from(data.content, 'base64').toString('utf8');
          if (text !== change.expected) throw new ControlPlaneError('conflict', `${change.path} on ${change.branch} changed since it was read`, { details: { path: change.path } });
        }
      } catch (error) {
        if (error instanceof ControlPlaneError) throw error;
        if (statusOf(error) !== 404) throw translate(error, `reading ${change.path} on ${change.branch}`);
      }
      if (sha === undefined && change.expected !== undefined) throw new ControlPlaneError('conflict', `${change.path} is gone from ${change.branch}`, { details: { path: change.path } });
      try {
        const { data } = await octokit.rest.repos.createOrUpdateFileContents({
          owner,
          repo,
          path: change.path,
          branch: change.branch,
          message: change.message,
          content: Buffer.from(change.content, 'utf8').toString('base64'),
          ...(sha === undefined ? {} : { sha }),
          request: signal(),
        });
        return { commit: data.commit.sha ?? '' };
      } catch (error) {
        if (statusOf(error) === 409) throw new ControlPlaneError('conflict', `${change.path} on ${change.branch} changed while it was written`, { cause: error });
        throw translate(error, `writing ${change.path} on ${change.branch}`);
      }
    },
    async ancestry(base, head) {
      let data;
      try {
        ({ data } = await octokit.rest.repos.compareCommitsWithBasehead({ owner, repo, basehead: `${refName(base)}...${refName(head)}`, per_page: 1, page: 1, request: signal() }));
      } catch (error) {
        throw translate(error, `comparing ${base}...${head}`);
      }
      const status: string = data.status;
      if (status === 'ahead' || status === 'behind' || status === 'identical' || status === 'diverged') return status;
      throw new ControlPlaneError('unavailable', `comparing ${base}...${head}: GitHub answered an unknown status ${JSON.stringify(status).slice(0, 40)}`);
    },
    async pullRequestsOfCommit(commit) {
      const call = `GET /repos/${owner}/${repo}/commits/${commit}/pulls`;
      const value: RepoPullRequest[] = [];
      for (let page = 1; page <= MAX_PAGES; page += 1) {
        let data: unknown;
        try {
          ({ data } = await octokit.rest.repos.listPullRequestsAssociatedWithCommit({ owner, repo, commit_sha: commit, per_page: PER_PAGE, page, request: signal() }));
        } catch (error) {
          // 422: "No commit found for SHA" for a commit GitHub does not have.
          if (statusOf(error) === 422 || statusOf(error) === 404) throw new ControlPlaneError('not-found', `${call}: no commit ${commit} in ${options.repository}`, { cause: error, retryable: false, details: { commit } });
          throw translate(error, call);
        }
        const pulls = parsed(z.array(pullSchema), data, call);
        value.push(...pulls.map(pullOf));
        if (pulls.length < PER_PAGE) break;
      }
      return { call, value };
    },
    async reviewsOf(pullNumber) {
      const call = `GET /repos/${owner}/${repo}/pulls/${pullNumber}/reviews`;
      const value: RepoReview[] = [];
      for (let page = 1; page <= MAX_PAGES; page += 1) {
        let data: unknown;
        try {
          ({ data } = await octokit.rest.pulls.listReviews({ owner, repo, pull_number: pullNumber, per_page: PER_PAGE, page, request: signal() }));
        } catch (error) {
          throw translate(error, call);
        }
        const reviews = parsed(z.array(reviewSchema), data, call);
        value.push(...reviews.map(reviewOf));
        if (reviews.length < PER_PAGE) break;
      }
      return { call, value };
    },
    async branchProtection(branch) {
      const call = `GET /repos/${owner}/${repo}/branches/${branch}/protection`;
      let data: unknown;
      try {
        ({ data } = await octokit.rest.repos.getBranchProtection({ owner, repo, branch, request: signal() }));
      } catch (error) {
        const message = messageOf(error);
        // GitHub's answer for a branch nobody protected: a fact, not a failure.
        if (statusOf(error) === 404 && message === 'Branch not protected') return { call, value: null };
        if (statusOf(error) === 403 && !/rate limit/i.test(message ?? '')) {
          throw new ControlPlaneError('permission-denied', `${call}: GitHub refused (${message ?? '403'}); the token needs read access to the repository's administration (branch protection)`, { cause: error, retryable: false });
        }
        throw translate(error, call);
      }
      return { call, value: protectionOf(parsed(protectionSchema, data, call)) };
    },
  };
}

/**
 * The change trail of a report's period (CC8.1): every operation created in it, by type, with
 * who asked and who approved; and every commit of the deployment repository the control plane
 * applied in it (a spec change that became a lifecycle command, a module apply recorded), each
 * with its pull request, author, approvers and the base branch's protection as GitHub answers
 * through the repository port, judged by judgeCommit, with the API evidence (call, fields read,
 * values, time read).
 *
 * Cost: the period's operations, a page of 500 at a time; the audit records of the two applying
 * actions in the period (a registered query, a page of 1,000 at a time: a module change across
 * the fleet is one record per instance); per applied commit two or three GitHub calls (its pull
 * requests, that pull request's reviews), and one protection read per base branch. A transient
 * GitHub fault (5xx, 429, a deadline) is tried again a few times; a read that still fails makes
 * the commit a finding that says why, never a crash of the report.
 */
import { CHANGE_CONTROL, CHANGE_CONTROL_TEXT, judgeCommit, pullOfCommit, type CommitJudgement } from '../domain/compliance/changes.js';
import { criteriaOf, type Criteria } from '../domain/compliance/criteria.js';
import type { EvidenceValue } from '../domain/compliance/controls.js';
import type { OperationRecord } from '../domain/lifecycle/model.js';
import { describeError, isRetryable } from '../errors.js';
import type { Clock, DeploymentRepoPort, RepoBranchProtection, RepoPullRequest, RepoRead, RepoReview, StateStore } from '../ports.js';
import type { AuditRecord } from '../store/records.js';
import { COLLECTIONS } from '../store/collections.js';
import { indexedQuery } from '../topology.js';

/** The audit actions that say the control plane acted on a commit of the deployment repository. */
export const APPLYING_ACTIONS = ['deployment.change-applied', 'module-apply.recorded'] as const;

const OPERATION_PAGE = 500;
const AUDIT_PAGE = 1000;

/** One operation of the period: what, on which instance, who asked (and whose word that is), who approved. */
export interface OperationTrailRow {
  operationId: string;
  type: OperationRecord['type'];
  instanceId: string;
  status: OperationRecord['status'];
  askedBy: string;
  origin: OperationRecord['origin'];
  reason: string;
  createdAt: string;
  finishedAt: string | null;
  /** For an operation that needs a second person: who asked, who approved, when. */
  approval: OperationRecord['approval'];
  /** The deployment repository's commit it applies, when it applies one. */
  commit: string | null;
}

/** Operations of one type in the period. */
export interface OperationTypeRow {
  type: string;
  count: number;
  /** Distinct people and systems who asked. */
  askers: string[];
  /** How many needed a second person's approval, and how many had it from someone other than who asked. */
  neededApproval: number;
  approved: number;
  /** Distinct approvers. */
  approvers: string[];
  byStatus: Record<string, number>;
}

/** One call to GitHub as evidence: the call, when it was read, the fields read and their values (or the error). */
export interface ChangeRead {
  call: string;
  readAt: string;
  fields: Record<string, EvidenceValue>;
  error?: string;
}

/** One commit the control plane applied in the period, with its CC8.1 verdict and evidence. */
export interface CommitRow {
  commit: string;
  /** The first and last audit records that applied it in the period. */
  firstAppliedAt: string;
  lastAppliedAt: string;
  /** The applying actions seen, and on how many instances. */
  actions: string[];
  instances: number;
  pull: Pick<RepoPullRequest, 'number' | 'url' | 'mergedAt' | 'baseRef' | 'headSha'> | null;
  author: string | null;
  approvers: string[];
  /** The branch whose protection was read (the pull request's base, else the applied branch), and what it says; null when not protected. */
  branch: string;
  protection: RepoBranchProtection | null;
  outcome: 'pass' | 'fail';
  reasons: string[];
  evidence: ChangeRead[];
}

/** CC8.1 over the period. */
export interface ChangeSection {
  control: string;
  text: string;
  criteria: Criteria;
  period: { from: string; to: string };
  status: 'pass' | 'fail';
  operations: { byType: OperationTypeRow[]; list: OperationTrailRow[] };
  commits: CommitRow[];
}

export interface ChangeTrailOptions {
  /** The repository port; without one, every applied commit is a finding (its evidence was not read). */
  repo?: Pick<DeploymentRepoPort, 'pullRequestsOfCommit' | 'reviewsOf' | 'branchProtection'> | undefined;
  /** The branch merges are applied from (where a commit without a pull request was pushed). */
  branch?: string;
  /** Tries of a GitHub read that fails retryably, and the wait before each further try. */
  attempts?: number;
  retryDelayMs?: number;
}

/** The operations created in [from, to), oldest first, a page at a time. */
export async function operationsOfPeriod(store: StateStore, period: { from: string; to: string }, pageSize = OPERATION_PAGE): Promise<OperationRecord[]> {
  const found: OperationRecord[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.query<OperationRecord>({
      collection: COLLECTIONS.operations,
      where: [
        { field: 'createdAt', op: '>=', value: period.from },
        { field: 'createdAt', op: '<', value: period.to },
      ],
      orderBy: [{ field: 'createdAt', direction: 'asc' }],
      limit: pageSize,
      ...(after === undefined ? {} : { startAfterId: after }),
    });
    found.push(...page.map((d) => d.data));
    after = page.at(-1)?.id;
    if (page.length < pageSize || after === undefined) return found;
  }
}

/** The audit records of the applying actions in [from, to), oldest first, a page at a time (the registered query). */
export async function applyingRecords(store: StateStore, period: { from: string; to: string }, pageSize = AUDIT_PAGE): Promise<AuditRecord[]> {
  const query = indexedQuery('audit-by-action');
  const found: AuditRecord[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.query<AuditRecord>({
      collection: query.collection,
      where: [
        { field: 'action', op: 'in', value: [...APPLYING_ACTIONS] },
        { field: 'at', op: '>=', value: period.from },
        { field: 'at', op: '<', value: period.to },
      ],
      orderBy: [{ field: 'at', direction: 'asc' }],
      limit: pageSize,
      ...(after === undefined ? {} : { startAfterId: after }),
    });
    found.push(...page.map((d) => d.data));
    after = page.at(-1)?.id;
    if (page.length < pageSize || after === undefined) return found;
  }
}

function trailRow(op: OperationRecord): OperationTrailRow {
  const commit = op.params.commit;
  return {
    operationId: op.id,
    type: op.type,
    instanceId: op.instanceId,
    status: op.status,
    askedBy: op.actor,
    origin: op.origin,
    reason: op.reason,
    createdAt: op.createdAt,
    finishedAt: op.finishedAt,
    approval: op.approval,
    commit: typeof commit === 'string' ? commit : null,
  };
}

/** Operations by type: how many, who asked, how many needed and had a second person's approval. */
export function operationsByType(rows: readonly OperationTrailRow[]): OperationTypeRow[] {
  const byType = new Map<string, OperationTrailRow[]>();
  for (const row of rows) byType.set(row.type, [...(byType.get(row.type) ?? []), row]);
  return [...byType.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, ops]) => {
      const approvedByOther = ops.filter((o) => o.approval?.approvedBy != null && o.approval.approvedBy !== o.approval.requestedBy);
      const byStatus: Record<string, number> = {};
      for (const o of ops) byStatus[o.status] = (byStatus[o.status] ?? 0) + 1;
      return {
        type,
        count: ops.length,
        askers: [...new Set(ops.map((o) => o.askedBy))].sort(),
        neededApproval: ops.filter((o) => o.approval !== null).length,
        approved: approvedByOther.length,
        approvers: [...new Set(approvedByOther.map((o) => o.approval?.approvedBy ?? ''))].sort(),
        byStatus,
      };
    });
}

interface AppliedCommit {
  commit: string;
  first: string;
  last: string;
  actions: Set<string>;
  instances: Set<string>;
}

/** The commits the audit records applied, in the order first applied. */
function appliedCommits(records: readonly AuditRecord[]): AppliedCommit[] {
  const commits = new Map<string, AppliedCommit>();
  for (const r of records) {
    if (typeof r.commit !== 'string' || r.commit === '') continue;
    const c = commits.get(r.commit) ?? { commit: r.commit, first: r.at, last: r.at, actions: new Set<string>(), instances: new Set<string>() };
    if (r.at < c.first) c.first = r.at;
    if (r.at > c.last) c.last = r.at;
    c.actions.add(r.action);
    if (r.instanceId !== null) c.instances.add(r.instanceId);
    commits.set(r.commit, c);
  }
  return [...commits.values()].sort((a, b) => a.first.localeCompare(b.first) || a.commit.localeCompare(b.commit));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Reads once, and again while GitHub answers a transient fault, up to `attempts` times. */
async function withRetries<T>(read: () => Promise<T>, attempts: number, delayMs: number): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await read();
    } catch (error) {
      if (attempt >= attempts || !isRetryable(error)) throw error;
      await sleep(delayMs * attempt);
    }
  }
}

function pullFields(read: RepoRead<RepoPullRequest[]>, pull: RepoPullRequest | undefined): Record<string, EvidenceValue> {
  const fields: Record<string, EvidenceValue> = { 'pulls.length': read.value.length };
  read.value.forEach((p, i) => {
    fields[`[${i}].number`] = p.number;
    fields[`[${i}].state`] = p.state;
    fields[`[${i}].merged_at`] = p.mergedAt;
  });
  if (pull !== undefined) {
    Object.assign(fields, { number: pull.number, html_url: pull.url, 'user.login': pull.author, merged_at: pull.mergedAt, merge_commit_sha: pull.mergeCommitSha, 'base.ref': pull.baseRef, 'head.sha': pull.headSha });
  }
  return fields;
}

function reviewFields(reviews: readonly RepoReview[]): Record<string, EvidenceValue> {
  const fields: Record<string, EvidenceValue> = { 'reviews.length': reviews.length };
  reviews.forEach((r, i) => {
    fields[`[${i}].id`] = r.id;
    fields[`[${i}].user.login`] = r.reviewer;
    fields[`[${i}].state`] = r.state;
    fields[`[${i}].commit_id`] = r.commitId;
    fields[`[${i}].submitted_at`] = r.submittedAt;
  });
  return fields;
}

function protectionFields(protection: RepoBranchProtection | null): Record<string, EvidenceValue> {
  if (protection === null) return { protected: false };
  return {
    protected: true,
    'required_pull_request_reviews.required_approving_review_count': protection.requiredApprovingReviewCount,
    'required_pull_request_reviews.dismiss_stale_reviews': protection.dismissStaleReviews,
    'required_pull_request_reviews.require_code_owner_reviews': protection.requireCodeOwnerReviews,
    'enforce_admins.enabled': protection.enforceAdmins,
    'required_status_checks.strict': protection.requiredStatusChecks?.strict ?? null,
    'required_status_checks.contexts': protection.requiredStatusChecks === null ? null : protection.requiredStatusChecks.contexts.join(','),
  };
}

/** Reads and judges one applied commit; a read that fails for good is the commit's finding. */
async function judgeApplied(
  applied: AppliedCommit,
  repo: NonNullable<ChangeTrailOptions['repo']>,
  protections: Map<string, Promise<RepoRead<RepoBranchProtection | null>>>,
  clock: Clock,
  options: Required<Omit<ChangeTrailOptions, 'repo'>>,
): Promise<CommitRow> {
  const evidence: ChangeRead[] = [];
  const base = { commit: applied.commit, firstAppliedAt: applied.first, lastAppliedAt: applied.last, actions: [...applied.actions].sort(), instances: applied.instances.size };
  let call = `GET …/commits/${applied.commit}/pulls`;
  let branch = options.branch;
  try {
    const pulls = await withRetries(() => repo.pullRequestsOfCommit(applied.commit), options.attempts, options.retryDelayMs);
    call = pulls.call;
    const facts = { commit: applied.commit, pulls: pulls.value, reviews: [] as RepoReview[], protection: null as RepoBranchProtection | null };
    const pull = pullOfCommit(applied.commit, pulls.value);
    evidence.push({ call: pulls.call, readAt: clock.now().toISOString(), fields: pullFields(pulls, pull) });
    if (pull !== undefined) {
      call = `GET …/pulls/${pull.number}/reviews`;
      const reviews = await withRetries(() => repo.reviewsOf(pull.number), options.attempts, options.retryDelayMs);
      evidence.push({ call: reviews.call, readAt: clock.now().toISOString(), fields: reviewFields(reviews.value) });
      facts.reviews = reviews.value;
      branch = pull.baseRef;
    }
    call = `GET …/branches/${branch}/protection`;
    let protection = protections.get(branch);
    if (protection === undefined) {
      protection = withRetries(() => repo.branchProtection(branch), options.attempts, options.retryDelayMs);
      protections.set(branch, protection);
    }
    const read = await protection;
    evidence.push({ call: read.call, readAt: clock.now().toISOString(), fields: protectionFields(read.value) });
    facts.protection = read.value;
    const judged: CommitJudgement = judgeCommit(facts);
    return {
      ...base,
      pull: judged.pull === null ? null : { number: judged.pull.number, url: judged.pull.url, mergedAt: judged.pull.mergedAt, baseRef: judged.pull.baseRef, headSha: judged.pull.headSha },
      author: judged.author,
      approvers: judged.approvers,
      branch,
      protection: read.value,
      outcome: judged.outcome,
      reasons: judged.reasons,
      evidence,
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : describeError(error);
    evidence.push({ call, readAt: clock.now().toISOString(), fields: {}, error: message });
    return { ...base, pull: null, author: null, approvers: [], branch, protection: null, outcome: 'fail', reasons: [`the change evidence could not be read: ${message}`], evidence };
  }
}

/** The change trail and CC8.1 judgement of [from, to). */
export async function changeSection(store: StateStore, clock: Clock, period: { from: string; to: string }, options: ChangeTrailOptions = {}): Promise<ChangeSection> {
  const settings = { branch: options.branch ?? 'main', attempts: options.attempts ?? 3, retryDelayMs: options.retryDelayMs ?? 500 };
  const list = (await operationsOfPeriod(store, period)).map(trailRow);
  const applied = appliedCommits(await applyingRecords(store, period));
  const protections = new Map<string, Promise<RepoRead<RepoBranchProtection | null>>>();
  const commits: CommitRow[] = [];
  const repo = options.repo;
  for (const commit of applied) {
    if (repo === undefined) {
      const reason = 'no reader of the deployment repository was given to the report: its pull request, reviews and protection were not read';
      commits.push({ commit: commit.commit, firstAppliedAt: commit.first, lastAppliedAt: commit.last, actions: [...commit.actions].sort(), instances: commit.instances.size, pull: null, author: null, approvers: [], branch: settings.branch, protection: null, outcome: 'fail', reasons: [reason], evidence: [] });
      continue;
    }
    // One commit at a time: a period holds a few merges, and GitHub's secondary rate limits punish bursts.
    commits.push(await judgeApplied(commit, repo, protections, clock, settings));
  }
  return {
    control: CHANGE_CONTROL,
    text: CHANGE_CONTROL_TEXT,
    criteria: criteriaOf(CHANGE_CONTROL),
    period,
    status: commits.every((c) => c.outcome === 'pass') ? 'pass' : 'fail',
    operations: { byType: operationsByType(list), list },
    commits,
  };
}

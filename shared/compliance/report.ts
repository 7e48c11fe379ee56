/**
 * What a run found, derived from its plan and its findings (never a counter incremented per
 * check, so no hot document). A run is complete only when it is done, its plan covers every
 * instance id, and the planned and checked id SETS are equal: the report names every instance
 * planned but not checked (a failure of its own) and every one checked but not planned.
 *
 * Cost at 10,000 instances: the plan pages (about 20 documents of ids), the finding ids (ids
 * only, in pages of 1,000), two count queries and one read for the summary; a report adds every
 * finding once (its population, in pages of 1,000: the failures are taken from the same read) and
 * the drills of the last 30 days. The trend uses count queries where counts suffice.
 */
import { createHash } from 'node:crypto';
import { ACCESS_CONTROL, ACCESS_CONTROL_TEXT, DRILL_CONTROL, DRILL_CONTROL_TEXT, INSTANCE_CONTROL_IDS, controlText, type ControlResult } from '../domain/compliance/controls.js';
import type { OperationRecord } from '../domain/lifecycle/model.js';
import type { DatabaseDrill } from '../domain/compliance/database-drill.js';
import { criteriaOf, type Criteria } from '../domain/compliance/criteria.js';
import { verdictOf, type Verdict } from '../domain/compliance/verdict.js';
import { daysWithoutRun } from '../domain/compliance/days.js';
import { compareIdSets, completenessProblems, verifyPlan, type Coverage, type PlanVerdict } from '../domain/compliance/plan.js';
import { systemClock, type Clock, type StateStore } from '../ports.js';
import { indexedQuery } from '../topology.js';
import { SCHEDULES_FINDING_ID, type ComplianceRun, type Finding, type PlanPage, type RunSummary } from './model.js';
import { COLLECTIONS, compliancePaths } from '../store/collections.js';
import type { AccessGrantRecord, AccessReviewRecord } from './access.js';
import { changeSection, type ChangeSection, type ChangeTrailOptions } from './changes.js';

const DAY_MS = 86_400_000;
/** Finding ids per page of the id-only query. */
const FINDING_ID_PAGE = 1000;
/** Ids kept in a summary (stored on the run, sent in alerts); the report names all. */
export const SUMMARY_ID_LIMIT = 50;

/** The ids of a run's instance findings, ids only, paged (the schedules' finding left out). */
export async function checkedInstanceIds(store: StateStore, runId: string, pageSize = FINDING_ID_PAGE): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.queryIds({ collection: compliancePaths.findings(runId), limit: pageSize, ...(after === undefined ? {} : { startAfterId: after }) });
    ids.push(...page.filter((id) => id !== SCHEDULES_FINDING_ID));
    after = page.at(-1);
    if (page.length < pageSize || after === undefined) return ids;
  }
}

/** Every instance finding of a run, in id order, read a page at a time. */
export async function instanceFindings(store: StateStore, runId: string, pageSize = FINDING_ID_PAGE): Promise<Finding[]> {
  const found: Finding[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.query<Finding>({ collection: compliancePaths.findings(runId), limit: pageSize, ...(after === undefined ? {} : { startAfterId: after }) });
    found.push(...page.filter((d) => d.id !== SCHEDULES_FINDING_ID).map((d) => d.data));
    after = page.at(-1)?.id;
    if (page.length < pageSize || after === undefined) return found;
  }
}

/** What a run's stored plan and findings say, compared as id sets. */
export interface RunCoverage {
  plan: PlanVerdict;
  coverage: Coverage;
}

/** Reads a run's plan pages and finding ids and compares them. */
export async function coverageOfRun(store: StateStore, runId: string): Promise<RunCoverage> {
  const [pages, checked] = await Promise.all([store.query<PlanPage>({ collection: compliancePaths.planPages(runId) }), checkedInstanceIds(store, runId)]);
  const plan = verifyPlan(pages.map((p) => p.data));
  return { plan, coverage: compareIdSets(plan.ids, checked) };
}

/** The summary of a run from its coverage, two count queries and the schedules' finding. */
async function summaryFrom(store: StateStore, run: ComplianceRun, covered: RunCoverage, now: Date): Promise<RunSummary> {
  const findings = compliancePaths.findings(run.runId);
  const failing = indexedQuery('failed-findings-of-run');
  const [failed, skipped, schedules] = await Promise.all([
    store.count({ collection: findings, where: [{ field: failing.fields[0].field, op: '==', value: 'instance' }, { field: failing.fields[1].field, op: '==', value: 'fail' }] }),
    store.count({ collection: findings, where: [{ field: 'kind', op: '==', value: 'instance' }, { field: 'outcome', op: '==', value: 'skipped' }] }),
    store.get<Finding>(compliancePaths.finding(run.runId, SCHEDULES_FINDING_ID)),
  ]);
  const { plan, coverage } = covered;
  const problems = completenessProblems({ status: run.status, recordedPlanned: run.planned, plan, coverage });
  return {
    planned: coverage.planned,
    checked: coverage.checked,
    passed: coverage.checked - failed - skipped,
    failed,
    skipped,
    notChecked: coverage.plannedNotChecked.length,
    notPlanned: coverage.checkedNotPlanned.length,
    notCheckedIds: coverage.plannedNotChecked.slice(0, SUMMARY_ID_LIMIT),
    notPlannedIds: coverage.checkedNotPlanned.slice(0, SUMMARY_ID_LIMIT),
    complete: problems.length === 0,
    problems,
    schedules: schedules === undefined ? 'missing' : schedules.outcome === 'pass' ? 'pass' : 'fail',
    computedAt: now.toISOString(),
  };
}

/** The summary of a run: its planned and checked id sets compared, and its counts. */
export async function summarizeRun(store: StateStore, run: ComplianceRun, now: Date): Promise<RunSummary> {
  return summaryFrom(store, run, await coverageOfRun(store, run.runId), now);
}

/**
 * A stored summary still holds when it was computed after the run was done and the run has as
 * many instance findings as then: plans are final once done, and findings are only ever added.
 */
async function storedSummaryHolds(store: StateStore, run: ComplianceRun): Promise<boolean> {
  const summary = run.summary;
  // A summary stored by an older version has no notPlanned: it compared counts, not id sets.
  if (summary === null || (summary as Partial<RunSummary>).notPlanned === undefined || run.status !== 'done' || run.doneAt === null || summary.computedAt < run.doneAt) return false;
  const checked = await store.count({ collection: compliancePaths.findings(run.runId), where: [{ field: 'kind', op: '==', value: 'instance' }] });
  return checked === summary.checked;
}

export interface ControlRow {
  control: string;
  text: string;
  /** Instances judged on it (a prod instance is not judged on dev expiry). */
  checked: number;
  failed: number;
  blocked: number;
  passed: number;
  /** The criteria it serves (SOC2 control ids, Trust Services Criteria). */
  criteria: Criteria;
}

export interface FailureRow {
  instanceId: string;
  environment: string | null;
  region: string | null;
  /** The failing or unjudged controls, with evidence; empty for an instance never checked. */
  controls: ControlResult[];
  remediation: Finding['remediation'];
  /** Set when the instance was planned but never checked. */
  notChecked?: true;
}

/** One planned instance as the report lists it: its outcome and every control with its evidence (the API call, the fields read, their values), and when. */
export interface PopulationRow {
  instanceId: string;
  environment: string | null;
  tier: string | null;
  region: string | null;
  outcome: Finding['outcome'] | 'not-checked';
  checkedAt: string | null;
  controls: ControlResult[];
}

/** How many passes the readable forms show with their evidence, drawn by digest so anyone can redraw them. */
export const PASS_SAMPLE_SIZE = 25;

/** The passes an auditor traces: ordered by SHA-256 of run id and instance id (not chosen by whoever ran it), the first `size`. */
export function passSample(runId: string, population: readonly PopulationRow[], size = PASS_SAMPLE_SIZE): PopulationRow[] {
  const key = (id: string) => createHash('sha256').update(`${runId}\u0000${id}`).digest('hex');
  return population
    .filter((p) => p.outcome === 'pass')
    .map((p) => ({ p, k: key(p.instanceId) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .slice(0, size)
    .map(({ p }) => p);
}

export interface TrendRow {
  runId: string;
  trigger: ComplianceRun['trigger'];
  slotStart: string;
  summary: RunSummary;
}

/** What makes a report this report: who made it, from what, over when, and the digest of its JSON form. */
export interface ReportIdentity {
  tool: 'mi';
  version: string;
  /** The control plane's commit the report was made by ('unknown' outside a checkout or build that says). */
  commit: string;
  project: string;
  period: { from: string; to: string };
  generatedAt: string;
  /** SHA-256 (hex) of the report's JSON with this field empty (reportDigest). */
  digest: string;
}

export interface ComplianceReport {
  identity: ReportIdentity;
  /** One verdict that agrees with every section (verdictOf). */
  verdict: Verdict;
  generatedAt: string;
  run: Pick<ComplianceRun, 'runId' | 'schedule' | 'trigger' | 'slotStart' | 'slotEnd' | 'asOf' | 'status' | 'createdAt' | 'doneAt' | 'requestedBy'>;
  summary: RunSummary;
  /** Every instance planned but not checked, and every one checked but not planned, in id order. */
  coverage: { plannedNotChecked: string[]; checkedNotPlanned: string[] };
  /** Every planned instance (and any checked unplanned), with its evidence, in id order: the population an auditor samples from. */
  population: PopulationRow[];
  controls: ControlRow[];
  failures: FailureRow[];
  schedules: { outcome: Finding['outcome'] | 'missing'; controls: ControlResult[] };
  access: AccessSection;
  drills: DrillSection;
  trend: TrendRow[];
  /** Days of the trend, from its first run through this run's day, with no verify-backups run: each a finding. */
  daysWithoutRun: string[];
  /** CC8.1 over the period: operations by type with who asked and approved, and every applied commit's review evidence. */
  changes: ChangeSection;
}

/** One restore drill: which instance, how it ended, and each step (the evidence is on the operation: `mi op get <id>`). */
export interface DrillRow {
  operationId: string;
  instanceId: string;
  status: OperationRecord['status'];
  requestedAt: string;
  finishedAt: string | null;
  failure: OperationRecord['failure'];
  steps: Array<{ name: string; status: string }>;
}

/** A1.3: the drills of the last 30 days, and what is not drilled at all. */
export interface DrillSection {
  control: string;
  text: string;
  criteria: Criteria;
  since: string;
  status: 'pass' | 'fail' | 'none';
  sql: DrillRow[];
  gke: { drilled: false; finding: string };
  /** The control plane's own Firestore: backed up on schedule (infra/firestore.ts), a backup restored and compared weekly (drill-database). */
  database: DatabaseDrillSection;
}

/** One drill of the control plane's database: the backup restored, what was compared and found, the scratch database's end. */
export interface DatabaseDrillRow {
  drillId: string;
  startedAt: string;
  backup: DatabaseDrill['backup'];
  databaseId: string;
  phase: DatabaseDrill['phase'];
  outcome: DatabaseDrill['outcome'];
  deletedAt: string | null;
}

export interface DatabaseDrillSection {
  /** A drill of it ended in the last 30 days. */
  drilled: boolean;
  status: 'pass' | 'fail' | 'none';
  backups: string;
  /** The drills of the last 30 days, newest first. */
  drills: DatabaseDrillRow[];
  /** DATABASE_NOT_DRILLED while no drill ended in the last 30 days; null once one did. */
  finding: string | null;
}

/** Said until the executor restores GKE backups into a scratch cluster of its own for a drill. */
export const GKE_NOT_DRILLED = 'GKE restores are not drilled: no drill restores a Backup for GKE backup, so recovery of the clusters is untested (A1.3 is met for Cloud SQL only)';

/** Said while no drill (drill-database) restored a scheduled backup of the control plane's Firestore and compared it in the last 30 days. */
export const DATABASE_NOT_DRILLED =
  "The control plane's own database is backed up (daily, kept 7 days; weekly, kept 14 weeks; point-in-time recovery 7 days) but no restore drill of it ended in the last 30 days: recovery of the audit trail and the fleet's records is untested for the period";

const DATABASE_BACKUPS = 'daily kept 7 days, weekly kept 14 weeks, point-in-time recovery 7 days';

/** The drills of the control plane's database of the last 30 days: the latest ended one decides (a failure fixed by a later pass is history, shown). */
async function databaseDrillSection(store: StateStore, since: string): Promise<DatabaseDrillSection> {
  const drills = (await store.query<DatabaseDrill>({ collection: COLLECTIONS.databaseDrills, where: [{ field: 'startedAt', op: '>=', value: since }], orderBy: [{ field: 'startedAt', direction: 'desc' }], limit: 100 })).map((d) => d.data);
  const rows = drills.map((d) => ({ drillId: d.drillId, startedAt: d.startedAt, backup: d.backup, databaseId: d.databaseId, phase: d.phase, outcome: d.outcome, deletedAt: d.deletedAt }));
  const ended = rows.filter((d) => d.outcome !== null);
  const status = ended.some((d) => d.outcome?.result === 'fail') ? 'fail' : ended.length === 0 ? 'none' : 'pass';
  return { drilled: ended.length > 0, status, backups: DATABASE_BACKUPS, drills: rows, finding: ended.length === 0 ? DATABASE_NOT_DRILLED : null };
}

/** At most this many drill operations are read (a weekly sample of a few instances; far more than 30 days hold). */
const DRILLS_READ = 500;

export async function drillSection(store: StateStore, now: Date): Promise<DrillSection> {
  const since = new Date(now.getTime() - 30 * DAY_MS).toISOString();
  const drills = (await store.query<OperationRecord>({ collection: COLLECTIONS.operations, where: [{ field: 'type', op: '==', value: 'restore-drill' }], limit: DRILLS_READ }))
    .map((d) => d.data)
    .filter((op) => op.createdAt >= since)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const ended = drills.filter((op) => op.status !== 'running' && op.status !== 'accepted');
  const rows = drills.map((op) => ({ operationId: op.id, instanceId: op.instanceId, status: op.status, requestedAt: op.createdAt, finishedAt: op.finishedAt, failure: op.failure, steps: op.steps.map((s) => ({ name: s.name, status: s.status })) }));
  const status = ended.some((op) => op.status !== 'succeeded') ? 'fail' : ended.length === 0 ? 'none' : 'pass';
  return { control: DRILL_CONTROL, text: DRILL_CONTROL_TEXT, criteria: criteriaOf(DRILL_CONTROL), since, status, sql: rows, gke: { drilled: false, finding: GKE_NOT_DRILLED }, database: await databaseDrillSection(store, since) };
}

/** The access control: the latest access review's findings, and every grant of the last 30 days with who asked, why, who approved, and when it held. */
export interface AccessSection {
  control: string;
  text: string;
  criteria: Criteria;
  status: 'pass' | 'fail';
  problems: string[];
  review: { runId: string; at: string; findings: string[] } | null;
  grants: AccessGrantRecord[];
}

/** A review older than this (three missed 15-minute slots) does not vouch for now. */
const ACCESS_REVIEW_MAX_AGE_MS = 60 * 60_000;

export async function accessSection(store: StateStore, now: Date): Promise<AccessSection> {
  const [latest] = await store.query<AccessReviewRecord>({ collection: COLLECTIONS.accessReviews, orderBy: [{ field: 'at', direction: 'desc' }], limit: 1 });
  const since = new Date(now.getTime() - 30 * DAY_MS).toISOString();
  const grants = (await store.query<AccessGrantRecord>({ collection: COLLECTIONS.accessGrants, where: [{ field: 'updatedAt', op: '>=', value: since }], orderBy: [{ field: 'updatedAt', direction: 'desc' }], limit: 1000 })).map((d) => d.data);
  const problems: string[] = [];
  if (latest === undefined) problems.push('no access review has run: grants and bindings were not checked');
  else if (now.getTime() - Date.parse(latest.data.at) > ACCESS_REVIEW_MAX_AGE_MS) problems.push(`the latest access review (${latest.data.runId}, ${latest.data.at}) is over an hour old`);
  problems.push(...(latest?.data.findings ?? []).map((f) => f.detail));
  for (const g of grants) {
    if (!g.entitlement.startsWith('prod-') || g.breakglass || g.start === null) continue;
    if (g.approvedBy === null || g.approvedBy === g.requester) problems.push(`grant ${g.grant} gave ${g.requester} prod access without another person's approval`);
  }
  return {
    control: ACCESS_CONTROL,
    text: ACCESS_CONTROL_TEXT,
    criteria: criteriaOf(ACCESS_CONTROL),
    status: problems.length === 0 ? 'pass' : 'fail',
    problems,
    review: latest === undefined ? null : { runId: latest.data.runId, at: latest.data.at, findings: latest.data.findings.map((f) => f.detail) },
    grants,
  };
}

/** The runs of verify-backups from `since`, newest first (the registered query). */
export async function recentRuns(store: StateStore, since: Date, limit = 60): Promise<ComplianceRun[]> {
  const query = indexedQuery('compliance-runs-by-schedule');
  const docs = await store.query<ComplianceRun>({
    collection: query.collection,
    where: [
      { field: 'schedule', op: '==', value: 'verify-backups' },
      { field: 'slotStart', op: '>=', value: since.toISOString() },
    ],
    orderBy: [{ field: 'slotStart', direction: 'desc' }],
    limit,
  });
  return docs.map((d) => d.data);
}

/** The run of a report: by id, or the latest verify-backups run whose slot starts on a date (UTC), or the latest of all. */
export async function findRun(store: StateStore, selector: { runId?: string; date?: string }, now: Date): Promise<ComplianceRun | undefined> {
  if (selector.runId !== undefined) return store.get<ComplianceRun>(compliancePaths.run(selector.runId));
  if (selector.date !== undefined) {
    const from = new Date(`${selector.date}T00:00:00Z`);
    const runs = await recentRuns(store, from, 50);
    return runs.find((r) => r.slotStart < new Date(from.getTime() + DAY_MS).toISOString());
  }
  return (await recentRuns(store, new Date(now.getTime() - 365 * DAY_MS), 1))[0];
}

/** The report of one verify-backups run: per control, each failure with its evidence, the 30-day trend. */
/** SHA-256 of a report's JSON form with its digest field empty: what `identity.digest` holds, and how a reader checks it. */
export function reportDigest(report: ComplianceReport): string {
  return createHash('sha256')
    .update(JSON.stringify({ ...report, identity: { ...report.identity, digest: '' } }))
    .digest('hex');
}

export async function buildReport(
  store: StateStore,
  run: ComplianceRun,
  now: Date,
  maker: { version: string; commit: string; project: string } = { version: '0.0.0', commit: 'unknown', project: 'unknown' },
  /** The deployment repository's reader for CC8.1 (without one, every applied commit is a finding). */
  changeTrail: ChangeTrailOptions & { clock?: Clock } = {},
): Promise<ComplianceReport> {
  const covered = await coverageOfRun(store, run.runId);
  const summary = await summaryFrom(store, run, covered, now);
  // Every finding once: the population, and the failures among them.
  const findings = await instanceFindings(store, run.runId);
  const failing = findings.filter((f) => f.kind === 'instance' && f.outcome === 'fail').map((data) => ({ id: data.instanceId ?? '', data }));
  const judgedOnExpiry = await store.count({ collection: compliancePaths.findings(run.runId), where: [{ field: 'environment', op: '==', value: 'dev' }] });
  const judged = summary.checked - summary.skipped;
  const controls: ControlRow[] = INSTANCE_CONTROL_IDS.map((control) => {
    const checked = control === 'dev.expiry' ? judgedOnExpiry : judged;
    const failed = failing.filter((f) => f.data.failedControls.includes(control)).length;
    const blocked = failing.filter((f) => f.data.blockedControls.includes(control)).length;
    return { control, text: controlText(control), checked, failed, blocked, passed: checked - failed - blocked, criteria: criteriaOf(control) };
  });
  const failures: FailureRow[] = failing
    .map((f) => ({
      instanceId: f.data.instanceId ?? f.id,
      environment: f.data.environment,
      region: f.data.region,
      controls: f.data.controls.filter((c) => c.status === 'fail' || c.status === 'blocked'),
      remediation: f.data.remediation,
    }))
    .sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  for (const id of covered.coverage.plannedNotChecked) {
    failures.push({ instanceId: id, environment: null, region: null, controls: [], remediation: null, notChecked: true });
  }
  const schedules = await store.get<Finding>(compliancePaths.finding(run.runId, SCHEDULES_FINDING_ID));
  const access = await accessSection(store, now);
  const drills = await drillSection(store, now);
  const trendRuns = await recentRuns(store, new Date(now.getTime() - 30 * DAY_MS));
  const trend: TrendRow[] = [];
  for (const r of trendRuns) {
    // A run whose stored summary still holds (one count query says so) keeps it; any other is compared now.
    const s = r.runId === run.runId ? summary : r.summary !== null && (await storedSummaryHolds(store, r)) ? r.summary : await summarizeRun(store, r, now);
    trend.push({ runId: r.runId, trigger: r.trigger, slotStart: r.slotStart, summary: s });
  }
  const population: PopulationRow[] = findings.map((f) => ({
    instanceId: f.instanceId ?? '',
    environment: f.environment,
    tier: f.tier,
    region: f.region,
    outcome: f.outcome,
    checkedAt: f.checkedAt,
    controls: f.controls,
  }));
  for (const id of covered.coverage.plannedNotChecked) population.push({ instanceId: id, environment: null, tier: null, region: null, outcome: 'not-checked', checkedAt: null, controls: [] });
  population.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  const scheduleControls = schedules?.controls ?? [];
  const changes = await changeSection(store, changeTrail.clock ?? systemClock, { from: run.slotStart, to: run.slotEnd }, changeTrail);
  const missingDays = daysWithoutRun([...trendRuns.map((r) => r.slotStart), run.slotStart], new Date(run.slotStart));
  const verdict = verdictOf({
    complete: summary.complete,
    problems: summary.problems,
    instanceFailures: failures.filter((f) => f.notChecked !== true).length,
    notChecked: covered.coverage.plannedNotChecked.length,
    notPlanned: covered.coverage.checkedNotPlanned.length,
    schedules: schedules?.outcome === 'pass' ? 'pass' : schedules === undefined ? 'missing' : 'fail',
    failingSchedules: scheduleControls.filter((c) => c.status !== 'pass').map((c) => c.control),
    access: access.status,
    drills: drills.status,
    databaseDrills: drills.database.status,
    gaps: [drills.gke.finding, ...(drills.database.finding === null ? [] : [drills.database.finding])],
    daysWithoutRun: missingDays,
    failingCommits: changes.commits.filter((c) => c.outcome === 'fail').map((c) => c.commit),
  });
  const report: ComplianceReport = {
    identity: { tool: 'mi', version: maker.version, commit: maker.commit, project: maker.project, period: { from: run.slotStart, to: run.slotEnd }, generatedAt: now.toISOString(), digest: '' },
    verdict,
    generatedAt: now.toISOString(),
    run: {
      runId: run.runId,
      schedule: run.schedule,
      trigger: run.trigger,
      slotStart: run.slotStart,
      slotEnd: run.slotEnd,
      asOf: run.asOf,
      status: run.status,
      createdAt: run.createdAt,
      doneAt: run.doneAt,
      requestedBy: run.requestedBy,
    },
    summary,
    coverage: { plannedNotChecked: covered.coverage.plannedNotChecked, checkedNotPlanned: covered.coverage.checkedNotPlanned },
    population,
    controls,
    failures,
    schedules: { outcome: schedules?.outcome ?? 'missing', controls: schedules?.controls ?? [] },
    access,
    drills,
    trend,
    daysWithoutRun: missingDays,
    changes,
  };
  report.identity.digest = reportDigest(report);
  return report;
}

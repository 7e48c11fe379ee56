/**
 * What a run found, derived from its findings with aggregation queries (never a counter
 * incremented per check, so no hot document): instances planned, checked, passed, failed; a
 * run is complete when findings cover every planned instance, and every planned instance
 * without a finding is reported as a failure of its own.
 */
import { INSTANCE_CONTROL_IDS, controlText, type ControlResult } from '../domain/compliance/controls.js';
import type { StateStore } from '../ports.js';
import { indexedQuery } from '../topology.js';
import { compliancePaths, SCHEDULES_FINDING_ID, type ComplianceRun, type Finding, type PlanPage, type RunSummary } from './model.js';

const DAY_MS = 86_400_000;

/** The counts of a run, from its findings (three aggregation queries and one read). */
export async function summarizeRun(store: StateStore, run: ComplianceRun, now: Date): Promise<RunSummary> {
  const findings = compliancePaths.findings(run.runId);
  const failing = indexedQuery('failed-findings-of-run');
  const [checked, failed, skipped, schedules] = await Promise.all([
    store.count({ collection: findings, where: [{ field: 'kind', op: '==', value: 'instance' }] }),
    store.count({ collection: findings, where: [{ field: failing.fields[0].field, op: '==', value: 'instance' }, { field: failing.fields[1].field, op: '==', value: 'fail' }] }),
    store.count({ collection: findings, where: [{ field: 'kind', op: '==', value: 'instance' }, { field: 'outcome', op: '==', value: 'skipped' }] }),
    store.get<Finding>(compliancePaths.finding(run.runId, SCHEDULES_FINDING_ID)),
  ]);
  const planned = run.planned ?? checked;
  const notChecked = Math.max(0, planned - checked);
  return {
    planned,
    checked,
    passed: checked - failed - skipped,
    failed,
    skipped,
    notChecked,
    complete: run.status === 'done' && notChecked === 0,
    schedules: schedules === undefined ? 'missing' : schedules.outcome === 'pass' ? 'pass' : 'fail',
    computedAt: now.toISOString(),
  };
}

/** Planned instances without a finding (read only when the counts say some are missing). */
export async function uncheckedInstances(store: StateStore, runId: string): Promise<string[]> {
  const pages = await store.query<PlanPage>({ collection: compliancePaths.planPages(runId) });
  const found = new Set(await store.queryIds({ collection: compliancePaths.findings(runId), where: [{ field: 'kind', op: '==', value: 'instance' }] }));
  return pages.flatMap((page) => page.data.ids).filter((id) => !found.has(id));
}

export interface ControlRow {
  control: string;
  text: string;
  /** Instances judged on it (a prod instance is not judged on dev expiry). */
  checked: number;
  failed: number;
  blocked: number;
  passed: number;
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

export interface TrendRow {
  runId: string;
  trigger: ComplianceRun['trigger'];
  slotStart: string;
  summary: RunSummary;
}

export interface ComplianceReport {
  generatedAt: string;
  run: Pick<ComplianceRun, 'runId' | 'schedule' | 'trigger' | 'slotStart' | 'slotEnd' | 'asOf' | 'status' | 'createdAt' | 'doneAt' | 'requestedBy'>;
  summary: RunSummary;
  controls: ControlRow[];
  failures: FailureRow[];
  schedules: { outcome: Finding['outcome'] | 'missing'; controls: ControlResult[] };
  trend: TrendRow[];
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
export async function buildReport(store: StateStore, run: ComplianceRun, now: Date): Promise<ComplianceReport> {
  const summary = await summarizeRun(store, run, now);
  const failing = await store.query<Finding>({
    collection: compliancePaths.findings(run.runId),
    where: [
      { field: 'kind', op: '==', value: 'instance' },
      { field: 'outcome', op: '==', value: 'fail' },
    ],
  });
  const judgedOnExpiry = await store.count({ collection: compliancePaths.findings(run.runId), where: [{ field: 'environment', op: '==', value: 'dev' }] });
  const judged = summary.checked - summary.skipped;
  const controls: ControlRow[] = INSTANCE_CONTROL_IDS.map((control) => {
    const checked = control === 'dev.expiry' ? judgedOnExpiry : judged;
    const failed = failing.filter((f) => f.data.failedControls.includes(control)).length;
    const blocked = failing.filter((f) => f.data.blockedControls.includes(control)).length;
    return { control, text: controlText(control), checked, failed, blocked, passed: checked - failed - blocked };
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
  if (summary.notChecked > 0) {
    for (const id of await uncheckedInstances(store, run.runId)) {
      failures.push({ instanceId: id, environment: null, region: null, controls: [], remediation: null, notChecked: true });
    }
  }
  const schedules = await store.get<Finding>(compliancePaths.finding(run.runId, SCHEDULES_FINDING_ID));
  const trendRuns = await recentRuns(store, new Date(now.getTime() - 30 * DAY_MS));
  const trend: TrendRow[] = [];
  for (const r of trendRuns) {
    // A run the daily report summarized keeps its summary; a newer one is counted now.
    const s = r.runId === run.runId ? summary : r.summary?.complete === true ? r.summary : await summarizeRun(store, r, now);
    trend.push({ runId: r.runId, trigger: r.trigger, slotStart: r.slotStart, summary: s });
  }
  return {
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
    controls,
    failures,
    schedules: { outcome: schedules?.outcome ?? 'missing', controls: schedules?.controls ?? [] },
    trend,
  };
}

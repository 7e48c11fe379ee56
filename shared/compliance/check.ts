/**
 * The per-instance check of a run: read what Cloud SQL and Backup for GKE say of the instance,
 * judge every control (shared/domain/compliance), ask for a remediation of drift that is safe
 * to fix, and write exactly one finding. A redelivery finds the finding and stops: one read of
 * the instance, one write of the finding, whatever the APIs answered.
 */
import { checkCloudSql, checkExpiry, checkGke, checkSchedules, outcomeOf } from '../domain/compliance/checks.js';
import { SAFE_TO_FIX, type ControlResult } from '../domain/compliance/controls.js';
import { deterministicEventId } from '../domain/compliance/run-key.js';
import { operationIdFor } from '../domain/lifecycle/operations.js';
import { ControlPlaneError } from '../errors.js';
import { makeEnvelope, type InstanceRecord } from '../events/index.js';
import type { GkeBackup, Page, SqlBackupRun } from '../ports.js';
import { TOPICS } from '../topology.js';
import { SCHEDULES_FINDING_ID, type ComplianceDeps, type Finding } from './model.js';
import { compliancePaths, paths } from '../store/collections.js';
import { recordExpiry } from '../store/records.js';

/** Pages read of a list: backup runs are newest first (two pages reach well past 26 hours); GKE backups come in name order. */
const SQL_RUN_PAGES = 2;
const GKE_BACKUP_PAGES = 10;

function isNotFound(error: unknown): boolean {
  return error instanceof ControlPlaneError && error.code === 'not-found';
}

async function listSqlRuns(deps: ComplianceDeps, project: string, instance: string): Promise<SqlBackupRun[]> {
  const runs: SqlBackupRun[] = [];
  let pageToken: string | undefined;
  for (let page = 0; page < SQL_RUN_PAGES; page += 1) {
    const result: Page<SqlBackupRun> = await deps.cloudSql.listBackupRuns(project, instance, pageToken ? { pageToken } : {}).catch((error: unknown) => {
      if (isNotFound(error)) return { items: [] as SqlBackupRun[] };
      throw error;
    });
    runs.push(...result.items);
    pageToken = result.nextPageToken;
    if (!pageToken) break;
  }
  return runs;
}

async function listGkeBackups(deps: ComplianceDeps, plan: string): Promise<GkeBackup[]> {
  const backups: GkeBackup[] = [];
  let pageToken: string | undefined;
  for (let page = 0; page < GKE_BACKUP_PAGES; page += 1) {
    const result: Page<GkeBackup> = await deps.gkeBackup.listBackups(plan, { pageSize: 500, ...(pageToken ? { pageToken } : {}) }).catch((error: unknown) => {
      if (isNotFound(error)) return { items: [] as GkeBackup[] };
      throw error;
    });
    backups.push(...result.items);
    pageToken = result.nextPageToken;
    if (!pageToken) break;
  }
  return backups;
}

/** Every control of one instance, from what the services answer now. */
export async function judgeInstance(deps: ComplianceDeps, instance: InstanceRecord, asOf: Date): Promise<ControlResult[]> {
  const { project, sqlInstance, backupPlan } = instance.resources;
  const [sql, runs, plan, backups] = await Promise.all([
    deps.cloudSql.getInstance(project, sqlInstance),
    listSqlRuns(deps, project, sqlInstance),
    deps.gkeBackup.getBackupPlan(backupPlan),
    listGkeBackups(deps, backupPlan),
  ]);
  return [
    ...checkCloudSql({ project, instanceName: sqlInstance, instance: sql, runs }, asOf),
    ...checkGke({ planName: backupPlan, plan, backups }, instance.region, asOf),
    checkExpiry(instance, asOf),
  ];
}

export type CheckOutcome = { kind: 'written'; finding: Finding } | { kind: 'duplicate' } | { kind: 'invalid'; reason: string };

/** Writes the finding unless another delivery already did. */
async function writeFinding(deps: ComplianceDeps, path: string, finding: Finding): Promise<CheckOutcome> {
  try {
    await deps.store.create(path, { ...finding, expireAt: recordExpiry(deps.clock.now()) });
    return { kind: 'written', finding };
  } catch (error) {
    if (error instanceof ControlPlaneError && error.code === 'already-exists') return { kind: 'duplicate' };
    throw error;
  }
}

/** The remediation of safe drift: a leased `remediate` operation, asked for on mi-lifecycle with a key of run and instance. */
async function requestRemediation(deps: ComplianceDeps, runId: string, instance: InstanceRecord, controls: readonly ControlResult[]): Promise<Finding['remediation']> {
  const fixable = controls.filter((c) => c.status === 'fail' && SAFE_TO_FIX.has(c.control)).map((c) => c.control);
  if (!deps.remediate || fixable.length === 0) return null;
  // Only an idle, active instance: a busy one is left to the next run (busy is never a failure).
  if (instance.status !== 'active' || instance.lease !== null) return null;
  const eventId = deterministicEventId(`remediate:${runId}:${instance.id}`);
  const envelope = makeEnvelope({
    type: 'instance.remediate',
    eventId,
    instanceId: instance.id,
    payload: { runId, controls: fixable },
    actor: 'system:verify-backups',
    origin: 'compliance',
    reason: `compliance run ${runId}: drift safe to fix (${fixable.join(', ')})`,
    issuedAt: deps.clock.now().toISOString(),
  });
  // Published before the finding is written: a redelivery publishes the same event id again, which the ledger deduplicates.
  await deps.bus.publish(TOPICS.lifecycle, envelope);
  return { eventId, operationId: operationIdFor(eventId), controls: fixable };
}

/** Checks one instance for a run and writes its finding. */
export async function checkInstance(deps: ComplianceDeps, runId: string, instanceId: string, asOf: Date): Promise<CheckOutcome> {
  const path = compliancePaths.finding(runId, instanceId);
  const instance = await deps.store.get<InstanceRecord>(paths.instance(instanceId));
  const base = { runId, kind: 'instance' as const, instanceId, asOf: asOf.toISOString(), checkedAt: deps.clock.now().toISOString() };
  if (instance === undefined || instance.status === 'deleted') {
    return writeFinding(deps, path, {
      ...base,
      environment: instance?.environment ?? null,
      tier: instance?.tier ?? null,
      region: instance?.region ?? null,
      outcome: 'skipped',
      failedControls: [],
      blockedControls: [],
      controls: [],
      remediation: null,
      note: instance === undefined ? 'no such instance' : 'deleted after the run planned it',
    });
  }
  const controls = await judgeInstance(deps, instance, asOf);
  const remediation = await requestRemediation(deps, runId, instance, controls);
  return writeFinding(deps, path, {
    ...base,
    environment: instance.environment,
    tier: instance.tier,
    region: instance.region,
    outcome: outcomeOf(controls),
    failedControls: controls.filter((c) => c.status === 'fail').map((c) => c.control),
    blockedControls: controls.filter((c) => c.status === 'blocked').map((c) => c.control),
    controls,
    remediation,
    note: null,
  });
}

/** Checks the Cloud Scheduler jobs of the topology, once per run, as a finding of its own. */
export async function checkScheduleJobs(deps: ComplianceDeps, runId: string, asOf: Date): Promise<CheckOutcome> {
  const jobs = [];
  let pageToken: string | undefined;
  do {
    const page = await deps.scheduler.listJobs(deps.schedulerParent, pageToken ? { pageToken } : {});
    jobs.push(...page.items);
    pageToken = page.nextPageToken;
  } while (pageToken);
  const controls = checkSchedules(deps.schedules, jobs, deps.schedulerParent, asOf);
  return writeFinding(deps, compliancePaths.finding(runId, SCHEDULES_FINDING_ID), {
    runId,
    kind: 'schedules',
    instanceId: null,
    environment: null,
    tier: null,
    region: null,
    asOf: asOf.toISOString(),
    checkedAt: deps.clock.now().toISOString(),
    outcome: outcomeOf(controls),
    failedControls: controls.filter((c) => c.status === 'fail').map((c) => c.control),
    blockedControls: [],
    controls,
    remediation: null,
    note: null,
  });
}

export { SCHEDULES_FINDING_ID };

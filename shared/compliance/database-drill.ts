/**
 * drill-database (every 15 minutes, a drill a week): the restore drill of the control plane's
 * own Firestore. A tick takes one drill one step: start it (the newest ready scheduled backup
 * restored into a scratch database), follow the restore, then compare 24 hours of the restored
 * audit trail, compliance runs and findings with the live database's and record the outcome,
 * then delete the scratch database. The outcome is recorded before the delete is asked for, so
 * a delete that keeps failing never hides a drill's result; each step is safe to repeat.
 */
import { contentDigest } from '../domain/compliance/chain.js';
import {
  chooseBackup,
  compareRecords,
  comparisonProblems,
  comparisonWindow,
  drillIdentity,
  nextDrillStep,
  type ComparedRecord,
  type DatabaseDrill,
  type DatabaseDrillOutcome,
  type DrillStep,
} from '../domain/compliance/database-drill.js';
import { ControlPlaneError, describeError } from '../errors.js';
import type { DatabaseOperation, FirestoreAdminPort, StateStore } from '../ports.js';
import { COLLECTIONS, compliancePaths } from '../store/collections.js';
import { auditIdPrefix, auditIdTime, recordExpiry } from '../store/records.js';
import type { ComplianceDeps, ComplianceRun } from './model.js';
import { finishRun, type RunRequest, type StartedRun } from './runs.js';

export interface DatabaseDrillResult {
  step: DrillStep['kind'];
  drillId: string | null;
  /** The drill's phase after this tick. */
  phase: DatabaseDrill['phase'] | null;
  /** What the tick saw or did, in words. */
  note: string;
  /** Set on the tick that recorded the drill's outcome. */
  outcome: DatabaseDrillOutcome | null;
}

type Reader = Pick<StateStore, 'query'>;

/** The drill most recently started, if any. */
export async function latestDatabaseDrill(store: Reader): Promise<DatabaseDrill | undefined> {
  const [latest] = await store.query<DatabaseDrill>({ collection: COLLECTIONS.databaseDrills, orderBy: [{ field: 'startedAt', direction: 'desc' }], limit: 1 });
  return latest?.data;
}

export async function runDatabaseDrill(deps: ComplianceDeps, request: RunRequest, start: StartedRun): Promise<DatabaseDrillResult> {
  const admin = deps.firestoreAdmin;
  if (admin === undefined) throw new ControlPlaneError('failed-precondition', 'drill-database needs the Firestore Admin API, and this function has none', { details: { runId: request.runId } });
  const now = deps.clock.now();
  const latest = await latestDatabaseDrill(deps.store);
  const step = nextDrillStep(latest, now);
  const drill = new DrillSteps(deps, admin, now);
  let result: DatabaseDrillResult;
  switch (step.kind) {
    case 'wait':
      result = { step: step.kind, drillId: latest?.drillId ?? null, phase: latest?.phase ?? null, note: step.why, outcome: null };
      break;
    case 'start':
      result = await drill.start(request.runId);
      break;
    case 'follow-restore':
      result = await drill.followRestore(latest as DatabaseDrill);
      break;
    case 'give-up':
      result = await drill.fail(latest as DatabaseDrill, [step.problem], null);
      break;
    case 'delete':
      result = await drill.deleteScratch(latest as DatabaseDrill, null);
      break;
  }
  await finishRun(deps, request.runId, start.token, { outcome: { ...result } });
  return { ...result, step: step.kind };
}

class DrillSteps {
  constructor(
    private readonly deps: ComplianceDeps,
    private readonly admin: FirestoreAdminPort,
    private readonly now: Date,
  ) {}

  async start(runId: string): Promise<DatabaseDrillResult> {
    const { backups, unreachable } = await this.admin.listBackups();
    const chosen = chooseBackup(backups, this.deps.project, this.now, await firstRecordAt(this.deps.store));
    if ('wait' in chosen) return { step: 'start', drillId: null, phase: null, note: chosen.wait, outcome: null };
    const { drillId, databaseId } = drillIdentity(this.now);
    const at = this.now.toISOString();
    const base: DatabaseDrill = { drillId, startedBy: runId, startedAt: at, phase: 'restoring', backup: null, databaseId, restoreOperation: null, deleteOperation: null, outcome: null, deletedAt: null, updatedAt: at, expireAt: recordExpiry(this.now) };
    if ('problem' in chosen) {
      const problems = [chosen.problem, ...(unreachable.length > 0 ? [`backups in ${unreachable.join(', ')} could not be listed`] : [])];
      const outcome: DatabaseDrillOutcome = { result: 'fail', at, problems, compared: null, restoreSeconds: null };
      await this.deps.store.create(compliancePaths.databaseDrill(drillId), { ...base, phase: 'done', outcome });
      return { step: 'start', drillId, phase: 'done', note: chosen.problem, outcome };
    }
    const drill: DatabaseDrill = { ...base, backup: { name: chosen.backup.name, snapshotTime: chosen.backup.snapshotTime } };
    // Written before the restore is asked for: a crash after the ask finds the drill, and the restore again by its database's id.
    await this.deps.store.create(compliancePaths.databaseDrill(drillId), drill);
    return this.followRestore(drill);
  }

  async followRestore(drill: DatabaseDrill): Promise<DatabaseDrillResult> {
    let operation: DatabaseOperation;
    if (drill.restoreOperation === null) {
      const asked = await this.askRestore(drill);
      if ('problem' in asked) return this.fail(drill, [asked.problem], null);
      operation = asked.operation;
      await this.advance(drill, 'restoring', { restoreOperation: operation.name });
      drill = { ...drill, restoreOperation: operation.name };
    } else {
      try {
        operation = await this.admin.getOperation(drill.restoreOperation);
      } catch (error) {
        if (error instanceof ControlPlaneError && error.code === 'not-found') return this.fail(drill, [`the restore operation ${drill.restoreOperation} is gone: ${error.message}`], null);
        throw error;
      }
    }
    // Followed within this run while the budget lasts, polling as the API reference suggests for long-running operations.
    const until = Date.now() + this.deps.drillFollowMs;
    while (!operation.done && Date.now() + FOLLOW_POLL_MS <= until) {
      await new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
      operation = await this.admin.getOperation(operation.name);
    }
    if (!operation.done) {
      const progress = operation.progressPercent === null ? '' : ` (${operation.progressPercent}%)`;
      return { step: 'follow-restore', drillId: drill.drillId, phase: 'restoring', note: `restoring ${drill.backup?.name ?? '?'} into ${drill.databaseId}${progress}`, outcome: null };
    }
    const restoreSeconds = Math.round((this.deps.clock.now().getTime() - Date.parse(drill.startedAt)) / 1000);
    if (operation.error !== null) return this.fail(drill, [`the restore into ${drill.databaseId} failed: ${operation.error.message} (code ${operation.error.code})`], restoreSeconds);
    return this.compare(drill, restoreSeconds);
  }

  /** databases.restore, once: a restore already asked for (a crash after the ask) is found again by its database. */
  private async askRestore(drill: DatabaseDrill): Promise<{ operation: DatabaseOperation } | { problem: string }> {
    const backup = drill.backup?.name;
    if (backup === undefined) return { problem: 'the drill names no backup' };
    try {
      return { operation: await this.admin.restoreDatabase(drill.databaseId, backup) };
    } catch (error) {
      if (!(error instanceof ControlPlaneError)) throw error;
      if (error.code === 'not-found') return { problem: `the backup ${backup} is gone: ${error.message}` };
      if (error.code !== 'already-exists') throw error;
      const restore = (await this.admin.listOperations(drill.databaseId)).find((op) => op.kind === 'RestoreDatabaseMetadata');
      if (restore === undefined) return { problem: `the scratch database ${drill.databaseId} exists, and no restore made it: it is not the drill's` };
      return { operation: restore };
    }
  }

  private async compare(drill: DatabaseDrill, restoreSeconds: number): Promise<DatabaseDrillResult> {
    const window = comparisonWindow(drill.backup?.snapshotTime ?? drill.startedAt, this.deps.sealSettleMs);
    const [live, restored] = await Promise.all([readWindow(this.deps.store, window), this.admin.openDatabase(drill.databaseId).then((restored) => readWindow(restored, window))]);
    const compared = compareRecords(window, live, restored);
    const problems = comparisonProblems(compared);
    const outcome: DatabaseDrillOutcome = { result: problems.length === 0 ? 'pass' : 'fail', at: this.now.toISOString(), problems, compared, restoreSeconds };
    await this.advance(drill, 'restoring', { phase: 'deleting', outcome });
    return this.deleteScratch({ ...drill, phase: 'deleting', outcome }, outcome);
  }

  /** Records a failed outcome, then deletes whatever scratch database there is. */
  async fail(drill: DatabaseDrill, problems: string[], restoreSeconds: number | null): Promise<DatabaseDrillResult> {
    const outcome: DatabaseDrillOutcome = { result: 'fail', at: this.now.toISOString(), problems, compared: null, restoreSeconds };
    await this.advance(drill, 'restoring', { phase: 'deleting', outcome });
    return this.deleteScratch({ ...drill, phase: 'deleting', outcome }, outcome);
  }

  /** Deletes the scratch database; done once it is gone (not-found is gone). */
  async deleteScratch(drill: DatabaseDrill, recorded: DatabaseDrillOutcome | null): Promise<DatabaseDrillResult> {
    const at = { step: 'delete' as const, drillId: drill.drillId, outcome: recorded };
    let operation: DatabaseOperation | undefined;
    try {
      const pending = drill.deleteOperation === null ? undefined : await this.admin.getOperation(drill.deleteOperation).catch((error: unknown) => {
        // A delete operation nobody knows any more: ask for the delete again.
        if (error instanceof ControlPlaneError && error.code === 'not-found') return undefined;
        throw error;
      });
      operation = pending ?? (await this.admin.deleteDatabase(drill.databaseId));
    } catch (error) {
      if (!(error instanceof ControlPlaneError && error.code === 'not-found')) {
        // The outcome is recorded: the next tick asks again.
        this.deps.log.warn('the scratch database of a drill could not be deleted yet', { drillId: drill.drillId, databaseId: drill.databaseId, error: describeError(error) });
        return { ...at, phase: 'deleting', note: `deleting ${drill.databaseId} failed, asked again next tick: ${describeError(error)}` };
      }
    }
    if (operation !== undefined && !operation.done) {
      await this.advance(drill, 'deleting', { deleteOperation: operation.name });
      return { ...at, phase: 'deleting', note: `deleting ${drill.databaseId}` };
    }
    if (operation?.error != null) {
      await this.advance(drill, 'deleting', { deleteOperation: null });
      return { ...at, phase: 'deleting', note: `deleting ${drill.databaseId} failed, asked again next tick: ${operation.error.message}` };
    }
    await this.advance(drill, 'deleting', { phase: 'done', deletedAt: this.now.toISOString() });
    return { ...at, phase: 'done', note: `${drill.databaseId} deleted; the drill ${drill.outcome?.result === 'pass' ? 'passed' : 'failed'}` };
  }

  /** Updates the drill if it is still in the phase this tick read (a concurrent tick that moved it on wins). */
  private async advance(drill: DatabaseDrill, from: DatabaseDrill['phase'], patch: Partial<DatabaseDrill>): Promise<void> {
    const path = compliancePaths.databaseDrill(drill.drillId);
    await this.deps.store.transaction(async (tx) => {
      const stored = await tx.get<DatabaseDrill>(path);
      if (stored?.phase !== from) throw new ControlPlaneError('conflict', `the drill ${drill.drillId} moved on to ${stored?.phase ?? 'nothing'} meanwhile`, { retryable: true, details: { drillId: drill.drillId } });
      tx.update(path, { ...patch, updatedAt: this.now.toISOString() });
    });
  }
}

/** When the database got its first audit record (ids sort by time and start with it), or null when it has none. */
async function firstRecordAt(store: Reader): Promise<Date | null> {
  const [first] = await store.query({ collection: COLLECTIONS.audit, limit: 1 });
  return first === undefined ? null : auditIdTime(first.id);
}

const PAGE = 500;

/** Between two reads of a restore that a run follows. */
const FOLLOW_POLL_MS = 10_000;

/**
 * The records of [from, to) in one database: audit records (by id, which starts with their
 * time), compliance runs by slot (presence only: a run's document changes as it runs) and the
 * findings of those runs checked in the window. Each with its content digest, its chain link left out.
 */
export async function readWindow(store: Reader, window: { from: string; to: string }): Promise<Record<string, ComparedRecord[]>> {
  const audit: ComparedRecord[] = [];
  const end = auditIdPrefix(window.to);
  let after = auditIdPrefix(window.from);
  for (;;) {
    const page = await store.query<Record<string, unknown>>({ collection: COLLECTIONS.audit, startAfterId: after, limit: PAGE });
    const inside = page.filter((doc) => doc.id < end);
    audit.push(...inside.map((doc) => ({ path: doc.path, digest: contentDigest(doc.data) })));
    if (inside.length < page.length || page.length < PAGE) break;
    after = page.at(-1)?.id ?? after;
  }
  const runDocs = await store.query<ComplianceRun>({
    collection: COLLECTIONS.complianceRuns,
    where: [
      { field: 'slotStart', op: '>=', value: window.from },
      { field: 'slotStart', op: '<', value: window.to },
    ],
  });
  const runs = runDocs.filter((doc) => doc.data.createdAt < window.to);
  const findings: ComparedRecord[] = [];
  for (const run of runs.filter((doc) => doc.data.schedule === 'verify-backups')) {
    let from: string | undefined;
    for (;;) {
      const page = await store.query<Record<string, unknown>>({ collection: compliancePaths.findings(run.id), limit: PAGE, ...(from === undefined ? {} : { startAfterId: from }) });
      findings.push(...page.filter((doc) => typeof doc.data.checkedAt === 'string' && doc.data.checkedAt < window.to).map((doc) => ({ path: doc.path, digest: contentDigest(doc.data) })));
      if (page.length < PAGE) break;
      from = page.at(-1)?.id;
    }
  }
  return { audit, runs: runs.map((doc) => ({ path: doc.path, digest: null })), findings };
}

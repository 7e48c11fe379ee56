/**
 * The step kinds of a restore drill: create a throwaway Cloud SQL instance, restore the source's
 * latest successful backup into it, have the executor run its sanity check on it, delete it,
 * then give the verdict. The restore and the check record a failure as evidence (a handle)
 * rather than failing, so the throwaway is deleted whatever happened; the verdict fails the
 * drill if either did. Every side effect is found again by the throwaway's name, which is
 * keyed to the operation.
 */
import { sideEffectKey, type OperationRecord, type Step } from '../../domain/lifecycle/operations.js';
import { ControlPlaneError } from '../../errors.js';
import type { SqlBackupRun } from '../../ports.js';
import { executorIdle, executorOutcome, param, refuseAfterOf, sqlIdle, sqlOperationOutcome, type PollResult, type StartResult, type StepDeps, type StepRunner } from './kit.js';

type Deps = Omit<StepDeps, 'gkeBackup'>;

/** A failure kept as evidence: the step succeeds, its handles say what went wrong. */
function recorded(result: PollResult, handles: Record<string, string>): PollResult {
  if (result.kind === 'running') return result;
  if (result.kind === 'succeeded') return { kind: 'succeeded', handles: { ...handles, ...result.handles, outcome: 'succeeded' } };
  // An interrupted sanity check changed nothing (it only reads): evidence of a failure like any other.
  const own = result.kind === 'failed' ? result.handles : undefined;
  return { kind: 'succeeded', handles: { ...handles, ...own, outcome: 'failed', error: result.error.slice(0, 500) } };
}

function createThrowawayRunner(deps: Deps): StepRunner {
  return {
    async start(op, step) {
      const project = param(op, step, 'project');
      const throwaway = param(op, step, 'throwaway');
      // Its name is keyed to the operation: if it exists, an earlier attempt created it.
      if ((await deps.cloudSql.getInstance(project, throwaway)) !== undefined) return { kind: 'running', handles: { throwaway } };
      const source = await deps.cloudSql.getInstance(project, param(op, step, 'sqlInstance'));
      if (source === undefined) throw new ControlPlaneError('failed-precondition', `the source instance ${param(op, step, 'sqlInstance')} does not exist`, { retryable: false });
      try {
        await deps.cloudSql.insertInstance(project, {
          name: throwaway,
          region: source.region,
          databaseVersion: source.databaseVersion,
          tier: source.settings.tier,
          // A throwaway keeps no backups of its own.
          backupConfiguration: { ...source.settings.backupConfiguration, enabled: false, pointInTimeRecoveryEnabled: false },
        });
      } catch (error) {
        if (!(error instanceof ControlPlaneError && error.code === 'already-exists')) throw error;
      }
      return { kind: 'running', handles: { throwaway } };
    },
    async poll(op, step) {
      const throwaway = await deps.cloudSql.getInstance(param(op, step, 'project'), param(op, step, 'throwaway'));
      if (throwaway?.state === 'RUNNABLE') return { kind: 'succeeded', handles: { throwaway: throwaway.name, createdAt: throwaway.createTime ?? '' } };
      if (throwaway?.state === 'FAILED') return { kind: 'failed', error: `the throwaway ${throwaway.name} failed to create` };
      return { kind: 'running' };
    },
    async isIdle(op, step) {
      const throwaway = await deps.cloudSql.getInstance(param(op, step, 'project'), param(op, step, 'throwaway'));
      return throwaway === undefined || throwaway.state !== 'PENDING_CREATE';
    },
  };
}

async function latestSuccessfulRun(deps: Deps, project: string, instance: string): Promise<SqlBackupRun | undefined> {
  let best: SqlBackupRun | undefined;
  let pageToken: string | undefined;
  for (let page = 0; page < 3; page += 1) {
    const result = await deps.cloudSql.listBackupRuns(project, instance, pageToken ? { pageToken } : {});
    for (const run of result.items) {
      if (run.status === 'SUCCESSFUL' && run.type !== 'FINAL' && run.endTime && (!best?.endTime || run.endTime > best.endTime)) best = run;
    }
    pageToken = result.nextPageToken;
    if (!pageToken) break;
  }
  return best;
}

function restoreLatestRunner(deps: Deps): StepRunner {
  return {
    async start(op, step): Promise<StartResult> {
      const project = param(op, step, 'project');
      const throwaway = param(op, step, 'throwaway');
      const source = param(op, step, 'sqlInstance');
      const latest = await latestSuccessfulRun(deps, project, source);
      if (latest === undefined) return { kind: 'running', handles: { noBackup: 'true' } };
      const evidence = { backupRunId: latest.id, backupType: latest.type, backupEndTime: latest.endTime ?? '' };
      // A restore has no id: an earlier attempt's is a RESTORE_VOLUME operation on the throwaway.
      const recent = await deps.cloudSql.listOperations(project, throwaway, { maxResults: 20 });
      const earlier = recent.items.find((o) => o.operationType === 'RESTORE_VOLUME');
      if (earlier) return { kind: 'running', handles: { ...evidence, sqlOperation: earlier.name } };
      const operation = await deps.cloudSql.restoreBackup(project, throwaway, { project, instance: source, backupRunId: latest.id });
      return { kind: 'running', handles: { ...evidence, sqlOperation: operation.name } };
    },
    async poll(op, step) {
      if (step.handles.noBackup === 'true') return recorded({ kind: 'failed', error: `no successful backup of ${param(op, step, 'sqlInstance')} to restore` }, {});
      const operation = await deps.cloudSql.getOperation(param(op, step, 'project'), step.handles.sqlOperation ?? '');
      return recorded(sqlOperationOutcome(operation, `restoring backup run ${step.handles.backupRunId ?? '?'} into ${param(op, step, 'throwaway')}`), { restoredAt: operation?.endTime ?? '' });
    },
    isIdle: (op, step) => sqlIdle(deps, param(op, step, 'project'), param(op, step, 'throwaway'), step, ['RESTORE_VOLUME']),
  };
}

function drillVerifyRunner(deps: Deps): StepRunner {
  const restoreFailed = (op: OperationRecord) => op.steps.find((s) => s.kind === 'sql-restore-latest')?.handles.outcome === 'failed';
  const request = async (op: OperationRecord, step: Step) => {
    const runKey = sideEffectKey(op.id, step.name);
    await deps.executor.requestRun({
      runKey,
      action: 'verify',
      instanceId: op.instanceId,
      // The sanity check runs against the throwaway, not the instance's own database.
      params: { ...op.params, sqlInstance: param(op, step, 'throwaway'), drill: true, operationId: op.id },
      actor: op.actor,
      reason: op.reason,
      refuseAfter: refuseAfterOf(step, deps.timings),
    });
    return runKey;
  };
  return {
    async start(op, step): Promise<StartResult> {
      if (restoreFailed(op)) return { kind: 'running', handles: { skipped: 'the restore failed' } };
      return { kind: 'running', handles: { runKey: await request(op, step) } };
    },
    async poll(op, step) {
      if (step.handles.skipped !== undefined) return recorded({ kind: 'failed', error: `not run: ${step.handles.skipped}` }, {});
      const runKey = step.handles.runKey ?? sideEffectKey(op.id, step.name);
      const outcome = await executorOutcome(deps, step, runKey);
      if (outcome.kind === 'running') return outcome;
      if (outcome.kind === 'failed') return recorded({ kind: 'failed', error: `sanity check: ${outcome.error}` }, { runKey });
      const status = await deps.executor.getRunStatus(runKey);
      return recorded({ kind: 'succeeded' }, { runKey, detail: (status.detail ?? '').slice(0, 500) });
    },
    async isIdle(op, step) {
      if (step.handles.skipped !== undefined) return true;
      return executorIdle(deps, step, step.handles.runKey ?? sideEffectKey(op.id, step.name));
    },
  };
}

function deleteThrowawayRunner(deps: Deps): StepRunner {
  return {
    async start(op, step): Promise<StartResult> {
      const project = param(op, step, 'project');
      const throwaway = param(op, step, 'throwaway');
      if ((await deps.cloudSql.getInstance(project, throwaway)) === undefined) return { kind: 'running', handles: {} };
      const operation = await deps.cloudSql.deleteInstance(project, throwaway);
      return { kind: 'running', handles: { sqlOperation: operation.name } };
    },
    async poll(op, step) {
      const gone = (await deps.cloudSql.getInstance(param(op, step, 'project'), param(op, step, 'throwaway'))) === undefined;
      if (gone) return { kind: 'succeeded', handles: { deleted: param(op, step, 'throwaway') } };
      if (step.handles.sqlOperation !== undefined) {
        const outcome = sqlOperationOutcome(await deps.cloudSql.getOperation(param(op, step, 'project'), step.handles.sqlOperation), `deleting ${param(op, step, 'throwaway')}`);
        if (outcome.kind === 'failed') return outcome;
      }
      return { kind: 'running' };
    },
    async isIdle(op, step) {
      const project = param(op, step, 'project');
      const throwaway = param(op, step, 'throwaway');
      if (!(await sqlIdle(deps, project, throwaway, step, ['DELETE']))) return false;
      return (await deps.cloudSql.getInstance(project, throwaway))?.state !== 'PENDING_DELETE';
    },
  };
}

/** Fails the drill when the restore or the sanity check recorded a failure; its handles are the drill's evidence. */
const drillVerdictRunner: StepRunner = {
  start: () => Promise.resolve({ kind: 'running', handles: {} }),
  poll(op) {
    const failed = op.steps.filter((s) => s.handles.outcome === 'failed').map((s) => `${s.name}: ${s.handles.error ?? 'failed'}`);
    if (failed.length > 0) return Promise.resolve({ kind: 'failed', error: `restore drill failed (${failed.join('; ')})` });
    return Promise.resolve({ kind: 'succeeded', handles: { verdict: 'restored and verified' } });
  },
  isIdle: () => Promise.resolve(true),
};

/** The runners of the drill's step kinds. */
export function createDrillStepRunners(deps: Deps) {
  return {
    'sql-create-throwaway': createThrowawayRunner(deps),
    'sql-restore-latest': restoreLatestRunner(deps),
    'drill-verify': drillVerifyRunner(deps),
    'sql-delete-throwaway': deleteThrowawayRunner(deps),
    'drill-verdict': drillVerdictRunner,
  } as const;
}

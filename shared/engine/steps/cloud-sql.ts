/**
 * Cloud SQL steps: a keyed backup run, the backup policy set on an instance, a restore of a named
 * backup run, a clone to a point in time, and the delete that leaves a final backup. Each finds
 * again what an earlier attempt started: by the run's description, by the operation on the
 * instance, or by the name of what it creates.
 */
import { SQL_BACKUP_POLICY } from '../../domain/lifecycle/backup-policy.js';
import { sideEffectKey, type OperationRecord, type Step } from '../../domain/lifecycle/operations.js';
import { ControlPlaneError } from '../../errors.js';
import type { SqlBackupRun, SqlBackupState, SqlFinalBackup } from '../../ports.js';
import { handle, param, sqlIdle, sqlOperationOutcome, type StartResult, type StepDeps as Deps, type StepRunner } from './kit.js';

/** The description a keyed Cloud SQL backup run carries, so it can be found again. */
export function sqlBackupDescription(op: OperationRecord, step: Step): string {
  return `mi:${sideEffectKey(op.id, step.name)}`;
}

const SQL_RUN_IN_FLIGHT = new Set<SqlBackupRun['status']>(['ENQUEUED', 'RUNNING', 'OVERDUE', 'SQL_BACKUP_RUN_STATUS_UNSPECIFIED']);
/** How many pages of backup runs to search for a keyed run; ours is among the newest. */
const SQL_SEARCH_PAGES = 3;

async function findRun(deps: Deps, project: string, instance: string, match: (run: SqlBackupRun) => boolean): Promise<SqlBackupRun | undefined> {
  let pageToken: string | undefined;
  for (let page = 0; page < SQL_SEARCH_PAGES; page += 1) {
    const result = await deps.cloudSql.listBackupRuns(project, instance, pageToken ? { pageToken } : {});
    const found = result.items.find(match);
    if (found) return found;
    pageToken = result.nextPageToken;
    if (!pageToken) return undefined;
  }
  return undefined;
}

export function sqlBackupRunner(deps: Deps): StepRunner {
  const find = (op: OperationRecord, step: Step) =>
    findRun(deps, param(op, step, 'project'), param(op, step, 'sqlInstance'), (run) => run.description === sqlBackupDescription(op, step));
  const current = async (op: OperationRecord, step: Step): Promise<SqlBackupRun | undefined> => {
    const id = step.handles.backupRunId;
    if (id === undefined) return find(op, step);
    return deps.cloudSql.getBackupRun(param(op, step, 'project'), param(op, step, 'sqlInstance'), id);
  };
  return {
    async start(op, step): Promise<StartResult> {
      // An insert creates a new run on every call: look for the keyed run first.
      const existing = await find(op, step);
      if (existing) return { kind: 'running', handles: { backupRunId: existing.id } };
      const operation = await deps.cloudSql.insertBackupRun(param(op, step, 'project'), param(op, step, 'sqlInstance'), {
        description: sqlBackupDescription(op, step),
      });
      const id = operation.backupContext?.backupId ?? (await find(op, step))?.id;
      if (id === undefined) {
        throw new ControlPlaneError('unavailable', `Cloud SQL accepted backup ${operation.name} but the run is not listed yet`);
      }
      return { kind: 'running', handles: { backupRunId: id, sqlOperation: operation.name } };
    },
    async poll(op, step) {
      const run = await current(op, step);
      if (run === undefined) return { kind: 'failed', error: 'the Cloud SQL backup run no longer exists' };
      if (run.status === 'SUCCESSFUL') {
        return { kind: 'succeeded', handles: { backupRunId: run.id, ...(run.endTime ? { completedAt: run.endTime } : {}) } };
      }
      if (SQL_RUN_IN_FLIGHT.has(run.status)) return { kind: 'running' };
      return { kind: 'failed', error: `Cloud SQL backup run ${run.id} ended ${run.status}${run.error ? `: ${run.error.message}` : ''}`, handles: { backupRunId: run.id } };
    },
    async isIdle(op, step) {
      const run = await current(op, step);
      return run === undefined || !SQL_RUN_IN_FLIGHT.has(run.status);
    },
  };
}

export function sqlConfigureBackupsRunner(deps: Deps): StepRunner {
  const what = (op: OperationRecord, step: Step) => `setting the backup policy on ${param(op, step, 'sqlInstance')}`;
  return {
    async start(op, step) {
      // Patching to the same configuration again is harmless, so no key is needed.
      const operation = await deps.cloudSql.patchBackupConfiguration(param(op, step, 'project'), param(op, step, 'sqlInstance'), SQL_BACKUP_POLICY);
      return { kind: 'running', handles: { sqlOperation: operation.name } };
    },
    async poll(op, step) {
      return sqlOperationOutcome(await deps.cloudSql.getOperation(param(op, step, 'project'), handle(step, 'sqlOperation')), what(op, step));
    },
    isIdle: (op, step) => sqlIdle(deps, param(op, step, 'project'), param(op, step, 'sqlInstance'), step, ['UPDATE']),
  };
}

/** Turns Cloud SQL's deletion protection on or off (`params.enabled`), as a step of its own in the audit trail. */
export function sqlDeletionProtectionRunner(deps: Deps): StepRunner {
  const enabled = (step: Step) => step.params.enabled === true;
  const what = (op: OperationRecord, step: Step) => `turning deletion protection ${enabled(step) ? 'on' : 'off'} on ${param(op, step, 'sqlInstance')}`;
  return {
    async start(op, step): Promise<StartResult> {
      const project = param(op, step, 'project');
      const instance = param(op, step, 'sqlInstance');
      // Already as asked (an earlier attempt, or never on): nothing to patch. Patching again is harmless too.
      const current = await deps.cloudSql.getInstance(project, instance);
      if (current !== undefined && (current.settings.deletionProtectionEnabled ?? false) === enabled(step)) return { kind: 'running', handles: { deletionProtection: String(enabled(step)) } };
      const operation = await deps.cloudSql.setDeletionProtection(project, instance, enabled(step));
      return { kind: 'running', handles: { sqlOperation: operation.name, deletionProtection: String(enabled(step)) } };
    },
    async poll(op, step) {
      if (step.handles.sqlOperation === undefined) return { kind: 'succeeded' };
      return sqlOperationOutcome(await deps.cloudSql.getOperation(param(op, step, 'project'), step.handles.sqlOperation), what(op, step));
    },
    isIdle: (op, step) => sqlIdle(deps, param(op, step, 'project'), param(op, step, 'sqlInstance'), step, ['UPDATE']),
  };
}

export function sqlRestoreBackupRunner(deps: Deps): StepRunner {
  const target = (op: OperationRecord, step: Step) => String(step.params.targetInstance ?? op.params.sqlInstance);
  return {
    async start(op, step) {
      const project = param(op, step, 'project');
      // A restore has no id of its own: an earlier attempt's shows as a RESTORE_VOLUME operation
      // on the target begun after this step was first claimed.
      const since = Date.parse(step.startedAt ?? new Date(0).toISOString());
      const recent = await deps.cloudSql.listOperations(project, target(op, step), { maxResults: 20 });
      const earlier = recent.items.find((o) => o.operationType === 'RESTORE_VOLUME' && Date.parse(o.insertTime) >= since);
      if (earlier) return { kind: 'running', handles: { sqlOperation: earlier.name } };
      const operation = await deps.cloudSql.restoreBackup(project, target(op, step), {
        project,
        instance: param(op, step, 'sqlInstance'),
        backupRunId: param(op, step, 'backupRunId'),
      });
      return { kind: 'running', handles: { sqlOperation: operation.name } };
    },
    async poll(op, step) {
      const outcome = sqlOperationOutcome(
        await deps.cloudSql.getOperation(param(op, step, 'project'), handle(step, 'sqlOperation')),
        `restoring backup run ${param(op, step, 'backupRunId')} into ${target(op, step)}`,
      );
      return outcome.kind === 'succeeded' ? { kind: 'succeeded', handles: { restoredFrom: param(op, step, 'backupRunId'), into: target(op, step) } } : outcome;
    },
    isIdle: (op, step) => sqlIdle(deps, param(op, step, 'project'), target(op, step), step, ['RESTORE_VOLUME']),
  };
}

export function sqlCloneRunner(deps: Deps): StepRunner {
  return {
    async start(op, step): Promise<StartResult> {
      const project = param(op, step, 'project');
      const destination = param(op, step, 'destinationInstanceName');
      // The clone's name is keyed to the operation: if it exists, an earlier attempt made it.
      if ((await deps.cloudSql.getInstance(project, destination)) !== undefined) {
        return { kind: 'running', handles: { sqlInstance: destination } };
      }
      const operation = await deps.cloudSql.cloneInstance(project, param(op, step, 'sqlInstance'), {
        destinationInstanceName: destination,
        pointInTime: param(op, step, 'pointInTime'),
      });
      return { kind: 'running', handles: { sqlInstance: destination, sqlOperation: operation.name } };
    },
    async poll(op, step) {
      const project = param(op, step, 'project');
      if (step.handles.sqlOperation !== undefined) {
        const outcome = sqlOperationOutcome(await deps.cloudSql.getOperation(project, step.handles.sqlOperation), `cloning to ${param(op, step, 'pointInTime')}`);
        if (outcome.kind !== 'succeeded') return outcome;
      }
      const clone = await deps.cloudSql.getInstance(project, param(op, step, 'destinationInstanceName'));
      if (clone?.state === 'RUNNABLE') return { kind: 'succeeded', handles: { sqlInstance: clone.name } };
      if (clone?.state === 'FAILED') return { kind: 'failed', error: `the clone ${clone.name} failed` };
      return { kind: 'running' };
    },
    async isIdle(op, step) {
      const project = param(op, step, 'project');
      // A queued clone has no instance yet: its operation on the source says whether one is coming.
      if (!(await sqlIdle(deps, project, param(op, step, 'sqlInstance'), step, ['CLONE']))) return false;
      const clone = await deps.cloudSql.getInstance(project, param(op, step, 'destinationInstanceName'));
      return clone === undefined || clone.state === 'RUNNABLE' || clone.state === 'FAILED';
    },
  };
}

const FINAL_BACKUP_IN_FLIGHT = new Set<SqlBackupState>(['ENQUEUED', 'RUNNING', 'SQL_BACKUP_STATE_UNSPECIFIED']);

export function sqlFinalBackupDeleteRunner(deps: Deps): StepRunner {
  const description = (op: OperationRecord, step: Step) => `mi:${sideEffectKey(op.id, step.name)}`;
  /**
   * The final backup is a Backup resource of the project (not a run of the deleted instance,
   * whose backupRuns answer 404): the keyed one, a successful one first should there be several.
   */
  const findFinal = async (op: OperationRecord, step: Step): Promise<SqlFinalBackup | undefined> => {
    const key = description(op, step);
    const finals = await deps.cloudSql.listFinalBackups(param(op, step, 'project'), param(op, step, 'sqlInstance')).catch((error: unknown) => {
      if (error instanceof ControlPlaneError && error.code === 'not-found') return [];
      throw error;
    });
    const mine = finals.filter((backup) => backup.description === key);
    return mine.find((backup) => backup.state === 'SUCCESSFUL') ?? mine[0];
  };
  return {
    async start(op, step): Promise<StartResult> {
      const project = param(op, step, 'project');
      const instance = param(op, step, 'sqlInstance');
      // Already gone: an earlier attempt deleted it (with its final backup, checked when polled).
      if ((await deps.cloudSql.getInstance(project, instance)) === undefined) return { kind: 'running', handles: {} };
      const operation = await deps.cloudSql.deleteInstance(project, instance, {
        finalBackup: { retentionDays: Number(param(op, step, 'retentionDays')), description: description(op, step) },
      });
      return { kind: 'running', handles: { sqlOperation: operation.name } };
    },
    async poll(op, step) {
      const project = param(op, step, 'project');
      if (step.handles.sqlOperation !== undefined) {
        const outcome = sqlOperationOutcome(await deps.cloudSql.getOperation(project, step.handles.sqlOperation), `deleting ${param(op, step, 'sqlInstance')}`);
        if (outcome.kind !== 'succeeded') return outcome;
      } else if ((await deps.cloudSql.getInstance(project, param(op, step, 'sqlInstance'))) !== undefined) {
        return { kind: 'running' };
      }
      const final = await findFinal(op, step);
      if (final === undefined) return { kind: 'failed', error: `${param(op, step, 'sqlInstance')} was deleted but its final backup is not listed` };
      if (FINAL_BACKUP_IN_FLIGHT.has(final.state)) return { kind: 'running' };
      if (final.state !== 'SUCCESSFUL') {
        return { kind: 'failed', error: `the final backup ${final.name} is ${final.state}${final.error ? `: ${final.error.message}` : ''}`, handles: { finalBackup: final.name } };
      }
      const completedAt = final.backupInterval?.endTime;
      return { kind: 'succeeded', handles: { finalBackup: final.name, ...(completedAt ? { completedAt } : {}) } };
    },
    async isIdle(op, step) {
      const project = param(op, step, 'project');
      const instance = param(op, step, 'sqlInstance');
      if (!(await sqlIdle(deps, project, instance, step, ['DELETE']))) return false;
      // A delete under way shows as the instance's state even when its operation is not listed.
      return (await deps.cloudSql.getInstance(project, instance))?.state !== 'PENDING_DELETE';
    },
  };
}

/**
 * What each kind of step does in the world. Every side effect carries a key derived from the
 * operation and the step, so a retry after a crash finds what the first attempt started
 * instead of starting it again.
 */
import { createHash } from 'node:crypto';
import { sideEffectKey, type OperationRecord, type Step, type StepKind } from '../domain/operations.js';
import { ControlPlaneError } from '../errors.js';
import type { ExecutorAction } from '../events/index.js';
import type { SqlBackupRun } from '../ports.js';
import type { EngineDeps } from './deps.js';

export type StartResult = { kind: 'running'; handles: Record<string, string> };
export type PollResult =
  | { kind: 'running' }
  | { kind: 'succeeded'; handles?: Record<string, string> }
  | { kind: 'failed'; error: string; handles?: Record<string, string> };

export interface StepRunner {
  /** Starts the step's side effect, or finds the one an earlier attempt started. */
  start(op: OperationRecord, step: Step): Promise<StartResult>;
  /** Reads the outcome of what the step started. */
  poll(op: OperationRecord, step: Step): Promise<PollResult>;
  /** True when nothing the step started is still running (for releasing a stuck operation). */
  isIdle(op: OperationRecord, step: Step): Promise<boolean>;
}

/** The description a keyed Cloud SQL backup run carries, so it can be found again. */
export function sqlBackupDescription(op: OperationRecord, step: Step): string {
  return `mi:${sideEffectKey(op.id, step.name)}`;
}

/** A GKE backup id derived from operation and step: at most 63 characters, lowercase, starting with a letter. */
export function gkeBackupIdFor(operationId: string, stepName: string): string {
  return `mi-${createHash('sha256').update(sideEffectKey(operationId, stepName)).digest('hex').slice(0, 40)}`;
}

function param(op: OperationRecord, name: string): string {
  const value = op.params[name];
  if (typeof value !== 'string' || value === '') {
    throw new ControlPlaneError('failed-precondition', `operation ${op.id} lacks ${name}`, { retryable: false });
  }
  return value;
}

const SQL_RUN_IN_FLIGHT = new Set<SqlBackupRun['status']>(['ENQUEUED', 'RUNNING', 'OVERDUE', 'SQL_BACKUP_RUN_STATUS_UNSPECIFIED']);
/** How many pages of backup runs to search for a keyed run; ours is among the newest. */
const SQL_SEARCH_PAGES = 3;

function sqlBackupRunner(deps: Pick<EngineDeps, 'cloudSql'>): StepRunner {
  const find = async (op: OperationRecord, step: Step): Promise<SqlBackupRun | undefined> => {
    const project = param(op, 'project');
    const instance = param(op, 'sqlInstance');
    const description = sqlBackupDescription(op, step);
    let pageToken: string | undefined;
    for (let page = 0; page < SQL_SEARCH_PAGES; page += 1) {
      const result = await deps.cloudSql.listBackupRuns(project, instance, pageToken ? { pageToken } : {});
      const match = result.items.find((run) => run.description === description);
      if (match) return match;
      pageToken = result.nextPageToken;
      if (!pageToken) return undefined;
    }
    return undefined;
  };
  const current = async (op: OperationRecord, step: Step): Promise<SqlBackupRun | undefined> => {
    const id = step.handles.backupRunId;
    if (id === undefined) return find(op, step);
    return deps.cloudSql.getBackupRun(param(op, 'project'), param(op, 'sqlInstance'), id);
  };
  return {
    async start(op, step): Promise<StartResult> {
      // An insert creates a new run on every call: look for the keyed run first.
      const existing = await find(op, step);
      if (existing) return { kind: 'running', handles: { backupRunId: existing.id } };
      const operation = await deps.cloudSql.insertBackupRun(param(op, 'project'), param(op, 'sqlInstance'), {
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

function gkeBackupRunner(deps: Pick<EngineDeps, 'gkeBackup'>): StepRunner {
  const nameOf = (op: OperationRecord, step: Step) => `${param(op, 'backupPlan')}/backups/${gkeBackupIdFor(op.id, step.name)}`;
  return {
    async start(op, step) {
      const plan = param(op, 'backupPlan');
      try {
        await deps.gkeBackup.createBackup(plan, gkeBackupIdFor(op.id, step.name), {
          description: `mi:${sideEffectKey(op.id, step.name)}`,
          labels: { 'mi-operation-type': op.type, 'mi-instance': op.instanceId },
        });
      } catch (error) {
        // Our id is keyed to this step: a 409 means an earlier attempt created it.
        if (!(error instanceof ControlPlaneError && error.code === 'already-exists')) throw error;
      }
      return { kind: 'running', handles: { gkeBackup: nameOf(op, step) } };
    },
    async poll(op, step) {
      const backup = await deps.gkeBackup.getBackup(step.handles.gkeBackup ?? nameOf(op, step));
      if (backup === undefined) return { kind: 'failed', error: 'the GKE backup no longer exists' };
      if (backup.state === 'SUCCEEDED') {
        return { kind: 'succeeded', handles: { gkeBackup: backup.name, ...(backup.completeTime ? { completedAt: backup.completeTime } : {}) } };
      }
      if (backup.state === 'FAILED' || backup.state === 'DELETING') {
        return { kind: 'failed', error: `GKE backup ${backup.name} ended ${backup.state}${backup.stateReason ? `: ${backup.stateReason}` : ''}` };
      }
      return { kind: 'running' };
    },
    async isIdle(op, step) {
      const backup = await deps.gkeBackup.getBackup(step.handles.gkeBackup ?? nameOf(op, step));
      return backup === undefined || backup.state === 'SUCCEEDED' || backup.state === 'FAILED';
    },
  };
}

function executorRunner(deps: Pick<EngineDeps, 'executor'>): StepRunner {
  const request = async (op: OperationRecord, step: Step) => {
    const runKey = sideEffectKey(op.id, step.name);
    const { action, ...params } = step.params;
    await deps.executor.requestRun({
      runKey,
      action: String(action) as ExecutorAction,
      instanceId: op.instanceId,
      params: { ...params, operationId: op.id },
      actor: op.actor,
      reason: op.reason,
    });
    return runKey;
  };
  return {
    async start(op, step) {
      // The executor deduplicates by run key, so asking again is safe.
      return { kind: 'running', handles: { runKey: await request(op, step) } };
    },
    async poll(op, step) {
      const runKey = step.handles.runKey ?? sideEffectKey(op.id, step.name);
      const status = await deps.executor.getRunStatus(runKey);
      if (status.state === 'succeeded') return { kind: 'succeeded', handles: { runKey } };
      if (status.state === 'failed') return { kind: 'failed', error: `executor run ${runKey} failed: ${status.detail ?? 'no detail'}` };
      // The request may have been lost before the executor saw it: ask again (deduplicated).
      if (status.state === 'unknown') await request(op, step);
      return { kind: 'running' };
    },
    async isIdle(op, step) {
      const status = await deps.executor.getRunStatus(step.handles.runKey ?? sideEffectKey(op.id, step.name));
      return status.state !== 'queued' && status.state !== 'running';
    },
  };
}

/** The runner of each step kind, wired to the ports. */
export function createStepRunners(deps: Pick<EngineDeps, 'cloudSql' | 'gkeBackup' | 'executor'>): Record<StepKind, StepRunner> {
  return {
    'sql-backup': sqlBackupRunner(deps),
    'gke-backup': gkeBackupRunner(deps),
    'executor-run': executorRunner(deps),
  };
}

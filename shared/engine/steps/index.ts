/**
 * What each kind of step does in the world. Every side effect carries a key derived from the
 * operation and the step, or is found again by what it created, so a retry after a crash finds
 * what the first attempt started instead of starting it again.
 */
import { createHash } from 'node:crypto';
import { GKE_BACKUP_CRON, GKE_RETAIN_DAYS, gkeBackupPlanSpec, gkePolicyMismatches, regionOfResource, SQL_BACKUP_POLICY, sqlPolicyMismatches } from '../domain/lifecycle/backup-policy.js';
import { sideEffectKey, type OperationRecord, type Step, type StepKind } from '../domain/lifecycle/operations.js';
import { ControlPlaneError } from '../errors.js';
import type { ExecutorAction } from '../events/index.js';
import type { SqlBackupRun, SqlBackupState, SqlFinalBackup } from '../ports.js';
import { createDrillStepRunners } from './drill-steps.js';
import {
  executorIdle,
  executorOutcome,
  handle,
  param,
  refuseAfterOf,
  sqlIdle,
  sqlOperationOutcome,
  type StartResult,
  type StepDeps as Deps,
  type StepRunner,
} from './step-kit.js';

export type { PollResult, StartResult, StepRunner } from './step-kit.js';

/** The description a keyed Cloud SQL backup run carries, so it can be found again. */
export function sqlBackupDescription(op: OperationRecord, step: Step): string {
  return `mi:${sideEffectKey(op.id, step.name)}`;
}

/** A GKE resource id derived from operation and step: at most 63 characters, lowercase, starting with a letter. */
export function gkeBackupIdFor(operationId: string, stepName: string, prefix = 'mi'): string {
  return `${prefix}-${createHash('sha256').update(sideEffectKey(operationId, stepName)).digest('hex').slice(0, 40)}`;
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

function sqlBackupRunner(deps: Deps): StepRunner {
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

function gkeBackupRunner(deps: Deps): StepRunner {
  const nameOf = (op: OperationRecord, step: Step) => `${param(op, step, 'backupPlan')}/backups/${gkeBackupIdFor(op.id, step.name)}`;
  return {
    async start(op, step) {
      try {
        await deps.gkeBackup.createBackup(param(op, step, 'backupPlan'), gkeBackupIdFor(op.id, step.name), {
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

function executorRunner(deps: Deps): StepRunner {
  return {
    async start(op, step) {
      const runKey = sideEffectKey(op.id, step.name);
      const { action, ...stepParams } = step.params;
      // Asked once per run key (the executor port sends a request once, through the outbox);
      // asking again on a retry is harmless.
      await deps.executor.requestRun({
        runKey,
        action: String(action) as ExecutorAction,
        instanceId: op.instanceId,
        params: { ...op.params, ...stepParams, operationId: op.id },
        actor: op.actor,
        reason: op.reason,
        refuseAfter: refuseAfterOf(step, deps.timings),
      });
      return { kind: 'running', handles: { runKey } };
    },
    poll: (op, step) => executorOutcome(deps, step, step.handles.runKey ?? sideEffectKey(op.id, step.name)),
    isIdle: (op, step) => executorIdle(deps, step, step.handles.runKey ?? sideEffectKey(op.id, step.name)),
  };
}

/** Waits for a second person: the approvals function finishes this step, nothing else does. */
const approvalRunner: StepRunner = {
  start: () => Promise.resolve({ kind: 'running', handles: {} }),
  poll: () => Promise.resolve({ kind: 'running' }),
  isIdle: () => Promise.resolve(true),
};

function sqlConfigureBackupsRunner(deps: Deps): StepRunner {
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

function splitPlanName(name: string): { parent: string; id: string } {
  const match = /^(projects\/[^/]+\/locations\/[^/]+)\/backupPlans\/([^/]+)$/.exec(name);
  if (!match?.[1] || !match[2]) throw new ControlPlaneError('failed-precondition', `not a backup plan name: ${name}`, { retryable: false });
  return { parent: match[1], id: match[2] };
}

function gkeEnsureBackupPlanRunner(deps: Deps): StepRunner {
  return {
    async start(op, step) {
      const name = param(op, step, 'backupPlan');
      const { parent, id } = splitPlanName(name);
      const scheduled = step.params.scheduled !== false;
      const spec = scheduled
        ? gkeBackupPlanSpec(param(op, step, 'gkeCluster'))
        : // A plan that only holds a final backup: no schedule, kept as long as final backups are.
          { ...gkeBackupPlanSpec(param(op, step, 'gkeCluster')), cronSchedule: '', backupRetainDays: Number(step.params.retentionDays ?? GKE_RETAIN_DAYS) };
      try {
        await deps.gkeBackup.createBackupPlan(parent, id, spec);
      } catch (error) {
        if (!(error instanceof ControlPlaneError && error.code === 'already-exists')) throw error;
        // It exists (an earlier attempt, or a plan left by a previous create): bring it to policy.
        if (scheduled) await deps.gkeBackup.updateBackupPlan(name, { ...spec, cronSchedule: GKE_BACKUP_CRON });
      }
      return { kind: 'running', handles: { backupPlan: name } };
    },
    async poll(op, step) {
      const plan = await deps.gkeBackup.getBackupPlan(param(op, step, 'backupPlan'));
      if (plan === undefined) return { kind: 'running' };
      if (plan.state === 'READY') return { kind: 'succeeded', handles: { backupPlan: plan.name } };
      if (plan.state === 'FAILED' || plan.state === 'DEACTIVATED') return { kind: 'failed', error: `GKE backup plan ${plan.name} is ${plan.state}` };
      return { kind: 'running' };
    },
    async isIdle(op, step) {
      const plan = await deps.gkeBackup.getBackupPlan(param(op, step, 'backupPlan'));
      return plan?.state !== 'PROVISIONING';
    },
  };
}

function verifyBackupPolicyRunner(deps: Deps): StepRunner {
  return {
    start: () => Promise.resolve({ kind: 'running', handles: {} }),
    async poll(op, step) {
      const [sql, plan] = await Promise.all([
        deps.cloudSql.getInstance(param(op, step, 'project'), param(op, step, 'sqlInstance')),
        deps.gkeBackup.getBackupPlan(param(op, step, 'backupPlan')),
      ]);
      const problems = [...sqlPolicyMismatches(sql), ...gkePolicyMismatches(plan, param(op, step, 'region'))];
      if (problems.length > 0) return { kind: 'failed', error: `the backup configuration does not meet the policy: ${problems.join('; ')}` };
      return { kind: 'succeeded', handles: { verified: 'sql and gke backup policy' } };
    },
    isIdle: () => Promise.resolve(true),
  };
}

function sqlRestoreBackupRunner(deps: Deps): StepRunner {
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

function sqlCloneRunner(deps: Deps): StepRunner {
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

function gkeRestoreRunner(deps: Deps): StepRunner {
  const names = (op: OperationRecord, step: Step) => {
    const backup = param(op, step, 'backup');
    const plan = backup.replace(/\/backups\/[^/]+$/, '');
    const location = regionOfResource(backup) ?? param(op, step, 'region');
    const parent = `projects/${param(op, step, 'project')}/locations/${location}`;
    const restorePlan = `${parent}/restorePlans/${gkeBackupIdFor(op.id, step.name, 'mi-rp')}`;
    return { backup, plan, parent, restorePlan, restore: `${restorePlan}/restores/${gkeBackupIdFor(op.id, step.name, 'mi-r')}` };
  };
  const ignoreExisting = async (call: () => Promise<unknown>) => {
    try {
      await call();
    } catch (error) {
      // Keyed ids: a 409 means an earlier attempt created it.
      if (!(error instanceof ControlPlaneError && error.code === 'already-exists')) throw error;
    }
  };
  return {
    async start(op, step) {
      const n = names(op, step);
      await ignoreExisting(() => deps.gkeBackup.createRestorePlan(n.parent, gkeBackupIdFor(op.id, step.name, 'mi-rp'), { backupPlan: n.plan, cluster: param(op, step, 'gkeCluster') }));
      await ignoreExisting(() => deps.gkeBackup.createRestore(n.restorePlan, gkeBackupIdFor(op.id, step.name, 'mi-r'), { backup: n.backup }));
      return { kind: 'running', handles: { restore: n.restore } };
    },
    async poll(op, step) {
      const restore = await deps.gkeBackup.getRestore(step.handles.restore ?? names(op, step).restore);
      if (restore === undefined) return { kind: 'failed', error: 'the GKE restore no longer exists' };
      if (restore.state === 'SUCCEEDED') return { kind: 'succeeded', handles: { restore: restore.name } };
      if (restore.state === 'FAILED' || restore.state === 'DELETING') {
        return { kind: 'failed', error: `GKE restore ${restore.name} ended ${restore.state}${restore.stateReason ? `: ${restore.stateReason}` : ''}` };
      }
      return { kind: 'running' };
    },
    async isIdle(op, step) {
      const restore = await deps.gkeBackup.getRestore(step.handles.restore ?? names(op, step).restore);
      return restore === undefined || restore.state === 'SUCCEEDED' || restore.state === 'FAILED';
    },
  };
}

const FINAL_BACKUP_IN_FLIGHT = new Set<SqlBackupState>(['ENQUEUED', 'RUNNING', 'SQL_BACKUP_STATE_UNSPECIFIED']);

function sqlFinalBackupDeleteRunner(deps: Deps): StepRunner {
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

/** The runner of each step kind, wired to the ports. */
export function createStepRunners(deps: Deps): Record<StepKind, StepRunner> {
  return {
    'sql-backup': sqlBackupRunner(deps),
    'gke-backup': gkeBackupRunner(deps),
    'executor-run': executorRunner(deps),
    approval: approvalRunner,
    'sql-configure-backups': sqlConfigureBackupsRunner(deps),
    'gke-ensure-backup-plan': gkeEnsureBackupPlanRunner(deps),
    'verify-backup-policy': verifyBackupPolicyRunner(deps),
    'sql-restore-backup': sqlRestoreBackupRunner(deps),
    'sql-clone': sqlCloneRunner(deps),
    'gke-restore': gkeRestoreRunner(deps),
    'sql-final-backup-delete': sqlFinalBackupDeleteRunner(deps),
    ...createDrillStepRunners(deps),
  };
}

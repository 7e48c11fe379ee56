/**
 * Backup for GKE steps: a keyed backup, a backup plan brought to policy, and a restore (its
 * restore plan and restore keyed too). A 409 on a keyed id means an earlier attempt created it.
 */
import { createHash } from 'node:crypto';
import { GKE_BACKUP_CRON, GKE_RETAIN_DAYS, gkeBackupPlanSpec, regionOfResource } from '../../domain/lifecycle/backup-policy.js';
import { sideEffectKey, type OperationRecord, type Step } from '../../domain/lifecycle/operations.js';
import { ControlPlaneError } from '../../errors.js';
import type { GkeBackupChannel } from '../../ports.js';
import { param, type StepDeps as Deps, type StepRunner } from './kit.js';

/** A GKE resource id derived from operation and step: at most 63 characters, lowercase, starting with a letter. */
export function gkeBackupIdFor(operationId: string, stepName: string, prefix = 'mi'): string {
  return `${prefix}-${createHash('sha256').update(sideEffectKey(operationId, stepName)).digest('hex').slice(0, 40)}`;
}

export function gkeBackupRunner(deps: Deps): StepRunner {
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

function splitPlanName(name: string): { parent: string; id: string } {
  const match = /^(projects\/[^/]+\/locations\/[^/]+)\/backupPlans\/([^/]+)$/.exec(name);
  if (!match?.[1] || !match[2]) throw new ControlPlaneError('failed-precondition', `not a backup plan name: ${name}`, { retryable: false });
  return { parent: match[1], id: match[2] };
}

export function gkeEnsureBackupPlanRunner(deps: Deps): StepRunner {
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

/**
 * The backup channel from the instance's project and region to the central backup project, so
 * its final GKE backup can be kept there: made once, found again by its name; one that sends
 * backups elsewhere is a person's to look at, never changed here (the field is immutable).
 */
export function gkeEnsureBackupChannelRunner(deps: Deps): StepRunner {
  const read = async (op: OperationRecord, step: Step) => deps.gkeBackup.getBackupChannel(param(op, step, 'backupChannel'));
  const check = (channel: GkeBackupChannel, op: OperationRecord, step: Step) => {
    const wanted = param(op, step, 'destinationProject');
    if (channel.destinationProject !== wanted) {
      throw new ControlPlaneError('failed-precondition', `backup channel ${channel.name} sends backups to ${channel.destinationProject}, not to the central backup project ${wanted}: delete it or point the control plane at that project`, { retryable: false });
    }
  };
  return {
    async start(op, step) {
      const name = param(op, step, 'backupChannel');
      const existing = await read(op, step);
      if (existing !== undefined) {
        check(existing, op, step);
        return { kind: 'running', handles: { backupChannel: name } };
      }
      const { parent, id } = splitChannelName(name);
      try {
        await deps.gkeBackup.createBackupChannel(parent, id, { destinationProject: param(op, step, 'destinationProject'), labels: { 'managed-by': 'mi-control-plane' } });
      } catch (error) {
        if (!(error instanceof ControlPlaneError && error.code === 'already-exists')) throw error;
      }
      return { kind: 'running', handles: { backupChannel: name } };
    },
    async poll(op, step) {
      const channel = await read(op, step);
      if (channel === undefined) return { kind: 'running' };
      if (channel.destinationProject !== param(op, step, 'destinationProject')) return { kind: 'failed', error: `backup channel ${channel.name} sends backups to ${channel.destinationProject}, not to ${param(op, step, 'destinationProject')}` };
      return { kind: 'succeeded', handles: { backupChannel: channel.name, destinationProject: channel.destinationProject } };
    },
    // Creating a channel is immediate: nothing of it runs on.
    isIdle: () => Promise.resolve(true),
  };
}

function splitChannelName(name: string): { parent: string; id: string } {
  const match = /^(projects\/[^/]+\/locations\/[^/]+)\/backupChannels\/([^/]+)$/.exec(name);
  if (!match?.[1] || !match[2]) throw new ControlPlaneError('failed-precondition', `not a backup channel name: ${name}`, { retryable: false });
  return { parent: match[1], id: match[2] };
}

export function gkeRestoreRunner(deps: Deps): StepRunner {
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

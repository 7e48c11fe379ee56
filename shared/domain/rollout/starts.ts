/**
 * What starting one member of a fan-out asks of the engine: an upgrade to the rollout's
 * version, the workflow's action (a module's plan or the apply of its saved plan, a backup, the read-only checks), or
 * a merge's module apply (of the plan a person confirmed, for a confirm module). Every command names its fan-out, so the engine refuses it once the fan-out halted or
 * was aborted (`rollout-halted`) and its facts come back to the member.
 */
import type { LifecycleCommandType } from '../../events/index.js';
import type { PlannedStart } from './planner.js';
import type { RolloutRecord } from './types.js';
import { checksOf, workflowApplyId } from './workflow.js';

export interface MemberCommand {
  type: LifecycleCommandType;
  payload: Record<string, unknown>;
  reason: string;
}

/** The command that starts `candidate`, or why there is none (a workflow recorded without what its action needs). */
export function memberCommand(fanOut: Pick<RolloutRecord, 'id' | 'kind' | 'targetVersion' | 'commit' | 'workflow' | 'moduleChange'>, candidate: Pick<PlannedStart, 'instanceId' | 'wave' | 'planDigest' | 'applyId'>): MemberCommand {
  const where = `${fanOut.kind ?? 'rollout'} ${fanOut.id}, wave ${candidate.wave}`;
  const change = fanOut.moduleChange;
  if (fanOut.kind === 'module-change' && change !== undefined) {
    if (candidate.applyId === undefined) throw new Error(`module change ${fanOut.id}: ${candidate.instanceId} names no module apply`);
    return {
      type: 'instance.module-apply',
      // A confirmed plan is applied as the saved file of that digest, never planned afresh (a plan run that reported no digest applies the commit afresh, as mi apply show says).
      payload: { module: change.module, commit: change.commit, action: 'apply', applyId: candidate.applyId, rolloutId: fanOut.id, ...(candidate.planDigest === undefined ? {} : { planDigest: candidate.planDigest }) },
      reason: `apply of module ${change.module} at ${change.commit.slice(0, 12)} (${candidate.applyId}; ${where})`,
    };
  }
  const task = fanOut.workflow;
  if (fanOut.kind !== 'workflow' || task === undefined) {
    return { type: 'instance.upgrade', payload: { targetVersion: fanOut.targetVersion, rolloutId: fanOut.id, ...(fanOut.commit === undefined ? {} : { commit: fanOut.commit }) }, reason: where };
  }
  switch (task.action) {
    case 'backup':
      return { type: 'instance.backup', payload: { rolloutId: fanOut.id, note: `workflow ${fanOut.id}` }, reason: where };
    case 'health':
    case 'check':
      return { type: 'instance.check', payload: { checks: checksOf(task.action) ?? [], rolloutId: fanOut.id, note: `workflow ${fanOut.id}` }, reason: where };
    case 'plan':
    case 'apply': {
      if (task.module === undefined || task.commit === undefined) throw new Error(`workflow ${fanOut.id} names no module and commit for its ${task.action}`);
      const digest = task.action === 'apply' ? candidate.planDigest : undefined;
      if (task.action === 'apply' && digest === undefined) throw new Error(`workflow ${fanOut.id}: ${candidate.instanceId} has no saved plan to apply`);
      return {
        type: 'instance.module-apply',
        payload: { module: task.module, commit: task.commit, action: task.action, applyId: workflowApplyId(fanOut.id, candidate.instanceId), rolloutId: fanOut.id, ...(digest === undefined ? {} : { planDigest: digest }) },
        reason: `${task.action} of module ${task.module} at ${task.commit.slice(0, 12)} (${where})`,
      };
    }
  }
}

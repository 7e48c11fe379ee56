/**
 * An operator's pause, resume, promote or abort: the domain decides (controlRollout), this
 * writes the rollout and the audit record (who and why) in one transaction, and ticks a
 * rollout that runs again; a second person's approval of a workflow that changes prod.
 */
import { approveWorkflow, controlRollout, OPEN_STATES, type InstanceProgress, type RolloutAction, type RolloutRecord } from '../domain/rollout/index.js';
import type { ModuleApplyRecord } from '../domain/deployments/applies.js';
import type { StoreTransaction } from '../ports.js';
import { deploymentPaths, rolloutPaths } from '../store/collections.js';
import { appendAudit } from '../store/records.js';
import type { RolloutContext } from './deps.js';
import { publishTick } from './publish.js';

export type ControlOutcome = { kind: 'changed'; rollout: RolloutRecord; detail: string } | { kind: 'refused'; message: string };

/** An operator's pause, resume, promote or abort; audited with who and why. */
export async function control(ctx: RolloutContext, rolloutId: string, action: RolloutAction, actor: string, reason: string): Promise<ControlOutcome> {
  const outcome = await ctx.store.transaction(async (tx): Promise<ControlOutcome> => {
    const now = ctx.clock.now();
    const rollout = await tx.get<RolloutRecord>(rolloutPaths.rollout(rolloutId));
    if (rollout === undefined) return { kind: 'refused', message: `no rollout ${rolloutId} (mi rollout status lists the latest)` };
    const failuresNow = action === 'resume' ? await failuresOfHaltedWave(tx, rolloutId, rollout) : undefined;
    const decision = controlRollout(rollout, action, { actor, now, ...(failuresNow === undefined ? {} : { failuresNow }) });
    if (decision.kind === 'refused') return decision;
    const next = { ...decision.rollout, revision: rollout.revision + 1, lastWriteAt: now.toISOString() };
    tx.set(rolloutPaths.rollout(rolloutId), next);
    appendAudit(
      tx,
      {
        actor,
        action: `rollout.${action}`,
        instanceId: null,
        operationId: null,
        before: { status: rollout.status, halt: rollout.halt },
        after: { status: next.status, waveStates: next.waveStates },
        causeEventId: null,
        rolloutId,
        reason,
        detail: decision.detail,
      },
      now,
    );
    return { kind: 'changed', rollout: next, detail: decision.detail };
  });
  if (outcome.kind === 'changed' && outcome.rollout.status === 'running') await publishTick(ctx, rolloutId, 'control');
  if (outcome.kind === 'changed' && action === 'abort' && outcome.rollout.kind === 'module-change') await haltUnstartedApplies(ctx, rolloutId, actor, reason);
  return outcome;
}

/** An aborted module change's applies that never started: halted, saying who aborted it and why (mi apply list shows it). */
async function haltUnstartedApplies(ctx: RolloutContext, fanOutId: string, actor: string, reason: string): Promise<void> {
  const open = await ctx.store.query<InstanceProgress>({ collection: rolloutPaths.progressCollection(fanOutId), where: [{ field: 'state', op: 'in', value: [...OPEN_STATES] }] });
  for (const { data: member } of open) {
    const applyId = member.applyId;
    if (applyId === undefined) continue;
    await ctx.store.transaction(async (tx) => {
      const now = ctx.clock.now();
      const apply = await tx.get<ModuleApplyRecord>(deploymentPaths.moduleApply(applyId));
      if (apply === undefined || !NOT_STARTED.includes(apply.status)) return;
      const failure = `its module change ${fanOutId} was aborted by ${actor}: ${reason}`;
      tx.update(deploymentPaths.moduleApply(applyId), { status: 'halted', failure, updatedAt: now.toISOString() });
      appendAudit(tx, { actor, action: 'module-apply.halted', instanceId: apply.instanceId, operationId: null, before: { status: apply.status }, after: { status: 'halted' }, causeEventId: apply.causeEventId, applyId, rolloutId: fanOutId, reason: failure }, now);
    });
  }
}

const NOT_STARTED: readonly ModuleApplyRecord['status'][] = ['waiting', 'planning', 'awaiting-confirmation', 'confirmed'];

/** The failures so far of a halted rollout's halted wave (what resuming accepts), or undefined when it is not halted. */
async function failuresOfHaltedWave(tx: StoreTransaction, rolloutId: string, rollout: RolloutRecord): Promise<number | undefined> {
  const haltedWave = rollout.halt?.wave;
  if (rollout.status !== 'halted' || haltedWave === undefined) return undefined;
  return tx.count({
    collection: rolloutPaths.progressCollection(rolloutId),
    where: [
      { field: 'wave', op: '==', value: haltedWave },
      { field: 'state', op: '==', value: 'failed' },
    ],
  });
}

export type ApproveOutcome = ControlOutcome | { kind: 'self-approval'; message: string };

/** A second person's approval of a workflow that changes prod; audited with who and why, then ticked. */
export async function approve(ctx: RolloutContext, workflowId: string, approver: string, reason: string): Promise<ApproveOutcome> {
  const outcome = await ctx.store.transaction(async (tx): Promise<ApproveOutcome> => {
    const now = ctx.clock.now();
    const found = await tx.get<RolloutRecord>(rolloutPaths.rollout(workflowId));
    if (found === undefined) return { kind: 'refused', message: `no workflow ${workflowId} (mi workflow status lists the latest)` };
    const decision = approveWorkflow(found, { approver, now, reason });
    if (decision.kind !== 'changed') return decision;
    const next = { ...decision.rollout, revision: found.revision + 1, lastWriteAt: now.toISOString() };
    tx.set(rolloutPaths.rollout(workflowId), next);
    appendAudit(
      tx,
      { actor: approver, action: 'workflow.approved', instanceId: null, operationId: null, before: { status: found.status }, after: { status: next.status, approvedBy: approver }, causeEventId: null, rolloutId: workflowId, reason, requestedBy: found.actor },
      now,
    );
    return { kind: 'changed', rollout: next, detail: decision.detail };
  });
  if (outcome.kind === 'changed') await publishTick(ctx, workflowId, 'control');
  return outcome;
}

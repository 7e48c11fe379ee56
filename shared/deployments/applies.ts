/**
 * Module applies (`moduleApplies/{id}`): created once per instance, module and commit from a
 * push (superseding unconfirmed older ones; a plan asked for at once where one is needed), and
 * moved on by group (one module at one commit) in waves: the next wave starts when the one
 * before it has applied, and a failure halts the waves after it.
 */
import type { InstanceChange } from '../domain/deployments/changes.js';
import { INSTANCE_DELETE_MODULE, applyModeOf, moduleApplyId, planGroup, supersession, waveOf, type ModuleApplyRecord } from '../domain/deployments/applies.js';
import { appendAudit, type OutboxEntry } from '../store/records.js';
import type { InstanceRecord } from '../events/index.js';
import { COLLECTIONS, deploymentPaths } from '../store/collections.js';
import { currentAttempt, moduleCommand } from './commands.js';
import type { ConsumerContext, HandledPush, Push } from './model.js';

/** The apply a push asks of one instance's module, before it is compared with the ones recorded. */
function newApply(autoApply: readonly string[], push: Push, instance: Pick<InstanceRecord, 'id' | 'environment' | 'tier'>, module: string, now: Date): ModuleApplyRecord {
  const { after, committedAt, repository, mergedBy, authors } = push.payload;
  const kind = module === INSTANCE_DELETE_MODULE ? 'instance-delete' : 'module';
  const mode = kind === 'instance-delete' ? 'confirm' : applyModeOf(module, autoApply);
  return {
    id: moduleApplyId(instance.id, module, after),
    kind,
    instanceId: instance.id,
    environment: instance.environment,
    tier: instance.tier,
    module,
    commit: after,
    committedAt,
    repository,
    mode,
    wave: waveOf(instance),
    status: kind === 'instance-delete' ? 'awaiting-confirmation' : mode === 'auto' ? 'waiting' : 'planning',
    request: null,
    operationId: null,
    planSummary: kind === 'instance-delete' ? `delete instance ${instance.id}: its folder was removed` : null,
    confirmedBy: null,
    confirmedAt: null,
    supersededBy: null,
    failure: null,
    causeEventId: push.eventId,
    mergedBy,
    ...(authors === undefined ? {} : { authors: [...authors] }),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
}

/** Creates the apply (once per instance, module and commit), superseding unconfirmed older ones; a plan is asked for at once. */
export async function recordApply(ctx: ConsumerContext, push: Push, instance: InstanceRecord, module: string): Promise<string> {
  const now = ctx.clock.now();
  const apply = newApply(ctx.autoApply, push, instance, module, now);
  const planAttempt = apply.status === 'planning' ? await currentAttempt(ctx.store, apply.commit, apply.instanceId, `${module}:plan`) : undefined;
  const outbox = await ctx.store.transaction(async (tx) => {
    if ((await tx.get(deploymentPaths.moduleApply(apply.id))) !== undefined) return [];
    const others = await tx.query<ModuleApplyRecord>({
      collection: COLLECTIONS.moduleApplies,
      where: [
        { field: 'instanceId', op: '==', value: apply.instanceId },
        { field: 'module', op: '==', value: module },
      ],
    });
    const decided = supersession(apply, others.map((o) => o.data));
    const record: ModuleApplyRecord = decided.supersededBy === null ? apply : { ...apply, status: 'superseded', supersededBy: decided.supersededBy };
    const entries: OutboxEntry[] = [];
    if (record.status === 'planning' && planAttempt !== undefined) {
      record.request = { eventId: planAttempt.eventId, action: 'plan', attempt: planAttempt.attempt, at: now.toISOString() };
      entries.push(moduleCommand(tx, record, 'plan', planAttempt.eventId, push.actor, now));
    }
    tx.create(deploymentPaths.moduleApply(record.id), { ...record });
    for (const id of decided.supersede) {
      tx.update(deploymentPaths.moduleApply(id), { status: 'superseded', supersededBy: record.id, updatedAt: now.toISOString() });
    }
    appendAudit(
      tx,
      {
        actor: push.actor,
        action: 'module-apply.recorded',
        instanceId: record.instanceId,
        operationId: null,
        before: null,
        after: { status: record.status, mode: record.mode, wave: record.wave },
        causeEventId: push.eventId,
        applyId: record.id,
        module,
        commit: record.commit,
        superseded: decided.supersede,
      },
      now,
    );
    return entries;
  });
  await ctx.publish(outbox);
  return apply.id;
}

/** A removed instance folder: the delete of the instance, recorded to wait for a person's confirmation. */
export async function instanceRemoved(ctx: ConsumerContext, push: Push, change: InstanceChange, instance: InstanceRecord | undefined, result: HandledPush): Promise<void> {
  if (instance === undefined || instance.status === 'deleted') {
    ctx.log.info('an instance folder was removed for an instance that does not exist', { instanceId: change.instanceId });
    return;
  }
  result.applies.push(await recordApply(ctx, push, instance, INSTANCE_DELETE_MODULE));
}

/** Starts the applies whose wave may go, halts what an earlier failure stops. */
export async function advanceGroup(ctx: ConsumerContext, module: string, commit: string): Promise<void> {
  const group = await ctx.store.query<ModuleApplyRecord>({
    collection: COLLECTIONS.moduleApplies,
    where: [
      { field: 'module', op: '==', value: module },
      { field: 'commit', op: '==', value: commit },
    ],
  });
  const decisions = planGroup(group.map((d) => d.data));
  for (const decision of decisions) {
    const apply = group.find((d) => d.id === decision.id)?.data;
    if (apply === undefined) continue;
    const attempt = decision.action === 'start-apply' ? await currentAttempt(ctx.store, apply.commit, apply.instanceId, `${apply.module}:apply`) : undefined;
    const outbox = await ctx.store.transaction(async (tx) => {
      const now = ctx.clock.now();
      const current = await tx.get<ModuleApplyRecord>(deploymentPaths.moduleApply(decision.id));
      if (current === undefined) return [];
      if (decision.action === 'halt') {
        if (!['waiting', 'confirmed', 'awaiting-confirmation', 'planning'].includes(current.status)) return [];
        tx.update(deploymentPaths.moduleApply(current.id), { status: 'halted', failure: decision.reason, updatedAt: now.toISOString() });
        appendAudit(tx, { actor: 'system:deployments', action: 'module-apply.halted', instanceId: current.instanceId, operationId: null, before: { status: current.status }, after: { status: 'halted' }, causeEventId: current.causeEventId, applyId: current.id, reason: decision.reason }, now);
        return [];
      }
      if ((current.status !== 'waiting' && current.status !== 'confirmed') || attempt === undefined) return [];
      const request = { eventId: attempt.eventId, action: 'apply' as const, attempt: attempt.attempt, at: now.toISOString() };
      tx.update(deploymentPaths.moduleApply(current.id), { status: 'applying', request, operationId: null, updatedAt: now.toISOString() });
      appendAudit(tx, { actor: current.confirmedBy ?? 'system:deployments', action: 'module-apply.started', instanceId: current.instanceId, operationId: null, before: { status: current.status }, after: { status: 'applying' }, causeEventId: current.causeEventId, applyId: current.id, wave: current.wave }, now);
      return [moduleCommand(tx, current, 'apply', attempt.eventId, current.confirmedBy ?? `github:${current.mergedBy}`, now)];
    });
    await ctx.publish(outbox);
  }
}

/** Advances every group named `module\ncommit` in `groups`, one after the other. */
export async function advanceGroups(ctx: ConsumerContext, groups: Iterable<string>): Promise<void> {
  for (const group of groups) {
    const [module = '', commit = ''] = group.split('\n');
    await advanceGroup(ctx, module, commit);
  }
}

/**
 * Module applies (`moduleApplies/{id}`): created once per instance, module and commit from a
 * push (superseding unconfirmed older ones, and their members; a plan asked for at once where
 * one is needed). Each module at one commit is a module change on the rollout planner, which
 * starts the applies in waves and windows and halts on a failure.
 */
import type { InstanceChange } from '../domain/deployments/changes.js';
import { INSTANCE_DELETE_MODULE, applyModeOf, moduleApplyId, supersession, waveOf, type ModuleApplyRecord } from '../domain/deployments/applies.js';
import { moduleChangeId, supersededMember, type InstanceProgress } from '../domain/rollout/index.js';
import { appendAudit, type OutboxEntry } from '../store/records.js';
import type { InstanceRecord } from '../events/index.js';
import { COLLECTIONS, deploymentPaths, paths, rolloutPaths } from '../store/collections.js';
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
    // Their members in their module changes: skipped, before they start (read before any write).
    const superseded = decided.supersede.map((id) => others.find((o) => o.id === id)?.data).filter((o): o is ModuleApplyRecord => o !== undefined);
    const memberPaths = superseded.map((o) => rolloutPaths.progress(moduleChangeId(o.module, o.commit), o.instanceId));
    const members = memberPaths.length === 0 ? [] : await tx.getAll<InstanceProgress>(memberPaths);
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
    members.forEach((member, i) => {
      const next = member === undefined ? undefined : supersededMember(member, record.id, now);
      const path = memberPaths[i];
      if (next !== undefined && path !== undefined) tx.set(path, next);
    });
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

/**
 * Records the module change of `module` at `commit` on the rollout planner, from its applies
 * as recorded (each with its instance as it is now), unless it is already. The push records it
 * once its applies are; the schedule's tick records one a crash left unrecorded.
 */
export async function recordModuleChange(ctx: ConsumerContext, module: string, commit: string): Promise<void> {
  const group = (await ctx.store.query<ModuleApplyRecord>({
    collection: COLLECTIONS.moduleApplies,
    where: [
      { field: 'module', op: '==', value: module },
      { field: 'commit', op: '==', value: commit },
    ],
  })).map((d) => d.data).filter((a) => a.kind === 'module');
  const first = group[0];
  if (first === undefined) return;
  const instances = await Promise.all(group.map((a) => ctx.store.get<InstanceRecord>(paths.instance(a.instanceId))));
  const candidates = group.flatMap((apply, i) => {
    const instance = instances[i];
    if (instance === undefined || instance.status === 'deleted') return [];
    return [{ applyId: apply.id, mode: apply.mode, status: apply.status, confirmedDigest: apply.confirmedDigest ?? null, actor: apply.confirmedBy ?? `github:${apply.mergedBy}`, instance }];
  });
  const outcome = await ctx.fanOuts.startModuleChange({
    change: { module, commit, repository: first.repository, mode: first.mode, causeEventId: first.causeEventId },
    candidates,
    actor: `github:${first.mergedBy}`,
    reason: `module ${module} changed at ${commit.slice(0, 12)} (${first.repository})`,
  });
  if (outcome.kind === 'started') ctx.log.info('a module change runs on the planner', { fanOutId: outcome.fanOut.id, module, commit, members: outcome.fanOut.membership.sizes });
}

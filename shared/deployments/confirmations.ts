/**
 * A person's confirmation of a plan (or of the delete of a removed instance), by apply id or for
 * every instance of one module at one commit: recorded with the verified caller on each apply,
 * a delete asked of the engine at once, a module's apply made eligible in its module change.
 */
import { confirmerProblem } from '../domain/deployments/confirmers.js';
import type { ModuleApplyRecord } from '../domain/deployments/applies.js';
import { appendAudit } from '../store/records.js';
import type { InstanceRecord } from '../events/index.js';
import type { VerifiedCaller } from '../ports.js';
import { COLLECTIONS, deploymentPaths, paths } from '../store/collections.js';
import { moduleChangeId } from '../domain/rollout/index.js';
import { currentAttempt, moduleCommand } from './commands.js';
import type { ConfirmOutcome, ConsumerContext } from './model.js';

/** What a confirmation names: one apply, or a module at a commit (a prefix of it will do). */
export type ConfirmTarget = { id: string } | { module: string; commit: string };

/** The applies a confirmation names, or why there are none. */
async function candidatesOf(ctx: ConsumerContext, target: ConfirmTarget): Promise<ModuleApplyRecord[] | Extract<ConfirmOutcome, { kind: 'refused' }>> {
  if ('id' in target) {
    const one = await ctx.store.get<ModuleApplyRecord>(deploymentPaths.moduleApply(target.id));
    if (one === undefined) return { kind: 'refused', code: 'not-found', message: `no module apply ${target.id}` };
    return [one];
  }
  const docs = await ctx.store.query<ModuleApplyRecord>({ collection: COLLECTIONS.moduleApplies, where: [{ field: 'module', op: '==', value: target.module }] });
  const candidates = docs.map((d) => d.data).filter((d) => d.commit.startsWith(target.commit));
  if (candidates.length === 0) return { kind: 'refused', code: 'not-found', message: `no module apply of ${target.module} at ${target.commit}` };
  return candidates;
}

/** Confirms one apply that awaits it, in one transaction; false when it no longer awaits confirmation. */
async function confirmOne(ctx: ConsumerContext, apply: ModuleApplyRecord, caller: VerifiedCaller): Promise<boolean> {
  const deleteAttempt = apply.kind === 'instance-delete' ? await currentAttempt(ctx.store, apply.commit, apply.instanceId, 'delete') : undefined;
  const outbox = await ctx.store.transaction(async (tx) => {
    const now = ctx.clock.now();
    const current = await tx.get<ModuleApplyRecord>(deploymentPaths.moduleApply(apply.id));
    const instance = apply.kind === 'instance-delete' ? await tx.get<InstanceRecord>(paths.instance(apply.instanceId)) : undefined;
    if (current?.status !== 'awaiting-confirmation') return undefined;
    // The plan the person saw, by its digest: the apply applies exactly that saved file.
    const by = { confirmedBy: caller.email, confirmedAt: now.toISOString(), updatedAt: now.toISOString(), confirmedDigest: current.plan?.digest ?? null };
    appendAudit(tx, { actor: caller.email, action: 'module-apply.confirmed', instanceId: current.instanceId, operationId: null, before: { status: current.status }, after: { status: 'confirmed', planDigest: by.confirmedDigest }, causeEventId: current.causeEventId, applyId: current.id, verifiedSubject: caller.subject, planSummary: current.planSummary }, now);
    if (current.kind === 'instance-delete' && deleteAttempt !== undefined) {
      const request = { eventId: deleteAttempt.eventId, action: 'delete' as const, attempt: deleteAttempt.attempt, at: now.toISOString() };
      const withSlug = { ...current, ...by, confirmSlug: instance?.slug ?? '' };
      tx.update(deploymentPaths.moduleApply(current.id), { ...by, confirmSlug: withSlug.confirmSlug, status: 'applying', request });
      return [moduleCommand(tx, withSlug, 'delete', deleteAttempt.eventId, caller.email, now)];
    }
    tx.update(deploymentPaths.moduleApply(current.id), { ...by, status: 'confirmed' });
    return { confirmedDigest: by.confirmedDigest };
  });
  if (outbox === undefined) return false;
  if (Array.isArray(outbox)) await ctx.publish(outbox);
  // Its member in the module change may start now, in its wave and window (the tick repairs this if it is cut off here).
  else await ctx.fanOuts.confirmMember(moduleChangeId(apply.module, apply.commit), apply.instanceId, { planDigest: outbox.confirmedDigest, by: caller.email });
  return true;
}

/**
 * A person confirms a plan (or a delete), by apply id or for every instance of one module
 * at one commit. `caller` comes from a verified ID token; it is recorded on each apply.
 */
export async function confirm(ctx: ConsumerContext, target: ConfirmTarget, caller: VerifiedCaller): Promise<ConfirmOutcome> {
  const candidates = await candidatesOf(ctx, target);
  if (!Array.isArray(candidates)) return candidates;
  const waiting = candidates.filter((c) => c.status === 'awaiting-confirmation');
  // The pusher and the authors are the change's own people: a second person confirms it.
  const problem = waiting.map((apply) => confirmerProblem(apply, caller.email, ctx.githubIdentities)).find((p) => p !== undefined);
  if (problem !== undefined) return { kind: 'refused', code: 'same-person', message: problem };
  if (waiting.length === 0) {
    return { kind: 'refused', code: 'not-awaiting-confirmation', message: `nothing waits for confirmation there (${candidates.map((c) => `${c.id}: ${c.status}`).join(', ')})` };
  }
  const confirmed: string[] = [];
  for (const apply of waiting) {
    if (await confirmOne(ctx, apply, caller)) confirmed.push(apply.id);
  }
  return { kind: 'confirmed', confirmed, by: caller.email };
}

/**
 * The schedule's tick on `mi-deployments`: module applies asked of the engine are moved on from
 * what the engine's ledger, the operation and the executor say (a plan asked again when
 * unanswered or busy; an apply's busy answer is its module change's to retry), what a cut-off
 * push or confirmation left undone is repaired, and the spec changes that wait for a lease or an
 * answer move on.
 */
import { changeEventId } from '../domain/deployments/changes.js';
import { ACTIVE_APPLY_STATUSES, planFactsOf, type ModuleApplyRecord } from '../domain/deployments/applies.js';
import type { OperationRecord } from '../domain/lifecycle/operations.js';
import { sideEffectKey } from '../domain/lifecycle/operations.js';
import { appendAudit, type LedgerEntry, type OutboxEntry } from '../store/records.js';
import { describeError } from '../errors.js';
import { COLLECTIONS, deploymentPaths, paths, rolloutPaths } from '../store/collections.js';
import { recordModuleChange } from './applies.js';
import { moduleChangeId } from '../domain/rollout/index.js';
import { MAX_ATTEMPTS, moduleCommand, REPUBLISH_AFTER_MS } from './commands.js';
import type { ConsumerContext } from './model.js';

/** What the tick did: applies synced, groups advanced, spec changes moved on. */
export interface TickSummary {
  synced: number;
  groups: number;
  specChanges: { active: number; moved: number };
}

/** Moves one asked-for or running apply on from what the engine and the executor say. */
export async function syncApply(ctx: ConsumerContext, apply: ModuleApplyRecord): Promise<void> {
  const now = ctx.clock.now();
  let change: Partial<ModuleApplyRecord> | undefined;
  let retry: { eventId: string; attempt: number } | undefined;
  const fanOut = apply.request?.fanOut;
  let notStarted: 'busy' | 'after-resume' = 'busy';
  if (apply.request !== null && apply.operationId === null) {
    const answered = await ctx.store.get<LedgerEntry>(paths.ledger(apply.request.eventId));
    if (answered === undefined) {
      // A module change's tick asked through its outbox; its leak check frees a command never accepted.
      if (fanOut !== undefined || now.getTime() - Date.parse(apply.request.at) < REPUBLISH_AFTER_MS) return;
      retry = { eventId: apply.request.eventId, attempt: apply.request.attempt };
    } else if (answered.outcome === 'accepted' && answered.operationId !== null) {
      change = { operationId: answered.operationId };
    } else if (fanOut !== undefined && (answered.code === 'busy' || answered.code === 'rollout-halted')) {
      // Not started: its member waits in the module change, which asks again (busy) or after a resume.
      change = { status: apply.mode === 'auto' ? 'waiting' : 'confirmed', request: null };
      notStarted = answered.code === 'busy' ? 'busy' : 'after-resume';
    } else if (answered.code === 'busy' && apply.request.attempt + 1 < MAX_ATTEMPTS) {
      // Busy is never a failure: ask again under the next attempt's id.
      const subject = `${apply.module}:${apply.request.action}`;
      retry = { eventId: changeEventId(apply.commit, apply.instanceId, subject, apply.request.attempt + 1), attempt: apply.request.attempt + 1 };
    } else {
      change = { status: 'failed', failure: `the engine refused the ${apply.request.action}: ${answered.code ?? answered.outcome}: ${answered.reason ?? ''}` };
    }
  }
  const operationId = change?.operationId ?? apply.operationId;
  if (operationId !== null && operationId !== undefined && change?.status === undefined) {
    const op = await ctx.store.get<OperationRecord>(paths.operation(operationId));
    if (op?.status === 'succeeded') {
      if (apply.status === 'planning') {
        const step = op.steps.find((s) => s.kind === 'executor-run');
        const runKey = step?.handles.runKey ?? sideEffectKey(op.id, step?.name ?? 'plan');
        const status = await ctx.executor.getRunStatus(runKey).catch((error: unknown) => ({ state: 'unknown' as const, detail: `plan summary unavailable: ${describeError(error)}` }));
        const plan = planFactsOf({ ...(status as { outputs?: Record<string, string> }).outputs, ...step?.handles });
        change = { ...change, status: 'awaiting-confirmation', planSummary: status.detail ?? 'plan succeeded (no summary)', ...(plan === undefined ? {} : { plan }) };
      } else {
        change = { ...change, status: 'applied' };
      }
    } else if (op?.status === 'failed' || op?.status === 'abandoned') {
      change = { ...change, status: 'failed', failure: op.failure?.reason ?? op.abandoned?.why ?? op.status };
    }
  }
  if (change === undefined && retry === undefined) return;
  const outbox = await ctx.store.transaction(async (tx) => {
    const current = await tx.get<ModuleApplyRecord>(deploymentPaths.moduleApply(apply.id));
    if (current === undefined || current.status !== apply.status || current.request?.eventId !== apply.request?.eventId) return [];
    const entries: OutboxEntry[] = [];
    const update: Partial<ModuleApplyRecord> = { ...change, updatedAt: now.toISOString() };
    if (retry !== undefined && current.request !== null) {
      update.request = { ...current.request, eventId: retry.eventId, attempt: retry.attempt, at: now.toISOString() };
      entries.push(moduleCommand(tx, current, current.request.action, retry.eventId, current.confirmedBy ?? `github:${current.mergedBy}`, now));
    }
    tx.update(deploymentPaths.moduleApply(apply.id), update);
    if (update.status !== undefined && update.status !== current.status) {
      appendAudit(tx, { actor: 'system:deployments', action: `module-apply.${update.status}`, instanceId: current.instanceId, operationId: operationId ?? null, before: { status: current.status }, after: { status: update.status, planSummary: update.planSummary ?? null, failure: update.failure ?? null }, causeEventId: current.causeEventId, applyId: current.id }, now);
    }
    return entries;
  });
  await ctx.publish(outbox);
  if (fanOut !== undefined && apply.request !== null && change?.status !== undefined) await recordMember(ctx, fanOut, apply, change, apply.request.eventId, notStarted);
}

/** What the apply's module change records of its member, from what this tick learnt (its fact may say the same: recorded once). */
async function recordMember(ctx: ConsumerContext, fanOut: string, apply: ModuleApplyRecord, change: Partial<ModuleApplyRecord>, eventId: string, notStarted: 'busy' | 'after-resume'): Promise<void> {
  const base = { kind: 'outcome' as const, instanceId: apply.instanceId, eventId, rolloutId: fanOut };
  const outcome =
    change.status === 'applied'
      ? { ...base, state: 'succeeded' as const, detail: null, retry: null }
      : change.status === 'failed'
        ? { ...base, state: 'failed' as const, detail: change.failure ?? 'failed', retry: null }
        : // Back to waiting: refused busy, or after its change halted.
          { ...base, state: 'waiting' as const, detail: notStarted === 'busy' ? 'busy: tried again later' : 'refused after its module change halted: starts again on resume', retry: notStarted };
  await ctx.fanOuts.recordOutcome(outcome, eventId);
}

/**
 * What a push or a confirmation cut off between its writes left undone: a module change not
 * recorded on the planner, and a confirmed apply whose member still waits for its confirmation.
 */
async function repairModuleChanges(ctx: ConsumerContext, groups: ReadonlySet<string>, active: readonly ModuleApplyRecord[]): Promise<void> {
  for (const group of groups) {
    const [module = '', commit = ''] = group.split('\n');
    if ((await ctx.store.get(rolloutPaths.rollout(moduleChangeId(module, commit)))) === undefined) await recordModuleChange(ctx, module, commit);
  }
  for (const apply of active.filter((a) => a.kind === 'module' && a.status === 'confirmed' && a.request === null && a.confirmedBy !== null)) {
    await ctx.fanOuts.confirmMember(moduleChangeId(apply.module, apply.commit), apply.instanceId, { planDigest: apply.confirmedDigest ?? null, by: apply.confirmedBy ?? '' });
  }
}

/** The schedule's tick: sync what runs, start the next waves, halt what a failure stops, start spec changes whose lease freed. */
export async function tick(ctx: ConsumerContext, options: { limit?: number } = {}): Promise<TickSummary> {
  const active = await ctx.store.query<ModuleApplyRecord>({
    collection: COLLECTIONS.moduleApplies,
    where: [{ field: 'status', op: 'in', value: ACTIVE_APPLY_STATUSES }],
    limit: options.limit ?? 500,
  });
  let synced = 0;
  for (const doc of active) {
    // Only what was asked of the engine moves on here; a plan awaiting confirmation waits for a person.
    if (doc.data.request === null || (doc.data.status !== 'planning' && doc.data.status !== 'applying')) continue;
    try {
      await syncApply(ctx, doc.data);
      synced += 1;
    } catch (error) {
      ctx.log.warn('could not sync a module apply; the next tick will', { applyId: doc.id, error: describeError(error) });
    }
  }
  const groups = new Set(active.filter((d) => d.data.kind === 'module').map((d) => `${d.data.module}\n${d.data.commit}`));
  await repairModuleChanges(ctx, groups, active.map((d) => d.data));
  // Spec changes that wait for a lease, or for the engine's answer.
  return { synced, groups: groups.size, specChanges: await ctx.specChanges.sync(options) };
}

/**
 * A `deployment.pushed` message: the instances the merge changed (from the message, or from
 * comparing its two commits when the payload could not carry them), each one's config.yaml
 * change and module applies recorded, each module's change recorded on the rollout planner, and the push and the delivery
 * that brought it marked handled once everything of it is recorded.
 */
import { classifyFiles } from '../domain/deployments/changes.js';
import { recordInLedger } from '../store/records.js';
import { ControlPlaneError } from '../errors.js';
import type { InstanceRecord } from '../events/index.js';
import { paths } from '../store/collections.js';
import { markDeliveryHandled } from '../webhook/deliveries.js';
import { recordApply, recordModuleChange } from './applies.js';
import { configChange } from './config-changes.js';
import type { ConsumerContext, HandledPush, Push, PushOutcome } from './model.js';

/** The files changed between two commits; an unknown commit is retryable (the repository may not have it yet). */
async function compareCommits(ctx: ConsumerContext, before: string, after: string) {
  try {
    return await ctx.repo.compare(before, after);
  } catch (error) {
    if (error instanceof ControlPlaneError && error.code === 'not-found') {
      throw new ControlPlaneError('not-found', `comparing ${before}...${after}: a commit is not in the deployment repository (yet); the push is tried again`, { cause: error, retryable: true });
    }
    throw error;
  }
}

/** Records the push handled in the ledger, and the delivery that brought it, unless it was already. */
async function recordHandled(ctx: ConsumerContext, push: Push, result: HandledPush): Promise<void> {
  const { changes, after, deliveryId } = push.payload;
  await ctx.store.transaction(async (tx) => {
    if ((await tx.get(paths.ledger(push.eventId))) !== undefined) return;
    const now = ctx.clock.now();
    const markDelivery = await markDeliveryHandled(tx, deliveryId, push.eventId, now);
    recordInLedger(
      tx,
      push.eventId,
      { outcome: 'accepted', eventType: push.type, operationId: null, code: null, reason: null, field: null, messageId: deliveryId, commit: after, source: changes.source, applies: result.applies.length, commands: result.commands.length, invalid: result.invalid.length, waiting: result.waiting.length },
      now,
    );
    markDelivery();
  });
}

/** A `deployment.pushed` message: every change of the merge, keyed by commit, instance and module. */
export async function handlePush(ctx: ConsumerContext, push: Push): Promise<PushOutcome> {
  const { changes, before, after, deliveryId } = push.payload;
  if ((await ctx.store.get(paths.ledger(push.eventId))) !== undefined) {
    // Handled before (maybe under another delivery): this delivery is done too.
    await ctx.store.transaction(async (tx) => (await markDeliveryHandled(tx, deliveryId, push.eventId, ctx.clock.now()))());
    return { kind: 'duplicate' };
  }
  const instances = changes.source === 'payload' ? changes.instances : classifyFiles((await compareCommits(ctx, before, after)).files).instances;
  const result: HandledPush = { kind: 'handled', source: changes.source, commands: [], invalid: [], applies: [], waiting: [], superseded: [], ignored: [] };
  const newer = ctx.specChanges.newerThan(push);
  for (const change of instances) {
    const instance = await ctx.store.get<InstanceRecord>(paths.instance(change.instanceId));
    if (change.config !== null) await configChange(ctx, push, { ...change, config: change.config }, instance, newer, result);
    if (change.modules.length === 0) continue;
    if (instance === undefined || instance.status === 'deleted') {
      ctx.log.warn('module change for an instance the control plane does not run: nothing applied', { instanceId: change.instanceId, modules: change.modules });
      continue;
    }
    for (const module of change.modules) result.applies.push(await recordApply(ctx, push, instance, module));
  }
  const groups = new Set(instances.flatMap((c) => c.modules));
  for (const module of groups) await recordModuleChange(ctx, module, after);
  // Everything of the push is recorded (waiting spec changes included): the push, and the delivery that brought it, are handled.
  await recordHandled(ctx, push, result);
  return result;
}

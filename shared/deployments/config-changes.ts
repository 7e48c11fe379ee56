/**
 * A push's change of one instance's config.yaml: read at the merge commit (and, for a removal,
 * at `before`), then offered as a spec change, planned as a removal, or recorded as refused or
 * ignored, once per commit and instance.
 */
import { changeEventId, type InstanceChange } from '../domain/deployments/changes.js';
import { configPathOf } from '../domain/deployments/paths.js';
import { decideConfigChange } from '../domain/deployments/spec-changes.js';
import { appendAudit, recordInLedger } from '../store/records.js';
import { ControlPlaneError } from '../errors.js';
import type { InstanceRecord } from '../events/index.js';
import { paths } from '../store/collections.js';
import { instanceRemoved } from './applies.js';
import { fileAt, parseConfig } from './config-file.js';
import type { ConsumerContext, HandledPush, Push } from './model.js';
import type { NewerThan, OfferOutcome } from './spec-changes/index.js';

/** Records once per commit and instance, in the ledger under the change's event id and in the audit trail, that config.yaml was refused. */
async function recordInvalid(ctx: ConsumerContext, push: Push, change: InstanceChange, file: string, problem: { field: string | null; reason: string }, result: HandledPush): Promise<void> {
  const { after } = push.payload;
  const eventId = changeEventId(after, change.instanceId, 'config', 0);
  const now = ctx.clock.now();
  await ctx.store.transaction(async (tx) => {
    if ((await tx.get(paths.ledger(eventId))) !== undefined) return;
    recordInLedger(tx, eventId, { outcome: 'invalid', eventType: 'deployment.pushed', operationId: null, code: 'invalid', reason: problem.reason, field: problem.field, messageId: push.eventId, file, commit: after }, now);
    appendAudit(
      tx,
      { actor: push.actor, action: 'deployment.config-invalid', instanceId: change.instanceId, operationId: null, before: null, after: null, causeEventId: push.eventId, file, field: problem.field, reason: problem.reason, commit: after },
      now,
    );
  });
  result.invalid.push({ instanceId: change.instanceId, file, field: problem.field, reason: problem.reason });
}

/** A change that needs nothing done, recorded once per commit and instance. */
async function recordIgnored(ctx: ConsumerContext, push: Push, change: InstanceChange, file: string, reason: string, result: HandledPush): Promise<void> {
  const { after } = push.payload;
  const eventId = changeEventId(after, change.instanceId, 'config-ignored', 0);
  const now = ctx.clock.now();
  await ctx.store.transaction(async (tx) => {
    if ((await tx.get(paths.ledger(eventId))) !== undefined) return;
    recordInLedger(tx, eventId, { outcome: 'rejected', eventType: 'deployment.pushed', operationId: null, code: 'ignored', reason, field: null, messageId: push.eventId, file, commit: after }, now);
    appendAudit(tx, { actor: push.actor, action: 'deployment.change-ignored', instanceId: change.instanceId, operationId: null, before: null, after: null, causeEventId: push.eventId, file, reason, commit: after }, now);
  });
  result.ignored.push({ instanceId: change.instanceId, reason });
}

/** What an offered spec change came to, noted in the push's outcome. */
function noteOffer(ctx: ConsumerContext, outcome: OfferOutcome, instanceId: string, result: HandledPush): void {
  if (outcome.kind === 'asked') result.commands.push({ instanceId, type: outcome.type, eventId: outcome.eventId });
  else if (outcome.kind === 'waiting') result.waiting.push(instanceId);
  else if (outcome.kind === 'older') result.superseded.push({ instanceId, newer: outcome.newer });
  else if (outcome.kind === 'unchanged') ctx.log.info('config.yaml changed without a version change: no lifecycle event', { instanceId, reason: outcome.reason });
}

/**
 * A change of config.yaml: read at the merge commit (and, for a removal, at `before`), then a
 * spec change, a removal, or a record of why neither. An unknown commit throws, retryable.
 */
export async function configChange(
  ctx: ConsumerContext,
  push: Push,
  change: InstanceChange & { config: 'changed' | 'removed' },
  instance: InstanceRecord | undefined,
  newer: NewerThan,
  result: HandledPush,
): Promise<void> {
  const { after, before } = push.payload;
  const file = configPathOf(change.environment, change.instanceId);
  const atAfter = await fileAt(ctx.repo, file, after);
  let decision = decideConfigChange(change.config, atAfter);
  if (decision.kind === 'read-before') decision = decideConfigChange(change.config, atAfter, await fileAt(ctx.repo, file, before));
  const incoming = { push, instanceId: change.instanceId, environment: change.environment, file };
  switch (decision.kind) {
    case 'read-before':
      throw new ControlPlaneError('internal', `deciding ${file} at ${after}: the before commit was read and still asked for`, { retryable: false });
    case 'retry':
      throw new ControlPlaneError('not-found', `${decision.reason}; the push is tried again (nothing is planned from a file that could not be read)`, { retryable: true, details: { file, after, before } });
    case 'ignore':
      await recordIgnored(ctx, push, change, file, decision.reason, result);
      return;
    case 'refuse':
      await recordInvalid(ctx, push, change, file, { field: null, reason: decision.reason }, result);
      noteOffer(ctx, await ctx.specChanges.offer({ ...incoming, spec: null, reason: decision.reason }, newer), change.instanceId, result);
      return;
    case 'removed': {
      const offered = await ctx.specChanges.offer({ ...incoming, spec: null, reason: 'the instance folder was removed' }, newer);
      noteOffer(ctx, offered, change.instanceId, result);
      // A removal older than a change recorded since (the folder came back) is not planned.
      if (offered.kind !== 'older') await instanceRemoved(ctx, push, change, instance, result);
      return;
    }
    case 'spec': {
      const parsed = parseConfig(decision.text, change);
      if ('reason' in parsed) {
        await recordInvalid(ctx, push, change, file, parsed, result);
        noteOffer(ctx, await ctx.specChanges.offer({ ...incoming, spec: null, reason: `invalid config.yaml: ${parsed.reason}` }, newer), change.instanceId, result);
        return;
      }
      noteOffer(ctx, await ctx.specChanges.offer({ ...incoming, spec: parsed.spec }, newer), change.instanceId, result);
      return;
    }
  }
}

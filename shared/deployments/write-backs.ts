/**
 * A `deployment.write-back` message: an operation changed an instance's spec, and its config.yaml
 * on the default branch is brought in line, by a commit of the control plane's own identity
 * (its trailer names the operation), unless it already says so or a person changed it since.
 * Recorded once in the ledger and the audit trail; a branch that moved meanwhile is read again.
 */
import { decideWriteBack } from '../domain/deployments/write-back.js';
import { configPathOf } from '../domain/deployments/paths.js';
import { ControlPlaneError } from '../errors.js';
import type { Envelope } from '../events/index.js';
import { paths } from '../store/collections.js';
import { appendAudit, recordInLedger } from '../store/records.js';
import type { ConsumerContext } from './model.js';

export type WriteBackRequest = Envelope<'deployment.write-back'>;
export type WriteBackOutcome = { kind: 'duplicate' } | { kind: 'written'; commit: string } | { kind: 'already' | 'superseded' | 'invalid'; reason: string };

export async function handleWriteBack(ctx: ConsumerContext, request: WriteBackRequest): Promise<WriteBackOutcome> {
  if ((await ctx.store.get(paths.ledger(request.eventId))) !== undefined) return { kind: 'duplicate' };
  const instanceId = request.instanceId ?? '';
  const { environment, operationId, operationType, before, after, spec } = request.payload;
  const path = configPathOf(environment, instanceId);
  let current: string | undefined;
  try {
    current = await ctx.repo.readFile(path, ctx.branch);
  } catch (error) {
    // A branch with no commit yet holds no file.
    if (!(error instanceof ControlPlaneError && error.code === 'not-found')) throw error;
  }
  const decision = decideWriteBack(current, { instanceId, operationId, operationType, before, after, ...(spec === undefined ? {} : { spec }) });
  let outcome: WriteBackOutcome;
  if (decision.kind === 'write') {
    // A conflict (the file changed since it was read) is retryable: the next delivery reads it again.
    const written = await ctx.repo.writeFile({ path, branch: ctx.branch, content: decision.text, message: decision.message, expected: current });
    outcome = { kind: 'written', commit: written.commit };
  } else {
    outcome = { kind: decision.kind, reason: decision.reason };
  }
  const now = ctx.clock.now();
  await ctx.store.transaction(async (tx) => {
    if ((await tx.get(paths.ledger(request.eventId))) !== undefined) return;
    const reason = outcome.kind === 'written' ? null : 'reason' in outcome ? outcome.reason : null;
    recordInLedger(tx, request.eventId, { outcome: outcome.kind === 'invalid' ? 'invalid' : 'accepted', eventType: request.type, operationId, code: outcome.kind, reason, field: null, messageId: request.eventId, file: path, ...(outcome.kind === 'written' ? { commit: outcome.commit } : {}) }, now);
    appendAudit(
      tx,
      {
        actor: 'system:deployments',
        action: outcome.kind === 'written' ? 'deployment.written-back' : 'deployment.write-back-skipped',
        instanceId,
        operationId,
        before: { file: path, ...before },
        after: { file: path, ...after },
        causeEventId: request.eventId,
        reason,
        ...(outcome.kind === 'written' ? { commit: outcome.commit } : {}),
      },
      now,
    );
  });
  if (outcome.kind !== 'written' && outcome.kind !== 'already') ctx.log.warn('config.yaml not written back', { instanceId, operationId, outcome: outcome.kind, reason: 'reason' in outcome ? outcome.reason : '' });
  return outcome;
}

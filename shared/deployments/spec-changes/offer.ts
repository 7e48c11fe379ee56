/** A push's change of one instance, offered as the instance's newest: recorded unless a newer one is, and asked for at once when the instance is free. */
import { ACTIVE_SPEC_CHANGE_STATUSES, type SpecChangeRecord } from '../../domain/deployments/spec-changes.js';
import type { OutboxEntry } from '../../store/records.js';
import { ControlPlaneError } from '../../errors.js';
import type { InstanceRecord } from '../../events/index.js';
import { deploymentPaths, paths } from '../../store/collections.js';
import { auditChange, dispatch } from './dispatch.js';
import type { IncomingChange, NewerThan, OfferOutcome, SpecChangeDeps, Verdict } from './model.js';

/** Rounds of read-compare-write before a change record that keeps moving is left to a redelivery. */
const MAX_ROUNDS = 5;

function isActive(status: SpecChangeRecord['status']): boolean {
  return ACTIVE_SPEC_CHANGE_STATUSES.includes(status);
}

/**
 * Records one instance's change from a push as its newest, unless a newer one is recorded,
 * and asks for it at once when the instance is free. Never throws `busy`.
 */
export async function offerChange(deps: SpecChangeDeps, incoming: IncomingChange, newer: NewerThan): Promise<OfferOutcome> {
  const { push, instanceId } = incoming;
  const commit = push.payload.after;
  const path = deploymentPaths.specChange(instanceId);
  for (let round = 0; round < MAX_ROUNDS; round += 1) {
    const stored = await deps.store.get<SpecChangeRecord>(path);
    if (stored?.commit === commit) return { kind: 'same', status: stored.status };
    const verdict: Verdict = stored === undefined ? { winner: 'incoming' } : await newer(stored.commit);
    const decided = await deps.store.transaction(async (tx) => {
      const current = await tx.get<SpecChangeRecord>(path);
      // Another push moved the record on since it was compared: compare again.
      if (current?.commit !== stored?.commit) return undefined;
      const instance = incoming.spec === null ? undefined : await tx.get<InstanceRecord>(paths.instance(instanceId));
      const now = deps.clock.now();
      if (current !== undefined && verdict.winner === 'stored') {
        auditChange(tx, { instanceId, commit, causeEventId: push.eventId, file: incoming.file }, 'deployment.change-superseded', { newerCommit: current.commit, reason: `older than the change recorded at ${current.commit.slice(0, 12)} (${verdict.reason}): not applied` }, now, push.actor);
        return { entries: [] as OutboxEntry[], outcome: { kind: 'older', newer: current.commit, reason: verdict.reason } as OfferOutcome };
      }
      const record: SpecChangeRecord = {
        instanceId,
        environment: incoming.environment,
        commit,
        committedAt: push.payload.committedAt,
        repository: push.payload.repository,
        file: incoming.file,
        spec: incoming.spec,
        status: incoming.spec === null ? 'no-spec' : 'waiting',
        attempt: 0,
        request: null,
        operationId: null,
        outcome: incoming.spec === null ? (incoming.reason ?? 'no spec at this commit') : null,
        causeEventId: push.eventId,
        actor: push.actor,
        mergedBy: push.payload.mergedBy,
        replaced: current === undefined ? null : { commit: current.commit, status: current.status },
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
      };
      if (current !== undefined && isActive(current.status)) {
        // The older change never runs now; one already asked for stays with the engine, which answers it on its own.
        auditChange(tx, current, 'deployment.change-superseded', { newerCommit: commit, status: current.status, reason: `replaced by the newer change at ${commit.slice(0, 12)}` }, now, push.actor);
      }
      const moved = dispatch(tx, record, instance, now);
      if (moved.outcome.kind === 'waiting') {
        auditChange(tx, record, 'deployment.change-waiting', { reason: `${moved.outcome.reason}: the change is applied when it ends`, targetVersion: record.spec?.version ?? null }, now, push.actor);
      }
      tx.set(path, record);
      return moved;
    });
    if (decided === undefined) continue;
    await deps.publish(decided.entries);
    return decided.outcome;
  }
  throw new ControlPlaneError('conflict', `the spec change record of ${instanceId} kept moving while the change at ${commit.slice(0, 12)} was recorded; try again`, { retryable: true });
}

/**
 * The newest spec change of each instance, kept durably in `specChanges/{instanceId}`: a merged
 * config.yaml change that finds its instance leased waits there (never a failure, never a
 * redelivery) until the deployments tick sees the lease free and asks the engine; the engine's
 * answer is recorded when it comes (applied with its operation, refused with its reason, busy:
 * wait again). Of two changes of one instance the newer by ancestry on the default branch wins,
 * whatever order they arrive in; the record stays after it is done, so a late older change is
 * recognised as older.
 */
import { changeEventId } from '../domain/deployments/changes.js';
import {
  ACTIVE_SPEC_CHANGE_STATUSES,
  answerDecision,
  dispatchDecision,
  newerChange,
  type Ancestry,
  type SpecChangeRecord,
  type SpecCommandType,
} from '../domain/deployments/spec-changes.js';
import { appendAudit, type LedgerEntry, type OutboxEntry } from '../store/records.js';
import { ControlPlaneError, describeError } from '../errors.js';
import type { Envelope, InstanceRecord, InstanceSpec } from '../events/index.js';
import type { Logger } from '../log.js';
import type { Clock, DeploymentRepoPort, StateStore, StoreTransaction } from '../ports.js';
import { queueCommand, REPUBLISH_AFTER_MS } from './commands.js';
import { COLLECTIONS, deploymentPaths, paths } from '../store/collections.js';

type Push = Envelope<'deployment.pushed'>;

export interface SpecChangeDeps {
  store: StateStore;
  repo: DeploymentRepoPort;
  clock: Clock;
  log: Logger;
  /** Publishes outbox entries just committed (a failure leaves them for the reconciler). */
  publish(entries: readonly OutboxEntry[]): Promise<number>;
}

/** One instance's change in a push, read at the push's commit. */
export interface IncomingChange {
  push: Push;
  instanceId: string;
  environment: SpecChangeRecord['environment'];
  file: string;
  /** The valid spec at the push's commit; null when the change leaves no spec to apply (removed, invalid). */
  spec: InstanceSpec | null;
  /** Why there is no spec, when there is none. */
  reason?: string;
}

export type OfferOutcome =
  /** The command was asked of the engine at once. */
  | { kind: 'asked'; type: SpecCommandType; eventId: string }
  /** The instance is leased: the change waits for the tick. */
  | { kind: 'waiting'; reason: string }
  | { kind: 'unchanged'; reason: string }
  /** No spec: recorded as the instance's newest change, so older waiting ones do not run. */
  | { kind: 'recorded' }
  /** An older change than the one recorded for the instance: dropped (recorded in the audit). */
  | { kind: 'older'; newer: string; reason: string }
  /** This very change is already recorded (a redelivery). */
  | { kind: 'same'; status: SpecChangeRecord['status'] };

type Verdict = { winner: 'incoming' } | { winner: 'stored'; reason: string };

/** Rounds of read-compare-write before a change record that keeps moving is left to a redelivery. */
const MAX_ROUNDS = 5;
const SYSTEM_ACTOR = 'system:deployments';

function isActive(status: SpecChangeRecord['status']): boolean {
  return ACTIVE_SPEC_CHANGE_STATUSES.includes(status);
}

/** Wires the spec-change records to their ports. */
export function createSpecChanges(deps: SpecChangeDeps) {
  /**
   * For one push: which of its commit and a recorded one is newer, asked of the repository once
   * per recorded commit. A fast-forward push from exactly the recorded commit needs no question.
   */
  function newerThan(push: Push): (stored: string) => Promise<Verdict> {
    const asked = new Map<string, Promise<Verdict>>();
    const { after, before, forced, ref } = push.payload;
    async function decide(stored: string): Promise<Verdict> {
      let relation: Ancestry;
      try {
        relation = forced === false && stored === before ? 'ahead' : await deps.repo.ancestry(stored, after);
      } catch (error) {
        // The pushed commit was read just before, so it is the recorded one the repository no
        // longer has: rewritten away, it is on no branch, and the pushed commit is newer.
        if (error instanceof ControlPlaneError && error.code === 'not-found') return { winner: 'incoming' };
        throw error;
      }
      const first = newerChange(relation);
      if (first.winner !== 'ask-branch') return first;
      const onBranch = async (commit: string) => ['ahead', 'identical'].includes(await deps.repo.ancestry(commit, ref).catch((error: unknown) => rethrowUnlessGone(error)));
      const [incoming, kept] = await Promise.all([onBranch(after), onBranch(stored)]);
      const second = newerChange(relation, { incoming, stored: kept });
      return second.winner === 'ask-branch' ? { winner: 'stored', reason: 'diverged' } : second;
    }
    return (stored) => {
      let verdict = asked.get(stored);
      if (verdict === undefined) {
        verdict = decide(stored);
        asked.set(stored, verdict);
      }
      return verdict;
    };
  }

  function rethrowUnlessGone(error: unknown): Ancestry {
    if (error instanceof ControlPlaneError && error.code === 'not-found') return 'diverged';
    throw error;
  }

  /** The command a change asks for, queued in `tx` under the change's current attempt. */
  function ask(tx: StoreTransaction, record: SpecChangeRecord, type: SpecCommandType, now: Date): OutboxEntry {
    const spec = record.spec;
    if (spec === null) throw new ControlPlaneError('internal', `spec change of ${record.instanceId} at ${record.commit} has no spec to ask for`, { retryable: false });
    const eventId = changeEventId(record.commit, record.instanceId, 'config', record.attempt);
    const reason = `merge ${record.commit.slice(0, 12)} of ${record.repository} changed ${record.file}`;
    const command = { eventId, instanceId: record.instanceId, actor: record.actor, reason };
    record.status = 'asked';
    record.request = { eventId, type, at: now.toISOString() };
    return type === 'instance.upgrade'
      ? queueCommand(tx, { ...command, type, payload: { targetVersion: spec.version } }, now)
      : queueCommand(tx, { ...command, type, payload: { spec } }, now);
  }

  /** Moves a change that may start on, given the instance as `tx` read it: ask, wait, or nothing to do. */
  function dispatch(tx: StoreTransaction, record: SpecChangeRecord, instance: InstanceRecord | undefined, now: Date): { entries: OutboxEntry[]; outcome: OfferOutcome } {
    if (record.spec === null) return { entries: [], outcome: { kind: 'recorded' } };
    const decision = dispatchDecision(record.spec, instance);
    switch (decision.kind) {
      case 'wait':
        record.status = 'waiting';
        record.request = null;
        return { entries: [], outcome: { kind: 'waiting', reason: decision.reason } };
      case 'unchanged':
        record.status = 'unchanged';
        record.outcome = decision.reason;
        return { entries: [], outcome: { kind: 'unchanged', reason: decision.reason } };
      case 'ask': {
        const entry = ask(tx, record, decision.type, now);
        return { entries: [entry], outcome: { kind: 'asked', type: decision.type, eventId: entry.envelope.eventId } };
      }
    }
  }

  function auditChange(tx: StoreTransaction, record: Pick<SpecChangeRecord, 'instanceId' | 'commit' | 'causeEventId' | 'file'>, action: string, extra: Record<string, unknown>, now: Date, actor = SYSTEM_ACTOR): void {
    appendAudit(tx, { actor, action, instanceId: record.instanceId, operationId: null, before: null, after: null, causeEventId: record.causeEventId, commit: record.commit, file: record.file, ...extra }, now);
  }

  /** Moves one change on; true when it wrote something. */
  async function syncOne(change: SpecChangeRecord): Promise<boolean> {
    const path = deploymentPaths.specChange(change.instanceId);
    if (change.status === 'waiting') {
      // One read to learn the lease is still held: nothing is written while it is.
      const instance = await deps.store.get<InstanceRecord>(paths.instance(change.instanceId));
      if (change.spec === null || dispatchDecision(change.spec, instance).kind === 'wait') return false;
      const entries = await deps.store.transaction(async (tx) => {
        const current = await tx.get<SpecChangeRecord>(path);
        if (current?.commit !== change.commit || current.status !== 'waiting') return undefined;
        const now = deps.clock.now();
        const record: SpecChangeRecord = { ...current, updatedAt: now.toISOString() };
        const moved = dispatch(tx, record, await tx.get<InstanceRecord>(paths.instance(change.instanceId)), now);
        if (moved.outcome.kind === 'waiting') return undefined;
        if (moved.outcome.kind === 'unchanged') auditChange(tx, record, 'deployment.change-unchanged', { reason: moved.outcome.reason }, now);
        tx.set(path, record);
        return moved.entries;
      });
      if (entries === undefined) return false;
      await deps.publish(entries);
      return true;
    }
    if (change.status !== 'asked' || change.request === null) return false;
    const request = change.request;
    const answer = await deps.store.get<LedgerEntry>(paths.ledger(request.eventId));
    const decision = answerDecision(change, answer, deps.clock.now(), REPUBLISH_AFTER_MS);
    if (decision.kind === 'pending') return false;
    const entries = await deps.store.transaction(async (tx) => {
      const current = await tx.get<SpecChangeRecord>(path);
      if (current?.commit !== change.commit || current.status !== 'asked' || current.request?.eventId !== request.eventId) return undefined;
      const now = deps.clock.now();
      const record: SpecChangeRecord = { ...current, updatedAt: now.toISOString() };
      const out: OutboxEntry[] = [];
      switch (decision.kind) {
        case 'ask-again':
          // The same event id: if the first did arrive, the engine's ledger makes this one a no-op.
          out.push(ask(tx, record, request.type, now));
          break;
        case 'applied':
          record.status = 'applied';
          record.operationId = decision.operationId;
          auditChange(tx, record, 'deployment.change-applied', { eventId: request.eventId, command: request.type, operationId: decision.operationId, targetVersion: record.spec?.version ?? null, attempt: record.attempt }, now, record.actor);
          break;
        case 'wait':
          // Busy is never a failure: wait for the lease again, and ask under the next attempt's id.
          record.status = 'waiting';
          record.attempt = decision.attempt;
          record.request = null;
          break;
        case 'refused':
          record.status = 'refused';
          record.outcome = decision.reason;
          auditChange(tx, record, 'deployment.change-refused', { eventId: request.eventId, command: request.type, reason: decision.reason }, now, record.actor);
          break;
      }
      tx.set(path, record);
      return out;
    });
    if (entries === undefined) return false;
    await deps.publish(entries);
    return true;
  }

  return {
    /** A per-push memo of "which is newer", for `offer`. */
    newerThan,

    /**
     * Records one instance's change from a push as its newest, unless a newer one is recorded,
     * and asks for it at once when the instance is free. Never throws `busy`.
     */
    async offer(incoming: IncomingChange, newer: (stored: string) => Promise<Verdict>): Promise<OfferOutcome> {
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
    },

    /** The tick: start the waiting changes whose instance is free, record the engine's answers. */
    async sync(options: { limit?: number } = {}): Promise<{ active: number; moved: number }> {
      const active = await deps.store.query<SpecChangeRecord>({
        collection: COLLECTIONS.specChanges,
        where: [{ field: 'status', op: 'in', value: ACTIVE_SPEC_CHANGE_STATUSES }],
        limit: options.limit ?? 500,
      });
      let moved = 0;
      for (const doc of active) {
        try {
          if (await syncOne(doc.data)) moved += 1;
        } catch (error) {
          deps.log.warn('could not move a spec change on; the next tick will', { instanceId: doc.id, error: describeError(error) });
        }
      }
      return { active: active.length, moved };
    },

    syncOne,
  };
}

export type SpecChanges = ReturnType<typeof createSpecChanges>;

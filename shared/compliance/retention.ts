/**
 * check-retention (hourly): every dev instance expiring within a day gets one `instance.expiring`
 * notice (a notice document created in the same transaction as the fact, so never twice); one
 * past expiry and grace gets an `instance.delete` command, which the engine runs as any delete
 * (a dev delete needs no approval). Prod is never touched. `mi instance extend` moves the expiry.
 */
import { decideRetention, extendedExpiry } from '../domain/compliance/retention.js';
import { deterministicEventId } from '../domain/compliance/run-key.js';
import { operationIdFor } from '../domain/lifecycle/operations.js';
import { publishOutbox } from '../store/outbox.js';
import { appendAudit, enqueue } from '../store/records.js';
import { ControlPlaneError } from '../errors.js';
import { makeEnvelope, type InstanceRecord } from '../events/index.js';
import type { Clock, StateStore } from '../ports.js';
import { TOPICS } from '../topology.js';
import { type ComplianceDeps } from './model.js';
import { finishRun, type RunRequest, type StartedRun } from './runs.js';
import { COLLECTIONS, compliancePaths, paths } from '../store/collections.js';

const ACTOR = 'system:check-retention';
const PAGE = 200;

export interface RetentionResult {
  notified: string[];
  deleteRequested: Array<{ instanceId: string; operationId: string }>;
  examined: number;
}

async function notifyOnce(deps: ComplianceDeps, instance: InstanceRecord, expiresAt: string): Promise<boolean> {
  const outbox = await deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const noticePath = compliancePaths.expiryNotice(instance.id, expiresAt);
    if ((await tx.get(noticePath)) !== undefined) return undefined;
    tx.create(noticePath, { instanceId: instance.id, expiresAt, notifiedAt: now.toISOString() });
    appendAudit(
      tx,
      { actor: ACTOR, action: 'instance.expiry-notified', instanceId: instance.id, operationId: null, before: null, after: { expiresAt }, causeEventId: null },
      now,
    );
    return [
      enqueue(tx, { type: 'instance.expiring', payload: { expiresAt }, instanceId: instance.id, actor: ACTOR, reason: `dev instance ${instance.id} expires at ${expiresAt}` }, now),
    ];
  });
  if (outbox === undefined) return false;
  await publishOutbox(deps, outbox);
  return true;
}

/** Runs the hourly retention check over the dev instances. */
export async function runRetention(deps: ComplianceDeps, request: RunRequest, start: StartedRun): Promise<RetentionResult> {
  const result: RetentionResult = { notified: [], deleteRequested: [], examined: 0 };
  const now = deps.clock.now();
  let after: string | undefined;
  for (;;) {
    // Only dev instances are read: prod cannot be chosen by this query, nor by the decision.
    const page = await deps.store.query<InstanceRecord>({
      collection: COLLECTIONS.instances,
      where: [{ field: 'environment', op: '==', value: 'dev' }],
      limit: PAGE,
      ...(after === undefined ? {} : { startAfterId: after }),
    });
    for (const { data: instance } of page) {
      result.examined += 1;
      const decision = decideRetention(instance, now, deps.retention);
      if (decision.kind === 'notify') {
        if (await notifyOnce(deps, instance, decision.expiresAt)) result.notified.push(instance.id);
      } else if (decision.kind === 'delete') {
        // One event id per run and instance: a redelivered trigger repeats it (deduplicated);
        // the next hour's run asks again if this one was refused (busy).
        const eventId = deterministicEventId(`retention:${request.runId}:${instance.id}`);
        const envelope = makeEnvelope({
          type: 'instance.delete',
          eventId,
          instanceId: instance.id,
          payload: {},
          actor: ACTOR,
          origin: 'retention',
          reason: `dev instance expired at ${decision.expiresAt}; ${decision.overdueHours} hours past expiry, past the ${deps.retention.graceHours} hour grace`,
          issuedAt: now.toISOString(),
        });
        await deps.bus.publish(TOPICS.lifecycle, envelope);
        result.deleteRequested.push({ instanceId: instance.id, operationId: operationIdFor(eventId) });
      }
    }
    after = page.at(-1)?.id;
    if (page.length < PAGE || after === undefined) break;
  }
  await finishRun(deps, request.runId, start.token, { outcome: { ...result } });
  return result;
}

/** `mi instance extend`: moves a dev instance's expiry N hours on, with an audit record of who and why. */
export async function extendExpiry(
  deps: { store: StateStore; clock: Clock },
  input: { instanceId: string; hours: number; actor: string; reason: string },
): Promise<{ before: string | null; after: string }> {
  return deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const instance = await tx.get<InstanceRecord>(paths.instance(input.instanceId));
    if (instance === undefined || instance.status === 'deleted') {
      throw new ControlPlaneError('not-found', `no instance ${input.instanceId}`, { retryable: false });
    }
    if (instance.environment !== 'dev') {
      throw new ControlPlaneError('failed-precondition', `${input.instanceId} is a prod instance: it has no expiry to extend`, { retryable: false });
    }
    if (instance.status === 'deleting') {
      throw new ControlPlaneError('failed-precondition', `${input.instanceId} is being deleted (${instance.lease?.operationId ?? 'no lease'}): too late to extend`, { retryable: false });
    }
    const after = extendedExpiry(instance.expiresAt, input.hours, now);
    tx.set(paths.instance(instance.id), { ...instance, expiresAt: after, generation: instance.generation + 1, updatedAt: now.toISOString() });
    appendAudit(
      tx,
      {
        actor: input.actor,
        action: 'instance.extended',
        instanceId: instance.id,
        operationId: null,
        before: { expiresAt: instance.expiresAt ?? null },
        after: { expiresAt: after },
        causeEventId: null,
        reason: input.reason,
        hours: input.hours,
      },
      now,
    );
    return { before: instance.expiresAt ?? null, after };
  });
}

/**
 * restore-drill (weekly): a rotating sample of the active instances, each asked for a
 * `restore-drill` operation (a leased operation like any other: the latest Cloud SQL backup
 * restored into a throwaway, the executor's sanity check, the throwaway deleted). The evidence
 * is on each operation's steps; the run records which instances and operations.
 */
import { rotatingSample, weekNumber } from '../domain/compliance/retention.js';
import { deterministicEventId } from '../domain/compliance/run-key.js';
import { operationIdFor } from '../domain/lifecycle/operations.js';
import { makeEnvelope } from '../events/index.js';
import { TOPICS } from '../topology.js';
import type { ComplianceDeps } from './model.js';
import { finishRun, type RunRequest, type StartedRun } from './runs.js';
import { COLLECTIONS } from '../store/collections.js';

export interface DrillResult {
  week: number;
  sample: Array<{ instanceId: string; operationId: string }>;
}

/** Picks this week's sample and asks for a drill of each. */
export async function runRestoreDrill(deps: ComplianceDeps, request: RunRequest, start: StartedRun): Promise<DrillResult> {
  const ids: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await deps.store.queryIds({
      collection: COLLECTIONS.instances,
      where: [{ field: 'status', op: '==', value: 'active' }],
      limit: deps.pageSize,
      ...(after === undefined ? {} : { startAfterId: after }),
    });
    ids.push(...page);
    after = page.at(-1);
    if (page.length < deps.pageSize || after === undefined) break;
  }
  const week = weekNumber(request.slot.start);
  const sample = rotatingSample(ids, week, deps.drillSampleSize);
  const result: DrillResult = { week, sample: [] };
  for (const instanceId of sample) {
    const eventId = deterministicEventId(`drill:${request.runId}:${instanceId}`);
    const envelope = makeEnvelope({
      type: 'instance.restore-drill',
      eventId,
      instanceId,
      payload: { runId: request.runId },
      actor: 'system:restore-drill',
      origin: 'compliance',
      reason: `weekly restore drill ${request.runId} (week ${week}, ${sample.length} of ${ids.length} active instances)`,
      issuedAt: deps.clock.now().toISOString(),
    });
    await deps.bus.publish(TOPICS.lifecycle, envelope);
    result.sample.push({ instanceId, operationId: operationIdFor(eventId) });
  }
  await finishRun(deps, request.runId, start.token, { outcome: { ...result } });
  return result;
}

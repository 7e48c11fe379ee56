/**
 * verify-backups: the fan-out. Pages through the instance ids (ids only, no document data),
 * publishes one `compliance.check` message per instance on `mi-checks` (the bus batches them)
 * while the next page is read, records each page once its messages are out (so a crashed run
 * resumes after it), then one message for the schedules' own check.
 */
import { randomUUID } from 'node:crypto';
import { INSTANCE_STATUSES, makeEnvelope, type Envelope } from '../events/index.js';
import { COLLECTIONS } from '../engine/paths.js';
import { TOPICS } from '../topology.js';
import { compliancePaths, type ComplianceDeps, type PlanPage } from './model.js';
import { finishRun, type RunRequest, type RunStart } from './runs.js';

/**
 * Instances a run checks: every one not deleted (an `in` filter, ordered by id, needs no
 * composite index). The statuses of the remediation and the restore drill are included.
 */
export const LIVE_STATUSES: readonly string[] = [
  ...INSTANCE_STATUSES.filter((status) => status !== 'deleted'),
  ...['remediating', 'drilling'].filter((status) => !(INSTANCE_STATUSES as readonly string[]).includes(status)),
];

/** The id-only paged query of the instances a run plans (shared with the benchmark's floor). */
export function liveInstanceIdsPage(pageSize: number, after: string | undefined) {
  return {
    collection: COLLECTIONS.instances,
    where: [{ field: 'status', op: 'in' as const, value: [...LIVE_STATUSES] }],
    limit: pageSize,
    ...(after === undefined ? {} : { startAfterId: after }),
  };
}

export interface FanOutResult {
  runId: string;
  planned: number;
  pages: number;
  resumedAfter: string | null;
}

/** Publishes the run's check messages; `start` is what beginRun returned (started or resumed). */
export async function fanOut(deps: ComplianceDeps, request: RunRequest, start: Exclude<RunStart, { kind: 'duplicate' }>): Promise<FanOutResult> {
  const runId = request.runId;
  // A resumed run continues after the last page it recorded.
  let index = 0;
  let planned = 0;
  let after: string | undefined;
  if (start.kind === 'resumed') {
    const pageIds = await deps.store.queryIds({ collection: compliancePaths.planPages(runId) });
    index = pageIds.length;
    const last = pageIds.at(-1);
    if (last !== undefined) {
      const page = await deps.store.get<PlanPage>(`${compliancePaths.planPages(runId)}/${last}`);
      after = page?.ids.at(-1);
      // Counted again from the pages themselves, so a resume does not double them.
      for (const id of pageIds) planned += (await deps.store.get<PlanPage>(`${compliancePaths.planPages(runId)}/${id}`))?.ids.length ?? 0;
    }
  }
  const resumedAfter = after ?? null;
  // Validated once; each message differs only in its event id and instance.
  const template = makeEnvelope({
    type: 'compliance.check',
    instanceId: 'template',
    payload: { runId, target: 'instance', asOf: request.asOf.toISOString() },
    actor: `system:${request.schedule.name}`,
    reason: `compliance run ${runId}`,
    issuedAt: deps.clock.now().toISOString(),
  });
  const publishOne = (instanceId: string) => {
    const envelope: Envelope<'compliance.check'> = { ...template, eventId: randomUUID(), instanceId };
    return deps.bus.publish(TOPICS.checks, envelope);
  };

  const fetchPage = (from: string | undefined) => deps.store.queryIds(liveInstanceIdsPage(deps.pageSize, from));
  const pageWrites: Array<Promise<void>> = [];
  let next: Promise<string[]> | undefined = fetchPage(after);
  while (next !== undefined) {
    const ids: string[] = await next;
    // Read the next page while this one is published.
    next = ids.length === deps.pageSize ? fetchPage(ids.at(-1)) : undefined;
    if (ids.length === 0) break;
    await Promise.all(ids.map(publishOne));
    const page: PlanPage = { index, ids };
    pageWrites.push(deps.store.set(compliancePaths.planPage(runId, index), page));
    index += 1;
    planned += ids.length;
  }
  await Promise.all(pageWrites);
  // The schedules themselves, once per run, as a finding of their own.
  const schedulesCheck = makeEnvelope({
    type: 'compliance.check',
    payload: { runId, target: 'schedules', asOf: request.asOf.toISOString() },
    actor: `system:${request.schedule.name}`,
    reason: `compliance run ${runId}: the Cloud Scheduler jobs`,
    issuedAt: deps.clock.now().toISOString(),
  });
  await deps.bus.publish(TOPICS.checks, schedulesCheck);
  await finishRun(deps, runId, start.token, { planned, outcome: { pages: index, resumedAfter } });
  return { runId, planned, pages: index, resumedAfter };
}

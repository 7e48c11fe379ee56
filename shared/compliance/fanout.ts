/**
 * verify-backups: the fan-out, in three phases.
 *
 * 1. Plan: page through the instance ids (ids only, no document data) and write each page,
 *    awaited, before the next is written (the next page is read meanwhile). A resumed run reads
 *    the pages that exist and plans every stretch of ids they leave uncovered, wherever it is.
 * 2. Verify: read the pages back; every stretch of ids must be covered and every page this
 *    worker wrote must read back as written, else the gaps are planned again (a few rounds,
 *    then a retryable error). The verified plan is what the run records as planned.
 * 3. Fan out: one `compliance.check` per planned instance on `mi-checks` (the bus batches
 *    them), from the pages read back, so nothing is checked that the plan does not hold; each
 *    page is marked once its messages are out, so a resumed run republishes only unmarked
 *    pages. Then one message for the schedules' own check.
 */
import { randomUUID } from 'node:crypto';
import { cutPage, unconfirmedWrites, verifyPlan, type IdRange, type PlanVerdict, type WrittenPage } from '../domain/compliance/plan.js';
import { ControlPlaneError } from '../errors.js';
import { INSTANCE_STATUSES, makeEnvelope, type Envelope } from '../events/index.js';
import type { StoredDocument } from '../ports.js';
import { TOPICS } from '../topology.js';
import { type ComplianceDeps, type PlanPage } from './model.js';
import { finishRun, type RunRequest, type StartedRun } from './runs.js';
import { COLLECTIONS, compliancePaths } from '../store/collections.js';

/** Rounds of planning the gaps a read-back finds before the run gives up for a redelivery. */
const PLAN_ROUNDS = 3;

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
  /** Instances in the verified plan. */
  planned: number;
  /** Pages of the verified plan. */
  pages: number;
  /** Page writes this worker made (a resumed run: only the gaps; a page that did not read back as written is written again). */
  pagesWritten: number;
  /** Stretches of ids found uncovered and planned (the first round of a fresh run counts one). */
  gapsFilled: number;
  /** Check messages this worker published (a resumed run: those of pages not yet marked). */
  published: number;
  resumed: boolean;
}

/** Keeps a promise that is awaited later from being reported as unhandled while other work is awaited. */
function inFlight<T>(promise: Promise<T>): Promise<T> {
  void promise.catch(() => undefined);
  return promise;
}

async function readPlan(deps: ComplianceDeps, runId: string): Promise<Array<StoredDocument<PlanPage>>> {
  return deps.store.query<PlanPage>({ collection: compliancePaths.planPages(runId) });
}

/** Plans one uncovered stretch of ids: its pages written in order, each awaited. */
async function planGap(deps: ComplianceDeps, runId: string, token: string, gap: IdRange, written: WrittenPage[]): Promise<number> {
  const fetch = (after: string | null) => inFlight(deps.store.queryIds(liveInstanceIdsPage(deps.pageSize, after ?? undefined)));
  let rest: IdRange | null = gap;
  let writes = 0;
  let next = fetch(gap.after);
  while (rest !== null) {
    const ids = await next;
    const cut = cutPage(rest, ids, deps.pageSize);
    rest = cut.rest;
    // The next page is read while this one is written.
    if (rest !== null) next = fetch(rest.after);
    const path = compliancePaths.planPage(runId, cut.page.after);
    const page: PlanPage = { ...cut.page, plannedBy: token, plannedAt: deps.clock.now().toISOString(), publishedAt: null };
    await deps.store.set(path, page);
    written.push({ path, ids: cut.page.ids });
    writes += 1;
  }
  return writes;
}

/** Phases 1 and 2: a plan that covers every id, read back. Throws (retryable) when it cannot be made whole. */
async function recordPlan(deps: ComplianceDeps, runId: string, token: string, resumed: boolean) {
  // A fresh run has no pages yet; a resumed one starts from what the crashed worker left.
  let pages = resumed ? await readPlan(deps, runId) : [];
  let verdict: PlanVerdict = verifyPlan(pages.map((p) => p.data));
  const written: WrittenPage[] = [];
  let gapsFilled = 0;
  let pagesWritten = 0;
  let unconfirmed: string[] = [];
  for (let round = 0; round < PLAN_ROUNDS; round += 1) {
    for (const gap of verdict.gaps) pagesWritten += await planGap(deps, runId, token, gap, written);
    gapsFilled += verdict.gaps.length;
    // The read-back: what is stored is the plan, whatever this worker believes it wrote.
    if (written.length > 0 || round > 0) pages = await readPlan(deps, runId);
    verdict = verifyPlan(pages.map((p) => p.data));
    unconfirmed = unconfirmedWrites(written, new Map(pages.map((p) => [p.path, p.data])), token);
    if (verdict.covered && unconfirmed.length === 0) return { pages, verdict, pagesWritten, gapsFilled };
    deps.log.warn('compliance plan read back incomplete; planning the gaps again', { runId, round, gaps: verdict.gaps.length, unconfirmed: unconfirmed.length });
    // A page that did not read back as written is planned again with its gap.
    written.splice(0, written.length, ...written.filter((w) => !unconfirmed.includes(w.path)));
  }
  throw new ControlPlaneError(
    'unavailable',
    `compliance run ${runId}: after ${PLAN_ROUNDS} rounds the plan pages still leave ${verdict.gaps.length} stretch(es) of instance ids uncovered and ${unconfirmed.length} page(s) not reading back as written; a redelivery resumes the run`,
    { details: { runId, gaps: verdict.gaps.slice(0, 5), unconfirmed: unconfirmed.slice(0, 5) } },
  );
}

/** Publishes the run's check messages; `start` is what beginRun returned (started or resumed). */
export async function fanOut(deps: ComplianceDeps, request: RunRequest, start: StartedRun): Promise<FanOutResult> {
  const runId = request.runId;
  const plan = await recordPlan(deps, runId, start.token, start.kind === 'resumed');

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

  // Each planned id is published once, with the first unmarked page that holds it; a marked page's ids are out
  // already. (A page without the field was written by an older version after its messages were out.)
  const sent = new Set(plan.pages.filter((p) => p.data.publishedAt !== null).flatMap((p) => p.data.ids));
  const batches = plan.pages
    .filter((p) => p.data.publishedAt === null)
    .map((page) => {
      const ids = page.data.ids.filter((id) => !sent.has(id));
      for (const id of ids) sent.add(id);
      return { page, ids };
    });
  await Promise.all(
    batches.map(async ({ page, ids }) => {
      await Promise.all(ids.map(publishOne));
      const publishedAt = deps.clock.now().toISOString();
      await deps.store.transaction(async (tx) => {
        tx.update(page.path, { publishedAt });
        return Promise.resolve();
      });
    }),
  );
  const published = batches.reduce((n, b) => n + b.ids.length, 0);

  // The schedules themselves, once per run, as a finding of their own.
  const schedulesCheck = makeEnvelope({
    type: 'compliance.check',
    payload: { runId, target: 'schedules', asOf: request.asOf.toISOString() },
    actor: `system:${request.schedule.name}`,
    reason: `compliance run ${runId}: the Cloud Scheduler jobs`,
    issuedAt: deps.clock.now().toISOString(),
  });
  await deps.bus.publish(TOPICS.checks, schedulesCheck);
  const result: FanOutResult = {
    runId,
    planned: plan.verdict.ids.length,
    pages: plan.pages.length,
    pagesWritten: plan.pagesWritten,
    gapsFilled: plan.gapsFilled,
    published,
    resumed: start.kind === 'resumed',
  };
  await finishRun(deps, runId, start.token, { planned: result.planned, outcome: { pages: result.pages, pagesWritten: result.pagesWritten, gapsFilled: result.gapsFilled, published, resumed: result.resumed } });
  return result;
}

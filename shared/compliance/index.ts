/**
 * Scheduled compliance, wired to its ports: the handler of the schedules' messages on
 * `mi-compliance` (verify-backups fan-out, check-retention, compliance-report, the restore drills)
 * and the per-instance check on `mi-checks`.
 */
import { DEFAULT_RETENTION_POLICY } from '../domain/compliance/retention.js';
import { ControlPlaneError, describeError } from '../errors.js';
import { makeEnvelope, type DeliveredMessage, type Envelope } from '../events/index.js';
import { silentLogger } from '../log.js';
import { SCHEDULES, TOPICS } from '../topology.js';
import { checkInstance, checkScheduleJobs, type CheckOutcome } from './check.js';
import { fanOut, type FanOutResult } from './fanout.js';
import { type ComplianceDeps, type ComplianceRun, type RunSummary } from './model.js';
import { recentRuns, summarizeRun } from './report.js';
import { runRetention, type RetentionResult } from './retention.js';
import { beginRun, finishRun, releaseClaim, runRequestOf, type RunRequest, type StartedRun } from './runs.js';
import { runRestoreDrill, type DrillResult } from './drill.js';
import { runAccessReview, type AccessReviewResult } from './access.js';
import { runAnchoring, type AnchoringResult } from './anchors.js';
import { runDatabaseDrill, type DatabaseDrillResult } from './database-drill.js';
import { compliancePaths } from '../store/collections.js';

export * from './model.js';
export { buildReport, findRun, summarizeRun } from './report.js';
export { renderReport, type ReportFormat } from './render.js';
export { extendExpiry } from './retention.js';

export type ScheduleOutcome =
  | { kind: 'ignored'; reason: string }
  | { kind: 'duplicate'; runId: string; reason: string }
  | { kind: 'fanned-out'; result: FanOutResult }
  | { kind: 'retention'; runId: string; result: RetentionResult }
  | { kind: 'report'; runId: string; reportOf: string | null; summary: RunSummary | null }
  | { kind: 'drill'; runId: string; result: DrillResult }
  | { kind: 'access-review'; result: AccessReviewResult }
  | { kind: 'anchoring'; runId: string; result: AnchoringResult }
  | { kind: 'database-drill'; runId: string; result: DatabaseDrillResult };

export type ComplianceInput = Pick<ComplianceDeps, 'store' | 'bus' | 'cloudSql' | 'gkeBackup' | 'scheduler' | 'clock' | 'schedulerParent'> & Partial<ComplianceDeps>;

/** A record is linked 15 minutes after it was decided: past the longest function timeout (540 s) with its transaction's retries. */
export const DEFAULT_SEAL_SETTLE_MS = 15 * 60_000;

/** Which schedule a message is from: the `schedule` attribute, else the `schedule` field of its JSON body. */
/** compliance-report (daily, after verify-backups): the latest verify run's summary, from its findings, kept on the run; an alert when it is not clean. */
async function runDailyReport(deps: ComplianceDeps, request: RunRequest, start: StartedRun): Promise<ScheduleOutcome> {
  const now = deps.clock.now();
  const [latest] = (await recentRuns(deps.store, new Date(request.slot.start.getTime() - 2 * 86_400_000), 10)).filter((r) => r.slotStart <= request.slot.start.toISOString());
  if (latest === undefined) {
    await finishRun(deps, request.runId, start.token, { outcome: { reportOf: null, problem: 'no verify-backups run in the last two days' } });
    await alert(deps, request, 'compliance-incomplete', 'critical', 'compliance report: no verify-backups run in the last two days', {});
    return { kind: 'report', runId: request.runId, reportOf: null, summary: null };
  }
  const summary = await summarizeRun(deps.store, latest, now);
  await deps.store.transaction(async (tx) => {
    tx.update(compliancePaths.run(latest.runId), { summary });
    return Promise.resolve();
  });
  await finishRun(deps, request.runId, start.token, { outcome: { reportOf: latest.runId, summary } });
  if (!summary.complete || summary.failed > 0 || summary.schedules !== 'pass') {
    const coverage = summary.notChecked > 0 || summary.notPlanned > 0 ? `; not checked: ${idList(summary.notCheckedIds, summary.notChecked)}; checked but not planned: ${idList(summary.notPlannedIds, summary.notPlanned)}` : '';
    await alert(
      deps,
      request,
      summary.complete ? 'compliance-failed' : 'compliance-incomplete',
      !summary.complete || summary.schedules !== 'pass' ? 'critical' : 'warning',
      `compliance run ${latest.runId}${summary.complete ? '' : ' is INCOMPLETE'}: ${summary.failed} failed, ${summary.notChecked} not checked, ${summary.notPlanned} checked but not planned, schedules ${summary.schedules}${coverage}`,
      { runId: latest.runId, ...summary },
    );
  }
  return { kind: 'report', runId: request.runId, reportOf: latest.runId, summary };
}

/** Ids for a one-line message: the first few, and how many more. */
function idList(ids: readonly string[], total: number): string {
  if (total === 0) return 'none';
  const shown = ids.slice(0, 10);
  return `${shown.join(', ')}${total > shown.length ? ` and ${total - shown.length} more` : ''}`;
}

async function alert(deps: ComplianceDeps, request: RunRequest, kind: 'compliance-failed' | 'compliance-incomplete', severity: 'warning' | 'critical', summary: string, details: Record<string, unknown>): Promise<void> {
  const envelope = makeEnvelope({ type: 'alert', payload: { kind, severity, summary, details }, actor: `system:${request.schedule.name}`, reason: summary, issuedAt: deps.clock.now().toISOString() });
  await deps.bus.publish(TOPICS.events, envelope);
}

/** Wires scheduled compliance to its ports. */
export function createCompliance(input: ComplianceInput) {
  const deps: ComplianceDeps = {
    log: silentLogger,
    schedules: SCHEDULES,
    retention: DEFAULT_RETENTION_POLICY,
    pageSize: 500,
    claimMs: 5 * 60_000,
    drillSampleSize: 2,
    remediate: true,
    // schedulerParent is projects/<project>/locations/<region>.
    project: input.schedulerParent.split('/')[1] ?? 'unknown',
    sealSettleMs: DEFAULT_SEAL_SETTLE_MS,
    sealBudgetMs: 6 * 60_000,
    // A small database restores in minutes: one tick sees it through, well inside the 540 s timeout.
    drillFollowMs: 4 * 60_000,
    ...input,
  };

  /** Runs the work of one schedule's run (exported for `mi compliance run` in tests and the bench). */
  async function runSchedule(request: RunRequest): Promise<ScheduleOutcome> {
    const start = await beginRun(deps, request);
    if (start.kind === 'duplicate') return { kind: 'duplicate', runId: request.runId, reason: start.why };
    if (start.kind === 'under-way') {
      // Not acknowledged: if the claim's worker crashed, a later delivery resumes the run once the claim expires.
      throw new ControlPlaneError('conflict', `${start.why}; try again later`, { retryable: true, details: { runId: request.runId } });
    }
    try {
      return await runWork(request, start);
    } catch (error) {
      // The redelivery of this failure resumes the run at once instead of waiting out the claim.
      await releaseClaim(deps, request.runId, start.token).catch((releaseError: unknown) => {
        deps.log.warn('could not release the claim of a failed compliance run', { runId: request.runId, error: describeError(releaseError) });
      });
      throw error;
    }
  }

  async function runWork(request: RunRequest, start: StartedRun): Promise<ScheduleOutcome> {
    switch (request.schedule.name) {
      case 'verify-backups':
        return { kind: 'fanned-out', result: await fanOut(deps, request, start) };
      case 'check-retention':
        return { kind: 'retention', runId: request.runId, result: await runRetention(deps, request, start) };
      case 'compliance-report':
        return runDailyReport(deps, request, start);
      case 'restore-drill':
        return { kind: 'drill', runId: request.runId, result: await runRestoreDrill(deps, request, start) };
      case 'access-review':
        return { kind: 'access-review', result: await runAccessReview(deps, request, start) };
      case 'anchor-records':
        return { kind: 'anchoring', runId: request.runId, result: await runAnchoring(deps, request, start) };
      case 'drill-database': {
        const result = await runDatabaseDrill(deps, request, start);
        if (result.outcome?.result === 'fail') {
          await alert(deps, request, 'compliance-failed', 'critical', `the restore drill ${result.drillId ?? ''} of the control plane's database failed: ${result.outcome.problems.join('; ')}`, { drillId: result.drillId, problems: result.outcome.problems });
        }
        return { kind: 'database-drill', runId: request.runId, result };
      }
      default:
        await finishRun(deps, request.runId, start.token, { outcome: { ignored: `no compliance work for ${request.schedule.name}` } });
        return { kind: 'ignored', reason: `no compliance work for schedule ${request.schedule.name}` };
    }
  }

  /** The run a message asks for, by its schedule's name; a name no schedule has is ignored. */
  function runNamed(name: string, message: DeliveredMessage): Promise<ScheduleOutcome> {
    const request = runRequestOf(message, name, deps.schedules);
    if (request === undefined) {
      deps.log.warn('a message on the compliance topic names no known schedule', { schedule: name, messageId: message.messageId });
      return Promise.resolve({ kind: 'ignored', reason: `no schedule ${name}` });
    }
    return runSchedule(request);
  }

  return {
    deps,
    runSchedule,

    /** A schedule's tick on `mi-compliance` (through the edge): the run of its cron slot, once. Throws only to be retried. */
    runScheduled(name: string, message: DeliveredMessage): Promise<ScheduleOutcome> {
      return runNamed(name, message);
    },

    /** `mi compliance run` (a `compliance.run-requested` on `mi-compliance`): a run of its own, once. */
    runRequested(envelope: Envelope<'compliance.run-requested'>, message: DeliveredMessage): Promise<ScheduleOutcome> {
      const attributes = { ...message.attributes, requestId: envelope.eventId, requestedBy: envelope.actor };
      return runNamed(envelope.payload.schedule, { ...message, attributes });
    },

    /** A `compliance.check` on `mi-checks` (through the edge): one finding, once. Throws only to be retried. */
    async check(envelope: Envelope<'compliance.check'>): Promise<CheckOutcome> {
      const { runId, target, asOf } = envelope.payload;
      try {
        if (target === 'schedules') return await checkScheduleJobs(deps, runId, new Date(asOf));
        if (envelope.instanceId === undefined) return { kind: 'invalid', reason: 'an instance check names no instance' };
        return await checkInstance(deps, runId, envelope.instanceId, new Date(asOf));
      } catch (error) {
        deps.log.warn('compliance check failed; Pub/Sub will redeliver', { runId, instanceId: envelope.instanceId ?? null, error: describeError(error) });
        throw error;
      }
    },
  };
}

export type Compliance = ReturnType<typeof createCompliance>;
export type { ComplianceRun, CheckOutcome, FanOutResult, RetentionResult, RunRequest };

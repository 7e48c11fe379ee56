/**
 * Starting a run exactly once per slot: the run document is created in a transaction that
 * also takes a claim on its work. A trigger that finds the run done does nothing; one that
 * finds it claimed is retried later (the claim's worker may have crashed, and a redelivery
 * acknowledged now would leave the run unfinished); one that finds the claim expired, or
 * released by a worker that failed, resumes the work.
 */
import { randomUUID } from 'node:crypto';
import { cronSlotContaining, manualRunId, scheduledRunId } from '../domain/compliance/run-key.js';
import type { DeliveredMessage } from '../events/index.js';
import type { Schedule } from '../topology.js';
import { type ComplianceDeps, type ComplianceRun, type RunSchedule } from './model.js';
import { compliancePaths } from '../store/collections.js';
import { recordExpiry } from '../store/records.js';

/** What a scheduled message asks for: which schedule, for which run. */
export interface RunRequest {
  schedule: Schedule;
  runId: string;
  trigger: 'schedule' | 'manual';
  slot: { start: Date; end: Date };
  asOf: Date;
  messageId: string;
  requestedBy: string;
}

/**
 * Reads the run a schedule's message belongs to. A scheduled message's run is the cron slot
 * containing its publish time; `mi compliance run` adds a `requestId` attribute for a run of its own.
 */
export function runRequestOf(message: DeliveredMessage, scheduleName: string, schedules: readonly Schedule[]): RunRequest | undefined {
  const schedule = schedules.find((s) => s.name === scheduleName);
  if (schedule === undefined) return undefined;
  const asOf = new Date(message.publishTime);
  const slot = cronSlotContaining(schedule.cron, schedule.timeZone, asOf);
  const requestId = message.attributes.requestId;
  const manual = requestId !== undefined && requestId !== '';
  return {
    schedule,
    runId: manual ? manualRunId(schedule.name, requestId) : scheduledRunId(schedule.name, slot),
    trigger: manual ? 'manual' : 'schedule',
    slot,
    asOf,
    messageId: message.messageId,
    requestedBy: message.attributes.requestedBy ?? 'system:cloud-scheduler',
  };
}

export type RunStart =
  | { kind: 'started'; run: ComplianceRun; token: string }
  | { kind: 'resumed'; run: ComplianceRun; token: string }
  | { kind: 'duplicate'; run: ComplianceRun; why: string }
  | { kind: 'under-way'; run: ComplianceRun; why: string };

/** A run this worker holds the claim of. */
export type StartedRun = Extract<RunStart, { kind: 'started' | 'resumed' }>;

/** Creates the run (or takes over one whose claim expired or was released); a run done is a duplicate, one claimed is under way. */
export function beginRun(deps: Pick<ComplianceDeps, 'store' | 'clock' | 'claimMs'>, request: RunRequest): Promise<RunStart> {
  const token = randomUUID();
  return deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const path = compliancePaths.run(request.runId);
    const existing = await tx.get<ComplianceRun>(path);
    const claim = { token, until: new Date(now.getTime() + deps.claimMs).toISOString() };
    if (existing === undefined) {
      const run: ComplianceRun = {
        runId: request.runId,
        schedule: request.schedule.name as RunSchedule,
        trigger: request.trigger,
        slotStart: request.slot.start.toISOString(),
        slotEnd: request.slot.end.toISOString(),
        asOf: request.asOf.toISOString(),
        messageId: request.messageId,
        requestedBy: request.requestedBy,
        createdAt: now.toISOString(),
        status: 'planning',
        claim,
        planned: null,
        doneAt: null,
        summary: null,
        outcome: null,
      };
      tx.create(path, { ...run, expireAt: recordExpiry(now) });
      return { kind: 'started' as const, run, token };
    }
    if (existing.status === 'done') return { kind: 'duplicate' as const, run: existing, why: `run ${request.runId} is done` };
    if (existing.claim !== null && Date.parse(existing.claim.until) > now.getTime()) {
      return { kind: 'under-way' as const, run: existing, why: `run ${request.runId} is under way (claimed until ${existing.claim.until})` };
    }
    tx.update(path, { claim });
    return { kind: 'resumed' as const, run: { ...existing, claim }, token };
  });
}

/** Marks the run done (if this worker still holds its claim), with what it did. */
export async function finishRun(deps: Pick<ComplianceDeps, 'store' | 'clock'>, runId: string, token: string, fields: Partial<ComplianceRun>): Promise<boolean> {
  return deps.store.transaction(async (tx) => {
    const path = compliancePaths.run(runId);
    const run = await tx.get<ComplianceRun>(path);
    if (run === undefined || run.claim?.token !== token) return false;
    tx.update(path, { ...fields, status: 'done', claim: null, doneAt: deps.clock.now().toISOString() });
    return true;
  });
}

/** Gives up this worker's claim after a failure, so that the redelivery resumes the run at once rather than after the claim expires. */
export async function releaseClaim(deps: Pick<ComplianceDeps, 'store'>, runId: string, token: string): Promise<boolean> {
  return deps.store.transaction(async (tx) => {
    const path = compliancePaths.run(runId);
    const run = await tx.get<ComplianceRun>(path);
    if (run === undefined || run.status === 'done' || run.claim?.token !== token) return false;
    tx.update(path, { claim: null });
    return true;
  });
}

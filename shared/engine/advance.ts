/**
 * Moving an operation on: poll what its running steps started, claim the steps that may start
 * (claim, then act), record what happened, end it when its steps say so. Every change is its
 * own short transaction over fresh state, so the reconciler and result events may race.
 */
import { randomUUID } from 'node:crypto';
import {
  claimStep,
  claimableSteps,
  confirmIdle,
  failUnconfirmed,
  finishStep,
  holdsClaim,
  isFailing,
  isPastDeadline,
  markStepRunning,
  recordProgress,
  retryStep,
  runningSteps,
  scheduleNextRun,
  stepsToConfirm,
  verdictOf,
  type OperationRecord,
} from '../domain/lifecycle/operations.js';
import { describeError, isRetryable, wasRefused } from '../errors.js';
import { paths } from '../store/collections.js';
import { commit } from './change.js';
import type { EngineDeps } from './deps.js';
import type { Runners } from './steps/index.js';
import { handleStuck, idleSteps, markOperationStuck } from './stuck.js';

async function pollRunning(deps: EngineDeps, runners: Runners, op: OperationRecord): Promise<boolean> {
  const outcomes = await Promise.all(
    runningSteps(op).map(async (s) => {
      try {
        return { step: s.name, result: await runners[s.kind].poll(op, s) };
      } catch (error) {
        if (isRetryable(error)) {
          deps.log.warn('poll failed; will look again', { operationId: op.id, step: s.name, error: describeError(error) });
          return undefined;
        }
        // The poll itself was refused (a permission lost, a bad request): not the service's
        // word on the work, which may still run. The step fails but stays to be confirmed.
        return { step: s.name, result: { kind: 'unanswered' as const, error: describeError(error) } };
      }
    }),
  );
  const finished = outcomes.filter((o) => o !== undefined && (o.result.kind !== 'running' || o.result.progress !== undefined));
  if (finished.length === 0) return false;
  const changed = await commit(deps, op.id, (current, now) => {
    let next = current;
    for (const o of finished) {
      if (o === undefined) continue;
      if (o.result.kind === 'running') {
        if (o.result.progress !== undefined) next = recordProgress(next, o.step, o.result.progress.handles, o.result.progress.basedOn, now);
        continue;
      }
      if (o.result.kind === 'unanswered') {
        next = failUnconfirmed(next, o.step, `its outcome could not be read: ${o.result.error}`, now, true);
        continue;
      }
      if (o.result.kind === 'interrupted') {
        next = failUnconfirmed(next, o.step, o.result.error, now, true);
        continue;
      }
      const outcome =
        o.result.kind === 'succeeded'
          ? { ok: true as const, ...(o.result.handles ? { handles: o.result.handles } : {}) }
          : { ok: false as const, error: o.result.error, ...(o.result.handles ? { handles: o.result.handles } : {}) };
      next = finishStep(next, o.step, outcome, now);
    }
    return next === current ? undefined : next;
  });
  return changed !== undefined;
}

/**
 * A claim is used only while enough of it is left for the start's few calls (each under its
 * own deadline) to be sent before it expires: a worker that outlived its claim (a slow
 * instance, a function past its timeout) must not act on a step another worker may hold.
 */
function claimMarginMs(timings: EngineDeps['timings']): number {
  return Math.min(30_000, timings.claimMs / 4);
}

/**
 * Claims every step that may start in one transaction, runs their side effects side by side,
 * and records what they started in one more: steps of one operation never contend with each
 * other for its document.
 */
async function startSteps(deps: EngineDeps, runners: Runners, operationId: string, stepNames: readonly string[]): Promise<boolean> {
  const token = randomUUID();
  const claimed = await commit(deps, operationId, (op, now) => {
    let next = op;
    for (const name of stepNames) next = claimStep(next, name, token, now, deps.timings) ?? next;
    return next === op ? undefined : next;
  });
  if (claimed === undefined) return false;
  const mine = claimed.steps.filter((s) => stepNames.includes(s.name) && holdsClaim(claimed, s.name, token));
  const results = await Promise.all(
    mine.map(async (step) => {
      const until = Date.parse(step.claim?.until ?? '');
      if (!(deps.clock.now().getTime() < until - claimMarginMs(deps.timings))) {
        // Nothing was sent: the claim lapses and the step is taken up again.
        return { step: step.name, ok: false as const, retryable: true, mayHaveLanded: false, error: 'the claim ran out before the step could start' };
      }
      try {
        return { step: step.name, ok: true as const, handles: (await runners[step.kind].start(claimed, step)).handles };
      } catch (error) {
        const message = describeError(error);
        deps.log.warn('step start failed', { operationId, step: step.name, retryable: isRetryable(error), error: message });
        return { step: step.name, ok: false as const, retryable: isRetryable(error), mayHaveLanded: !wasRefused(error), error: message };
      }
    }),
  );
  await commit(deps, operationId, (op, now) => {
    let next = op;
    for (const r of results) {
      if (!holdsClaim(next, r.step, token)) continue;
      if (r.ok) next = markStepRunning(next, r.step, r.handles, now);
      else if (r.retryable) next = retryStep(next, r.step, r.error, now, deps.timings, r.mayHaveLanded);
      else next = failUnconfirmed(next, r.step, r.error, now, r.mayHaveLanded);
    }
    return next === op ? undefined : next;
  });
  return true;
}

/**
 * A failing operation starts nothing more; what its steps may have begun is confirmed with
 * their services, and once all is settled the operation ends (in the same transaction).
 */
async function settleFailing(deps: EngineDeps, runners: Runners, op: OperationRecord): Promise<boolean> {
  const unsettled = stepsToConfirm(op, deps.clock.now());
  if (unsettled.length === 0) return false;
  const idle = await idleSteps(deps, runners, op, unsettled);
  if (idle.length === 0) return false;
  const changed = await commit(deps, op.id, (current, now) => {
    let next = current;
    for (const s of idle) {
      // Only what was confirmed, and only if nobody took it up in the meantime.
      const still = stepsToConfirm(next, now).some((x) => x.name === s.name);
      if (still) next = confirmIdle(next, s.name, now);
    }
    return next === current ? undefined : next;
  });
  return changed !== undefined;
}

export type AdvanceResult = { operationId: string; status: OperationRecord['status'] | 'missing' };

/** advanceOperation wired to the engine's deps and runners: what the entry points call after a change. */
export type Advance = (operationId: string) => Promise<AdvanceResult>;

/** Moves one operation as far as it can go now, without waiting for anything to finish. */
export async function advanceOperation(deps: EngineDeps, runners: Runners, operationId: string, maxPasses = 5): Promise<AdvanceResult> {
  for (let pass = 0; pass < maxPasses; pass += 1) {
    const op = await deps.store.get<OperationRecord>(paths.operation(operationId));
    if (op === undefined) return { operationId, status: 'missing' };
    if (op.status !== 'running' && op.status !== 'stuck') return { operationId, status: op.status };
    const now = deps.clock.now();
    if (isPastDeadline(op, now)) {
      await markOperationStuck(deps, operationId);
      continue;
    }
    const polled = await pollRunning(deps, runners, op);
    if (polled) continue;
    if (op.status === 'stuck') {
      if (verdictOf(op).kind === 'continue') await handleStuck(deps, runners, op);
      const after = await deps.store.get<OperationRecord>(paths.operation(operationId));
      return { operationId, status: after?.status ?? 'missing' };
    }
    if (isFailing(op)) {
      if (await settleFailing(deps, runners, op)) continue;
    }
    const claimable = claimableSteps(op, now);
    if (claimable.length === 0) {
      if (Date.parse(op.nextRunAt) <= now.getTime()) {
        await commit(deps, operationId, (current, at) => ({ ...scheduleNextRun(current, at, deps.timings), updatedAt: current.updatedAt }));
      }
      return { operationId, status: op.status };
    }
    const started = await startSteps(deps, runners, operationId, claimable.map((s) => s.name));
    if (!started) return { operationId, status: op.status };
  }
  const last = await deps.store.get<OperationRecord>(paths.operation(operationId));
  return { operationId, status: last?.status ?? 'missing' };
}

/** The executor step: one run per run key, asked through the executor port, its outcome read back. */
import { sideEffectKey } from '../../domain/lifecycle/operations.js';
import type { ExecutorAction } from '../../events/index.js';
import { executorIdle, executorOutcome, refuseAfterOf, type StepDeps as Deps, type StepRunner } from './kit.js';

export function executorRunner(deps: Deps): StepRunner {
  return {
    async start(op, step) {
      const runKey = sideEffectKey(op.id, step.name);
      const { action, ...stepParams } = step.params;
      // Asked once per run key (the executor port sends a request once, through the outbox);
      // asking again on a retry is harmless.
      await deps.executor.requestRun({
        runKey,
        action: String(action) as ExecutorAction,
        instanceId: op.instanceId,
        params: { ...op.params, ...stepParams, operationId: op.id },
        actor: op.actor,
        reason: op.reason,
        refuseAfter: refuseAfterOf(step, deps.timings),
      });
      return { kind: 'running', handles: { runKey } };
    },
    poll: (op, step) => executorOutcome(deps, step, step.handles.runKey ?? sideEffectKey(op.id, step.name)),
    isIdle: (op, step) => executorIdle(deps, step, step.handles.runKey ?? sideEffectKey(op.id, step.name)),
  };
}

/**
 * A workflow's per-instance outputs, for `mi workflow output`: each finished member's output
 * from its operation (a plan's saved text read from the plans bucket by the control plane's own
 * account, as `mi apply show` does; a backup's ids; what failed), a page at a time in id order.
 * Only the object a plan of that instance, module and commit is saved as is read.
 */
import { isPlanObjectOf, planTextObjectOf } from '../domain/executor/index.js';
import type { OperationRecord } from '../domain/lifecycle/model.js';
import { memberOutputOf, type InstanceProgress, type MemberOutput, type RolloutRecord } from '../domain/rollout/index.js';
import type { PlanFilesPort, StateStore } from '../ports.js';
import { paths, rolloutPaths } from '../store/collections.js';

export interface WorkflowOutputPage {
  outputs: MemberOutput[];
  /** Members of this page not finished yet (their output comes later). */
  unfinished: number;
  /** The last instance of this page, when there may be more. */
  next: string | null;
}

/** One page of a workflow's outputs: finished members after `after`, at most `limit`. */
export async function readWorkflowOutputs(deps: { store: StateStore; plans: PlanFilesPort }, workflow: RolloutRecord, page: { after?: string; limit: number }): Promise<WorkflowOutputPage> {
  const task = workflow.workflow;
  if (task === undefined) throw new Error(`${workflow.id} is not a workflow`);
  const collection = rolloutPaths.progressCollection(workflow.id);
  const docs = await deps.store.query<InstanceProgress>({ collection, limit: page.limit, ...(page.after === undefined ? {} : { startAfterId: page.after }) });
  const finished = docs.map((d) => d.data).filter((m) => m.state === 'succeeded' || m.state === 'failed' || m.state === 'skipped');
  const operations = await Promise.all(finished.map((m) => (m.operationId === null ? Promise.resolve(undefined) : deps.store.get<OperationRecord>(paths.operation(m.operationId)))));
  const outputs = await Promise.all(
    finished.map(async (member, i) => {
      const output = memberOutputOf(task.action, member, operations[i]);
      const object = output.planObject;
      if (object === undefined || task.module === undefined || task.commit === undefined) return output;
      if (!isPlanObjectOf(object, { instanceId: member.instanceId, module: task.module, commit: task.commit })) {
        return { ...output, summary: `${output.summary} (its recorded plan ${object} is not where this instance's plan is saved: not read)` };
      }
      const found = await deps.plans.readText(planTextObjectOf(object));
      return found === undefined ? { ...output, summary: `${output.summary} (the saved plan is gone: plans are kept 30 days)` } : { ...output, text: found.text };
    }),
  );
  const unfinished = docs.length - finished.length;
  return { outputs, unfinished, next: docs.length < page.limit ? null : (docs[docs.length - 1]?.id ?? null) };
}

/**
 * Starting a fleet workflow: its members (the environment's instances the filter matches; for an apply, those whose plan the named plan workflow saved, each with that plan's
 * digest) are recorded once like a rollout's, then the workflow with its waves, and it is ticked
 * on the same planner. A workflow that changes prod waits for a second person's approval first.
 * Workflows run beside a rollout and each other: an instance busy with one is tried again.
 */
import {
  needsApproval,
  newRollout,
  WORKFLOW_ID_PREFIX,
  WorkflowSpecError,
  workflowMembersOf,
  windowCalendar,
  workflowWaves,
  type InstanceProgress,
  type RolloutRecord,
  type WorkflowAction,
  type WorkflowTask,
} from '../domain/rollout/index.js';
import type { Environment } from '../events/index.js';
import type { OperationRecord } from '../domain/lifecycle/model.js';
import type { StateStore } from '../ports.js';
import { paths, rolloutPaths } from '../store/collections.js';
import type { RolloutContext } from './deps.js';
import { publishTick } from './publish.js';
import { readFleet } from './reads.js';
import { newRolloutId, recordFanOut, type StartOutcome } from './start.js';

export interface WorkflowStartInput {
  action: WorkflowAction;
  environment: Environment;
  filter: readonly string[];
  /** plan: the module and the commit its builds run (the protected branch's head). */
  module?: string;
  commit?: string;
  /** apply: the plan workflow whose saved plans it applies. */
  plansOf?: string;
  concurrency: number;
  /** Failures a wave tolerates; absent: none, or every one for a check (workflowWaves). */
  budget?: number;
  actor: string;
  reason: string;
  /** A busy instance is tried again this long after (default 30 s). */
  busyRetryMs?: number;
}

const refused = (message: string): StartOutcome => ({ kind: 'refused', message });

/** The digests of the plans a plan workflow saved, by instance (its succeeded members' plan runs). */
export async function savedPlans(store: StateStore, plan: Pick<RolloutRecord, 'id'>): Promise<Map<string, string>> {
  const members = await store.query<InstanceProgress>({ collection: rolloutPaths.progressCollection(plan.id), where: [{ field: 'state', op: '==', value: 'succeeded' }] });
  const operations = await Promise.all(members.map((m) => (m.data.operationId === null ? Promise.resolve(undefined) : store.get<OperationRecord>(paths.operation(m.data.operationId)))));
  const digests = new Map<string, string>();
  members.forEach((m, i) => {
    const digest = operations[i]?.steps.find((s) => s.kind === 'executor-run')?.handles.planDigest;
    if (digest !== undefined) digests.set(m.data.instanceId, digest);
  });
  return digests;
}

/** What an apply applies: the plan workflow's module, commit and saved plans; or why not. */
async function plansToApply(ctx: RolloutContext, input: WorkflowStartInput): Promise<{ plan: RolloutRecord; digests: Map<string, string> } | StartOutcome> {
  if (input.plansOf === undefined) return refused('an apply applies the plans a plan workflow saved: name it (--plans <workflow>)');
  const plan = await ctx.store.get<RolloutRecord>(rolloutPaths.rollout(input.plansOf));
  if (plan?.kind !== 'workflow' || plan.workflow?.action !== 'plan') return refused(`no plan workflow ${input.plansOf} (mi workflow status lists the latest)`);
  if (plan.workflow.environment !== input.environment) return refused(`plan workflow ${plan.id} planned ${plan.workflow.environment}, not ${input.environment}`);
  if (plan.status !== 'completed') return refused(`plan workflow ${plan.id} is ${plan.status}: apply what a completed plan saved`);
  if (input.module !== undefined && input.module !== plan.workflow.module) return refused(`plan workflow ${plan.id} planned module ${plan.workflow.module ?? '?'}, not ${input.module}`);
  return { plan, digests: await savedPlans(ctx.store, plan) };
}

/** Starts a workflow; refused when its filter is malformed, it covers nobody, or what it needs is missing. */
export async function startWorkflow(ctx: RolloutContext, input: WorkflowStartInput): Promise<StartOutcome> {
  if (input.module !== undefined && input.action !== 'plan' && input.action !== 'apply') return refused(`a ${input.action} workflow takes no module (--module is for plan and apply)`);
  if (input.plansOf !== undefined && input.action !== 'apply') return refused(`a ${input.action} workflow applies no saved plans (--plans is for apply)`);
  let module = input.module;
  let commit = input.commit;
  let plans: Map<string, string> | undefined;
  if (input.action === 'apply') {
    const found = await plansToApply(ctx, input);
    if ('kind' in found) return found;
    ({ module, commit } = found.plan.workflow ?? {});
    plans = found.digests;
  } else if (input.action === 'plan' && (module === undefined || commit === undefined)) {
    return refused(module === undefined ? 'a plan needs a module (--module)' : 'a plan needs the deployment repository: the commands function has none');
  }
  const now = ctx.clock.now();
  const id = newRolloutId(now, WORKFLOW_ID_PREFIX);
  let membership;
  try {
    membership = workflowMembersOf({ action: input.action, environment: input.environment, filter: [...input.filter] }, await readFleet(ctx.store), now, plans, windowCalendar(ctx.windowClock));
  } catch (error) {
    if (error instanceof WorkflowSpecError) return refused(error.message);
    throw error;
  }
  const { members, sizes } = membership;
  if (members.length === 0) {
    return refused(`no ${input.environment} instance matches${input.filter.length === 0 ? '' : ` ${input.filter.join(' ')}`}${plans === undefined ? '' : ` with a plan saved by ${input.plansOf ?? ''}`}: nothing to run`);
  }
  const waves = workflowWaves(sizes, input.concurrency, input.budget, input.action);
  const workflow: WorkflowTask = {
    action: input.action,
    environment: input.environment,
    filter: [...input.filter],
    ...(module === undefined ? {} : { module }),
    ...(commit === undefined ? {} : { commit }),
    ...(input.plansOf === undefined ? {} : { plansOf: input.plansOf }),
    approval: { required: needsApproval(input.action, input.environment), approvedBy: null, approvedAt: null, reason: null },
  };
  const record = await recordFanOut(
    ctx,
    id,
    members,
    (at) => newRollout({ id, targetVersion: '', waves, actor: input.actor, reason: input.reason, now: at, busyRetryMs: input.busyRetryMs ?? 30_000, membership: { sizes }, workflow, ...(commit === undefined ? {} : { commit }), ...(ctx.windowClock === undefined ? {} : { windowClock: ctx.windowClock }) }),
    { action: 'workflow.started', after: { workflow, waves, members: sizes }, actor: input.actor, reason: input.reason },
  );
  if (record.status === 'running') await publishTick(ctx, record.id, 'start');
  return { kind: 'started', rollout: record };
}

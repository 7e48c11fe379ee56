/**
 * Fleet workflows, pure: one of the executor's actions run across a filtered set of one
 * environment's instances, on the rollout planner's waves (dev; or internal prod, then
 * customers), each wave at most `--concurrency` at once and halting past `--budget` failures.
 * Here: the `--filter` terms, who a workflow covers, its waves, whether it needs a second
 * person, and each member's output as its operation recorded it.
 */
import picomatch from 'picomatch';
import { INSTANCE_CHECKS, type Environment, type InstanceCheck } from '../../events/index.js';
import type { WindowCalendar } from './calendar.js';
import { pendingMember } from './membership.js';
import type { FleetInstance, InstanceProgress, WaveName, WaveSpec, WorkflowAction, WorkflowTask } from './types.js';

export const FILTER_KEYS = ['id', 'slug', 'tier', 'version', 'region', 'status'] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];

export class WorkflowSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkflowSpecError';
  }
}

/** Parses `--filter key=value` terms (a value may be a glob such as cus-*); all must match. */
export function parseFilter(terms: readonly string[]): Array<{ key: FilterKey; value: string; matches: (text: string) => boolean }> {
  return terms.map((term) => {
    const at = term.indexOf('=');
    const key = term.slice(0, at) as FilterKey;
    const value = term.slice(at + 1);
    if (at <= 0 || !FILTER_KEYS.includes(key)) throw new WorkflowSpecError(`--filter ${JSON.stringify(term)}: expected key=value with a key of ${FILTER_KEYS.join(', ')} (e.g. tier=customer, id=cus-*)`);
    if (value === '') throw new WorkflowSpecError(`--filter ${term}: expected a value after =`);
    return { key, value, matches: picomatch(value) };
  });
}

/** Whether an instance matches every filter term. */
export function matchesFilter(instance: FleetInstance, filter: ReturnType<typeof parseFilter>): boolean {
  return filter.every((term) => {
    const field = instance[term.key];
    return typeof field === 'string' && term.matches(field);
  });
}

/** Whether the action changes the instances it runs on (and so keeps to windows and freezes, and in prod needs a second person). */
export function changesInstances(action: WorkflowAction): boolean {
  return action === 'apply';
}

/** Whether a workflow of this action in this environment waits for a second person's approval. */
export function needsApproval(action: WorkflowAction, environment: Environment): boolean {
  return environment === 'prod' && changesInstances(action);
}

/** The wave a member of a workflow runs in: dev, or internal prod before customers. */
export function workflowWaveOf(instance: Pick<FleetInstance, 'environment' | 'tier'>): WaveName {
  if (instance.environment === 'dev') return 'dev';
  return instance.tier === 'internal' ? 'internal' : 'customers';
}

/** The instance checks a check action runs (the engine's `instance.check`), or undefined for an action that is not a check. */
export function checksOf(action: WorkflowAction): InstanceCheck[] | undefined {
  if (action === 'health') return ['health'];
  if (action === 'check') return [...INSTANCE_CHECKS];
  return undefined;
}

/**
 * A workflow's waves: those its members fall in, each `concurrency` at once, halting past
 * `budget` failures, no soak. Without a budget, a wave of checks tolerates every failure (a
 * failed check changed nothing: it is a finding, and halting would hide the rest); any other
 * action tolerates none.
 */
export function workflowWaves(sizes: Partial<Record<WaveName, number>>, concurrency: number, budget: number | undefined, action?: WorkflowAction): WaveSpec[] {
  return (['dev', 'internal', 'customers'] as const)
    .filter((name) => (sizes[name] ?? 0) > 0)
    .map((name) => {
      const tolerated = budget ?? (action !== undefined && checksOf(action) !== undefined ? (sizes[name] ?? 0) : 0);
      return { name, maxInFlight: concurrency, failureBudget: { percent: 0, min: tolerated }, soakMs: 0, manualGate: false };
    });
}

/**
 * The members of a workflow over the fleet at `now`, in id order: the environment's instances
 * (not deleted) that match the filter. Customers of an action that changes them keep to their
 * maintenance windows; the rest may start at once. `plans` (an apply) gives each member the
 * digest of the plan it applies; an instance without one is not a member.
 */
export function workflowMembersOf(task: Pick<WorkflowTask, 'action' | 'environment' | 'filter'>, fleet: readonly FleetInstance[], now: Date, plans?: ReadonlyMap<string, string>, windows?: WindowCalendar): { members: InstanceProgress[]; sizes: Partial<Record<WaveName, number>> } {
  const filter = parseFilter(task.filter);
  const sizes: Partial<Record<WaveName, number>> = {};
  const members: InstanceProgress[] = [];
  for (const instance of [...fleet].sort((a, b) => a.id.localeCompare(b.id))) {
    // A busy instance is a member (the engine answers busy, it is tried again); a broken one is recorded skipped by the engine's refusal.
    if (instance.environment !== task.environment || instance.status === 'deleted' || !matchesFilter(instance, filter)) continue;
    const planDigest = plans?.get(instance.id);
    if (plans !== undefined && planDigest === undefined) continue;
    const wave = workflowWaveOf(instance);
    sizes[wave] = (sizes[wave] ?? 0) + 1;
    const window = changesInstances(task.action) && instance.tier === 'customer' ? instance.maintenanceWindow : undefined;
    members.push(pendingMember({ instanceId: instance.id, wave, ...(window === undefined ? {} : { window }), eligible: 'now', ...(planDigest === undefined ? {} : { planDigest }) }, now, windows));
  }
  return { members, sizes };
}

/** How people name a fan-out: "rollout … to 5.5.0", "workflow … (plan networking in dev)", "module change … (networking at 0123456789ab)". */
export function describeFanOut(fanOut: { id: string; kind?: string; targetVersion: string; workflow?: WorkflowTask; moduleChange?: { module: string; commit: string } }): string {
  if (fanOut.kind === 'module-change' && fanOut.moduleChange !== undefined) return `module change ${fanOut.id} (${fanOut.moduleChange.module} at ${fanOut.moduleChange.commit.slice(0, 12)})`;
  const w = fanOut.workflow;
  if (fanOut.kind !== 'workflow' || w === undefined) return `rollout ${fanOut.id} to ${fanOut.targetVersion}`;
  return `workflow ${fanOut.id} (${w.action}${w.module === undefined ? '' : ` ${w.module}`} in ${w.environment}${w.filter.length === 0 ? '' : `, ${w.filter.join(' ')}`})`;
}

/** A workflow's id starts so (a rollout's with ro-, a module change's with mc-): its facts' audit records say which, without a read. */
export const WORKFLOW_ID_PREFIX = 'wf-';

export function isWorkflowId(id: string): boolean {
  return id.startsWith(WORKFLOW_ID_PREFIX);
}

/** Whether a fan-out is a release upgrade (a rollout: one at a time), whatever else runs beside it. */
export function isReleaseRollout(fanOut: { kind?: string }): boolean {
  return fanOut.kind === undefined || fanOut.kind === 'upgrade';
}

/** What the audit trail calls a fan-out's records (rollout., workflow., module-change.), from its kind. */
export function auditNounOf(fanOut: { kind?: string }): 'rollout' | 'workflow' | 'module-change' {
  return fanOut.kind === 'workflow' ? 'workflow' : fanOut.kind === 'module-change' ? 'module-change' : 'rollout';
}

/** The applyId a workflow's plan or apply of one member reports to (its plan build takes it as a label). */
export function workflowApplyId(rolloutId: string, instanceId: string): string {
  return `${rolloutId}.${instanceId}`;
}

/** One member's output, as its operation recorded it (and, for a plan, its saved text once read). */
export interface MemberOutput {
  instanceId: string;
  wave: WaveName;
  state: InstanceProgress['state'];
  operationId: string | null;
  /** One line: a plan's counts, a backup's ids, what failed. */
  summary: string;
  /** A plan: the saved plan file (its text is beside it), its shape across instances and its digest. */
  planObject?: string;
  shape?: string;
  digest?: string;
  /** A plan's text as `terraform show` rendered it. */
  text?: string;
}

/** What a member's operation leaves for its output (the executor's outputs are on its steps' handles). */
export interface OperationOutputView {
  status: string;
  failure: { step: string; reason: string } | null;
  steps: ReadonlyArray<{ kind: string; handles: Readonly<Record<string, string>> }>;
}

/** A member's output from its progress and its operation (undefined when it never ran one). */
export function memberOutputOf(action: WorkflowAction, member: InstanceProgress, operation: OperationOutputView | undefined): MemberOutput {
  const base = { instanceId: member.instanceId, wave: member.wave, state: member.state, operationId: member.operationId };
  if (member.state !== 'succeeded') return { ...base, summary: member.detail ?? member.state };
  const handles = (kind: string) => operation?.steps.find((s) => s.kind === kind)?.handles ?? {};
  if (action === 'backup') {
    const sql = handles('sql-backup').backupRunId;
    const gke = handles('gke-backup').gkeBackup;
    return { ...base, summary: `Cloud SQL backup run ${sql ?? '(none recorded)'}; GKE backup ${gke ?? '(none recorded)'}` };
  }
  const checks = checksOf(action);
  if (checks !== undefined) return { ...base, summary: checkSummary(checks, operation) };
  const run = handles('executor-run');
  const counts = ['planAdd', 'planChange', 'planDestroy'].map((k) => run[k]);
  const summary =
    action === 'plan'
      ? counts.every((n) => n !== undefined)
        ? `Plan: ${counts[0]} to add, ${counts[1]} to change, ${counts[2]} to destroy.`
        : (run.summary ?? 'planned (no summary recorded)')
      : `applied the saved plan ${member.planDigest?.slice(0, 12) ?? ''}`;
  return {
    ...base,
    summary,
    ...(run.planObject === undefined ? {} : { planObject: run.planObject }),
    ...(run.planShape === undefined ? {} : { shape: run.planShape }),
    ...(run.planDigest === undefined ? {} : { digest: run.planDigest }),
  };
}

/**
 * What passing checks found, the same words for every instance that passed alike (so they group):
 * the version it answered on, and the backup policy met. The probe's own URL and time are on the
 * operation (mi op show).
 */
function checkSummary(checks: readonly InstanceCheck[], operation: OperationOutputView | undefined): string {
  const health = operation?.steps.find((s) => s.kind === 'health-check')?.handles.probeLog;
  let version: string | null = null;
  try {
    const probes = health === undefined ? [] : (JSON.parse(health) as Array<{ version?: string | null }>);
    version = probes.at(-1)?.version ?? null;
  } catch {
    version = null;
  }
  return checks
    .map((check) => (check === 'health' ? `healthy${version === null ? '' : ` on ${version}`}` : 'backup configuration meets the policy'))
    .join('; ');
}

export interface OutputGroup {
  /** The members whose output is the same (a plan's: the same once each instance's own names are set aside). */
  instances: string[];
  /** The first member's output, shown for the group. */
  sample: MemberOutput;
}

/**
 * Members grouped by identical output, largest group first: plans by their shape (the plan with
 * each instance's own names replaced), the rest by their text or summary and state.
 */
export function groupOutputs(outputs: readonly MemberOutput[]): OutputGroup[] {
  const groups = new Map<string, OutputGroup>();
  for (const output of [...outputs].sort((a, b) => a.instanceId.localeCompare(b.instanceId))) {
    const key = output.shape !== undefined ? `shape ${output.shape}` : `${output.state}\n${output.text ?? output.summary}`;
    const group = groups.get(key) ?? { instances: [], sample: output };
    group.instances.push(output.instanceId);
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) => b.instances.length - a.instances.length || (a.instances[0] ?? '').localeCompare(b.instances[0] ?? ''));
}

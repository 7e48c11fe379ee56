/**
 * Module applies (`moduleApplies/{id}`) as pure decisions: which mode a module applies in, which
 * wave an instance belongs to, and when a newer commit supersedes an unconfirmed plan. When
 * each apply starts is the rollout planner's (a module change: shared/domain/rollout/module-change.ts).
 */
import type { Environment, Tier } from '../../events/instance.js';

/** Modules that apply by themselves on merge; every other one needs a plan check and a confirmation. */
export const DEFAULT_AUTO_APPLY_MODULES: readonly string[] = ['monitoring', 'executors', 'security'];

/** Waves in order: dev first, then internal prod instances, then customers. */
export const WAVES = ['dev', 'internal', 'customers'] as const;
export type WaveName = (typeof WAVES)[number];

export type ApplyStatus =
  /** Waits for its wave (auto), or for nothing yet. */
  | 'waiting'
  /** A plan run is asked for or running. */
  | 'planning'
  /** The plan ran; a person must confirm it. */
  | 'awaiting-confirmation'
  /** Confirmed; the apply waits for its wave. */
  | 'confirmed'
  /** The apply run is asked for or running. */
  | 'applying'
  | 'applied'
  | 'failed'
  /** A newer commit changed the same module of the same instance before this one was confirmed. */
  | 'superseded'
  /** An earlier wave failed: this one will not start. */
  | 'halted';

/** A plan as its build described it (see readPlanOutput). */
export interface PlanFacts {
  digest?: string;
  shape?: string;
  add?: number;
  change?: number;
  destroy?: number;
  /** The saved plan file's gs:// URL (its text rendering is beside it: planTextObjectOf). */
  object?: string;
}

/** The plan facts in a plan run's outputs (planDigest, planShape, planObject, planAdd, planChange, planDestroy). */
export function planFactsOf(outputs: Readonly<Record<string, string>> | undefined): PlanFacts | undefined {
  if (outputs === undefined) return undefined;
  const facts: PlanFacts = {};
  if (outputs.planDigest) facts.digest = outputs.planDigest;
  if (outputs.planShape) facts.shape = outputs.planShape;
  if (outputs.planObject) facts.object = outputs.planObject;
  for (const [key, field] of [['planAdd', 'add'], ['planChange', 'change'], ['planDestroy', 'destroy']] as const) {
    const n = Number(outputs[key]);
    if (outputs[key] !== undefined && Number.isInteger(n)) facts[field] = n;
  }
  return Object.keys(facts).length === 0 ? undefined : facts;
}

/**
 * `mi apply diff`: the applies of one module at one commit grouped by their plan's shape (the plan
 * with each instance's own names replaced), so a person reads each distinct plan once. Applies
 * whose plan reported no shape are a group each.
 */
export function groupPlansByShape(applies: readonly ModuleApplyRecord[]): Array<{ shape: string | null; summary: string | null; instances: string[] }> {
  const groups = new Map<string, { shape: string | null; summary: string | null; instances: string[] }>();
  for (const apply of [...applies].sort((a, b) => a.instanceId.localeCompare(b.instanceId))) {
    const shape = apply.plan?.shape ?? null;
    const key = shape ?? `unshaped ${apply.id}`;
    const group = groups.get(key) ?? { shape, summary: apply.planSummary, instances: [] };
    group.instances.push(apply.instanceId);
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) => b.instances.length - a.instances.length || a.instances[0].localeCompare(b.instances[0]));
}

export const ACTIVE_APPLY_STATUSES: readonly ApplyStatus[] = ['waiting', 'planning', 'awaiting-confirmation', 'confirmed', 'applying'];
/** Not yet confirmed (nor started as an auto apply): a newer commit supersedes these. */
export const SUPERSEDABLE_STATUSES: readonly ApplyStatus[] = ['waiting', 'planning', 'awaiting-confirmation'];

export type ApplyAction = 'plan' | 'apply' | 'delete';

export interface ApplyRequest {
  eventId: string;
  action: ApplyAction;
  /** Moves on when the engine answered busy; the event id is derived from it. */
  attempt: number;
  at: string;
  /** Started by its module change's tick (mc-…): a busy answer is retried there, not here. */
  fanOut?: string;
}

/** `moduleApplies/{id}`: one module of one instance at one merge commit (or an instance delete waiting for confirmation). */
export interface ModuleApplyRecord {
  id: string;
  kind: 'module' | 'instance-delete';
  instanceId: string;
  environment: Environment;
  tier: Tier;
  /** The module; `(instance)` for an instance delete. */
  module: string;
  commit: string;
  /** When the merge commit was made: orders commits for superseding. */
  committedAt: string;
  repository: string;
  mode: 'auto' | 'confirm';
  wave: number;
  status: ApplyStatus;
  request: ApplyRequest | null;
  operationId: string | null;
  planSummary: string | null;
  /** What its plan build reported: the saved plan file's sha256, its shape across instances, its counts. */
  plan?: PlanFacts;
  /** The digest of the plan the person confirmed: the apply applies that saved file, or refuses. */
  confirmedDigest?: string | null;
  confirmedBy: string | null;
  confirmedAt: string | null;
  supersededBy: string | null;
  failure: string | null;
  /** For an instance delete: the slug the delete command repeats, read when it was confirmed. */
  confirmSlug?: string;
  /** The push event that found the change, and who merged it (as GitHub says). */
  causeEventId: string;
  mergedBy: string;
  /** The GitHub logins of its commits' authors: like the pusher, they may not confirm it. */
  authors?: string[];
  createdAt: string;
  updatedAt: string;
}

export const INSTANCE_DELETE_MODULE = '(instance)';

/** The document id: readable, and keyed by instance, module and merge commit. */
export function moduleApplyId(instanceId: string, module: string, commit: string): string {
  return `${instanceId}.${module === INSTANCE_DELETE_MODULE ? 'delete' : module}.${commit.slice(0, 12)}`;
}

export function applyModeOf(module: string, autoApply: readonly string[] = DEFAULT_AUTO_APPLY_MODULES): 'auto' | 'confirm' {
  return autoApply.includes(module) ? 'auto' : 'confirm';
}

/** Wave index of an instance: 0 dev, 1 internal prod, 2 customers. */
export function waveOf(instance: { environment: Environment; tier: Tier }): number {
  if (instance.environment === 'dev') return 0;
  return instance.tier === 'internal' ? 1 : 2;
}

/**
 * What a new apply does to the unconfirmed ones of the same instance and module: older
 * commits are superseded by it; if one of them is newer, the new one is superseded instead.
 */
export function supersession(
  incoming: Pick<ModuleApplyRecord, 'id' | 'committedAt'>,
  others: ReadonlyArray<Pick<ModuleApplyRecord, 'id' | 'committedAt' | 'status'>>,
): { supersede: string[]; supersededBy: string | null } {
  const pending = others.filter((o) => o.id !== incoming.id && SUPERSEDABLE_STATUSES.includes(o.status));
  const newer = pending.filter((o) => Date.parse(o.committedAt) > Date.parse(incoming.committedAt)).sort((a, b) => Date.parse(b.committedAt) - Date.parse(a.committedAt));
  if (newer[0] !== undefined) return { supersede: [], supersededBy: newer[0].id };
  return { supersede: pending.map((o) => o.id), supersededBy: null };
}

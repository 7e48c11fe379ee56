/**
 * Module changes from merges, pure: one module at one merge commit, applied on the rollout
 * planner's waves (dev, internal prod, customers in their maintenance windows), each wave a few
 * at a time, no apply during a change freeze, any failure halting the waves after it (budget 0,
 * as before) until an operator resumes or aborts. Its members are the instances whose module the
 * merge changed, each pointing at its `moduleApplies` document: an auto-apply module's member
 * may start at once, a confirm module's only once a person confirmed its plan.
 */
import { createHash } from 'node:crypto';
import type { InstanceRecord } from '../../events/index.js';
import type { WindowCalendar } from './calendar.js';
import { pendingMember } from './membership.js';
import type { InstanceProgress, WaveName, WaveSpec } from './types.js';
import { workflowWaveOf } from './workflow.js';

/** In flight at once per wave; a failure halts (budget 0); no soak, no gate. */
const MODULE_CHANGE_IN_FLIGHT: Record<'dev' | 'internal' | 'customers', number> = { dev: 10, internal: 5, customers: 20 };

/** The fan-out id of one module at one commit: readable, and the same however often it is asked for. */
export function moduleChangeId(module: string, commit: string): string {
  const plain = /^[a-z0-9-]{1,40}$/.test(module);
  const name = plain ? module : `${module.replace(/[^a-z0-9-]/g, '-').slice(0, 30)}-${createHash('sha256').update(module).digest('hex').slice(0, 8)}`;
  return `mc-${commit.slice(0, 12)}-${name}`;
}

/** The waves its members fall in, in order, each at its default concurrency, halting on the first failure. */
export function moduleChangeWaves(sizes: Partial<Record<WaveName, number>>, inFlight: Partial<Record<WaveName, number>> = {}): WaveSpec[] {
  return (['dev', 'internal', 'customers'] as const)
    .filter((name) => (sizes[name] ?? 0) > 0)
    .map((name) => ({ name, maxInFlight: inFlight[name] ?? MODULE_CHANGE_IN_FLIGHT[name], failureBudget: { percent: 0, min: 0 }, soakMs: 0, manualGate: false }));
}

/** What a member is made from: its apply (id, mode, status) and its instance as the merge found it. */
export interface ModuleChangeCandidate {
  applyId: string;
  mode: 'auto' | 'confirm';
  /** Superseded applies are no members; an apply already confirmed may start. */
  status: string;
  confirmedDigest?: string | null;
  /** Who its apply acts for: who confirmed its plan, or who merged it (github:<login>). */
  actor: string;
  instance: Pick<InstanceRecord, 'id' | 'environment' | 'tier' | 'maintenanceWindow'>;
}

/**
 * The members of a module change, in id order: each apply's instance in its wave; a customer
 * keeps to its maintenance window. One that must wait for a person's confirmation has no time
 * to start yet (`eligibleAt` null: the tick does not pick it, and its wave waits for it).
 */
export function moduleChangeMembers(candidates: readonly ModuleChangeCandidate[], now: Date, windows?: WindowCalendar): { members: InstanceProgress[]; sizes: Partial<Record<WaveName, number>> } {
  const sizes: Partial<Record<WaveName, number>> = {};
  const members: InstanceProgress[] = [];
  for (const c of [...candidates].sort((a, b) => a.instance.id.localeCompare(b.instance.id))) {
    if (c.status === 'superseded') continue;
    const wave = workflowWaveOf(c.instance);
    sizes[wave] = (sizes[wave] ?? 0) + 1;
    const window = c.instance.tier === 'customer' ? c.instance.maintenanceWindow : undefined;
    const ready = c.mode === 'auto' || c.status === 'confirmed';
    members.push(
      pendingMember(
        {
          instanceId: c.instance.id,
          wave,
          ...(window === undefined ? {} : { window }),
          eligible: ready ? 'now' : 'not-yet',
          ...(c.confirmedDigest ? { planDigest: c.confirmedDigest } : {}),
          applyId: c.applyId,
          actor: c.actor,
          ...(ready ? {} : { detail: 'waits for a person to confirm its plan (mi apply confirm)' }),
        },
        now,
        windows,
      ),
    );
  }
  return { members, sizes };
}

/** A member once its plan was confirmed: it may start now (the tick passes it over to its window if that is shut). */
export function confirmedMember(member: InstanceProgress, confirmation: { planDigest: string | null; by: string }, now: Date): InstanceProgress | undefined {
  if (member.state !== 'pending' || member.eligibleAt !== null) return undefined;
  const at = now.toISOString();
  return { ...member, eligibleAt: at, ...(confirmation.planDigest === null ? {} : { planDigest: confirmation.planDigest }), actor: confirmation.by, detail: null, updatedAt: at };
}

/** A member whose apply a newer commit superseded before it started: skipped, never a failure. */
export function supersededMember(member: InstanceProgress, by: string, now: Date): InstanceProgress | undefined {
  if (member.state !== 'pending' && member.state !== 'waiting') return undefined;
  const at = now.toISOString();
  return { ...member, state: 'skipped', eligibleAt: null, finishedAt: at, detail: `superseded by ${by} before it started`, updatedAt: at };
}

/**
 * The rollout planner: decides, for one tick, how the waves move and which upgrades start.
 * It reads through a WaveReader (counts of a wave's members by state, its members whose time
 * to start has come, soonest first) and never the whole fleet: a tick costs what it starts,
 * not what the rollout covers. The tick gives it a reader over its transaction, so every count
 * that decides a halt or a start is read where the starts are written; tests give it one over
 * plain arrays.
 */
import { activeFreeze, windowCalendar } from './calendar.js';
import type { Calendar, InstanceProgress, ProgressState, RolloutRecord, WaveName, WaveSpec, WaveState, WaveSummary, WorkflowTask, ModuleChangeTask, WindowClock } from './types.js';
import { failureBudgetOf } from './waves.js';
import { describeFanOut } from './workflow.js';

/** Why a member that may be upgraded did not start this tick (of those the tick looked at). */
export type HoldReason = 'outside-window' | 'frozen' | 'in-flight-limit' | 'tick-limit';

export interface PlannedStart {
  instanceId: string;
  wave: WaveName;
  /** Earlier attempts (a busy instance tried again). */
  attempts: number;
  /** Where it stood: pending, or waiting to be tried again. */
  from: ProgressState;
  /** Its maintenance window, kept on its progress. */
  window?: InstanceProgress['window'];
  /** An apply: the digest of the plan it applies. */
  planDigest?: string;
  /** A module change: the member's module apply, and who it acts for. */
  applyId?: string;
  actor?: string;
}

/** A member the tick looked at and passed over: it may next start then (its window's next opening). */
export interface PassOver {
  instanceId: string;
  eligibleAt: string;
}

/** Something the tick records in the audit trail besides the starts. */
export interface PlanNote {
  action: 'wave-started' | 'wave-awaiting-gate' | 'wave-completed' | 'wave-soaked' | 'halted' | 'completed';
  wave: WaveName | null;
  detail: string;
}

export interface RolloutPlan {
  /** The rollout after this tick (waves, status, halt, summary); unchanged fields as given. */
  rollout: RolloutRecord;
  start: PlannedStart[];
  passOver: PassOver[];
  held: Partial<Record<HoldReason, number>>;
  notes: PlanNote[];
}

export interface PlannerOptions {
  /** At most this many upgrades start in one tick (a transaction holds at most 500 writes). */
  maxStartsPerTick?: number;
}

/** What the planner reads of one wave's members. */
export interface WaveReader {
  /** Members in flight and failed. */
  counts(wave: WaveName): Promise<{ inFlight: number; failed: number }>;
  /** Open (pending or waiting) members whose eligibleAt is at or before `now`, soonest first, at most `limit`. */
  eligible(wave: WaveName, now: Date, limit: number): Promise<InstanceProgress[]>;
  /** Whether any member is still open, whenever it may start. */
  anyOpen(wave: WaveName): Promise<boolean>;
  /** Members per state (read once, when the wave completes, for its summary). */
  stateCounts(wave: WaveName): Promise<Partial<Record<ProgressState, number>>>;
  /** The first failed members, with what failed (a halt names them). */
  failures(wave: WaveName, limit: number): Promise<InstanceProgress[]>;
}

const DEFAULT_MAX_STARTS_PER_TICK = 100;

function describeFailures(failed: readonly InstanceProgress[], total: number): string {
  const shown = failed.slice(0, 5).map((p) => (p.detail ? `${p.instanceId} (${p.detail.length > 120 ? `${p.detail.slice(0, 117)}...` : p.detail})` : p.instanceId));
  return shown.join('; ') + (total > shown.length ? `; and ${total - shown.length} more` : '');
}

/** The summary of a wave nobody has started. */
function untouched(spec: WaveSpec, size: number, previous: WaveSummary | undefined): WaveSummary {
  const skipped = previous?.skipped ?? 0;
  return { wave: spec.name, total: size, succeeded: 0, failed: 0, inFlight: 0, skipped, waiting: Math.max(0, size - skipped), budget: failureBudgetOf(spec, size) };
}

/**
 * Decides the next upgrades of a rollout and how its waves move: waves run one after another
 * (each soaks before the next and may wait for a manual gate); within the active wave at most
 * `maxInFlight` upgrades run; customers start only inside their maintenance window (one whose
 * window has closed is passed over until it next opens); nothing starts during a change freeze;
 * a wave whose failures exceed its budget halts the rollout.
 */
export async function planTick(rollout: RolloutRecord, reader: WaveReader, now: Date, calendar: Calendar, options: PlannerOptions = {}): Promise<RolloutPlan> {
  const at = now.toISOString();
  const windows = windowCalendar(rollout.windowClock);
  const waveStates: WaveState[] = rollout.waves.map(
    (w, i) => rollout.waveStates[i] ?? { name: w.name, status: 'pending', startedAt: null, completedAt: null, soakUntil: null, gatePassedAt: null, gatePassedBy: null, forgivenFailures: 0 },
  );
  const sizeOf = (wave: WaveName) => rollout.membership.sizes[wave] ?? 0;
  const summary = rollout.waves.map((w) => rollout.summary.find((s) => s.wave === w.name) ?? untouched(w, sizeOf(w.name), undefined));
  const notes: PlanNote[] = [];
  const held: RolloutPlan['held'] = {};
  const hold = (reason: HoldReason, n = 1) => {
    if (n > 0) held[reason] = (held[reason] ?? 0) + n;
  };
  const start: PlannedStart[] = [];
  const passOver: PassOver[] = [];
  let status = rollout.status;
  let halt = rollout.halt;
  let completedAt = rollout.completedAt;

  if (status === 'running') {
    for (let index = 0; index < rollout.waves.length; index += 1) {
      const spec = rollout.waves[index];
      const state = waveStates[index];
      if (spec === undefined || state === undefined) break;
      if (state.status === 'done') continue;
      const isLast = index === rollout.waves.length - 1;
      const size = sizeOf(spec.name);

      if (state.status === 'soaking') {
        if (state.soakUntil !== null && Date.parse(state.soakUntil) > now.getTime()) break;
        waveStates[index] = { ...state, status: 'done' };
        notes.push({ action: 'wave-soaked', wave: spec.name, detail: `wave ${spec.name} soaked until ${state.soakUntil ?? at}` });
        continue;
      }
      if (state.status === 'halted') break;
      let current = state;
      if (current.status === 'pending' || current.status === 'awaiting-gate') {
        if (spec.manualGate && current.gatePassedAt === null) {
          if (current.status === 'pending') {
            waveStates[index] = { ...current, status: 'awaiting-gate' };
            notes.push({ action: 'wave-awaiting-gate', wave: spec.name, detail: `wave ${spec.name} waits for mi rollout promote` });
          }
          break;
        }
        current = { ...current, status: 'active', startedAt: at };
        waveStates[index] = current;
        notes.push({ action: 'wave-started', wave: spec.name, detail: `wave ${spec.name} started` });
      }

      // The active wave, on counts read now.
      const { inFlight, failed } = await reader.counts(spec.name);
      const budget = failureBudgetOf(spec, size);
      const previous = summary[index] ?? untouched(spec, size, undefined);
      const counted = failed - current.forgivenFailures;
      if (counted > budget) {
        const named = await reader.failures(spec.name, 5);
        const runs = rollout.kind === 'workflow' ? `${rollout.workflow?.action ?? 'run'}(s)` : rollout.kind === 'module-change' ? 'apply(s)' : 'upgrade(s)';
        const reason = `wave ${spec.name}: ${failed} ${runs} failed${current.forgivenFailures > 0 ? ` (${current.forgivenFailures} accepted on resume)` : ''}, more than its failure budget of ${budget}: ${describeFailures(named, failed)}`;
        waveStates[index] = { ...current, status: 'halted' };
        status = 'halted';
        halt = { wave: spec.name, reason, failed: named.map((p) => p.instanceId), at };
        notes.push({ action: 'halted', wave: spec.name, detail: reason });
        summary[index] = { ...previous, total: size, failed, inFlight, budget, waiting: Math.max(0, size - previous.succeeded - previous.skipped - failed - inFlight) };
        break;
      }

      const freeze = activeFreeze(calendar, now);
      const maxStarts = options.maxStartsPerTick ?? DEFAULT_MAX_STARTS_PER_TICK;
      const capacity = Math.max(0, spec.maxInFlight - inFlight);
      const wanted = Math.min(capacity, maxStarts);
      let looked: InstanceProgress[] = [];
      if (freeze !== undefined) hold('frozen');
      // Exactly as many as it may start: one it passes over (its window closed) is moved on, and the tick after fills its slot.
      else if (wanted > 0) looked = await reader.eligible(spec.name, now, wanted);
      else hold(capacity === 0 ? 'in-flight-limit' : 'tick-limit');
      for (const member of looked) {
        if (member.window !== undefined && !windows.isOpen(member.window, now)) {
          passOver.push({ instanceId: member.instanceId, eligibleAt: windows.nextOpening(member.window, now).toISOString() });
          hold('outside-window');
          continue;
        }
        if (start.length >= wanted) {
          hold(start.length >= capacity ? 'in-flight-limit' : 'tick-limit');
          continue;
        }
        start.push({
          instanceId: member.instanceId,
          wave: spec.name,
          attempts: member.attempts,
          from: member.state,
          ...(member.window === undefined ? {} : { window: member.window }),
          ...(member.planDigest === undefined ? {} : { planDigest: member.planDigest }),
          ...(member.applyId === undefined ? {} : { applyId: member.applyId }),
          ...(member.actor === undefined ? {} : { actor: member.actor }),
        });
      }

      if (start.length === 0 && inFlight === 0 && looked.length === 0 && !(await reader.anyOpen(spec.name))) {
        const counts = await reader.stateCounts(spec.name);
        const soaks = spec.soakMs > 0 && !isLast;
        waveStates[index] = { ...current, status: soaks ? 'soaking' : 'done', completedAt: at, soakUntil: soaks ? new Date(now.getTime() + spec.soakMs).toISOString() : null };
        summary[index] = { wave: spec.name, total: size, succeeded: counts.succeeded ?? 0, failed: counts.failed ?? 0, inFlight: 0, skipped: counts.skipped ?? 0, waiting: 0, budget };
        notes.push({
          action: 'wave-completed',
          wave: spec.name,
          detail: `wave ${spec.name} completed: ${size} instance(s), ${failed} failed (budget ${budget})${soaks ? `; soaking until ${waveStates[index]?.soakUntil ?? ''}` : ''}`,
        });
        if (soaks) break;
        continue;
      }
      // Counted as of this tick, its own starts in flight; the rest of a wave's counts are `mi rollout status`'s, live.
      const flying = inFlight + start.length;
      summary[index] = { ...previous, total: size, failed, inFlight: flying, budget, waiting: Math.max(0, size - previous.succeeded - previous.skipped - failed - flying) };
      break;
    }
    if (status === 'running' && waveStates.every((w) => w.status === 'done')) {
      status = 'completed';
      completedAt = at;
      notes.push({ action: 'completed', wave: null, detail: `${describeFanOut(rollout)} completed` });
    }
  }

  return { rollout: { ...rollout, status, halt, completedAt, waveStates, summary }, start, passOver, held, notes };
}

/** A new rollout record (not yet stored). */
export function newRollout(input: {
  id: string;
  targetVersion: string;
  waves: readonly WaveSpec[];
  actor: string;
  reason: string;
  now: Date;
  busyRetryMs?: number;
  commit?: string;
  /** Who it covers (membersOf): each wave's size, and those skipped from the start. */
  membership?: { sizes: Partial<Record<WaveName, number>>; skipped?: Partial<Record<WaveName, number>> };
  /** A workflow's work (a rollout's is its upgrade to targetVersion). */
  workflow?: WorkflowTask;
  /** A merge's module change. */
  moduleChange?: ModuleChangeTask;
  /** The calendar its windows are read on, when not the real one. */
  windowClock?: WindowClock;
}): RolloutRecord {
  const at = input.now.toISOString();
  return {
    ...(input.windowClock === undefined ? {} : { windowClock: { ...input.windowClock } }),
    id: input.id,
    kind: input.moduleChange !== undefined ? 'module-change' : input.workflow === undefined ? 'upgrade' : 'workflow',
    ...(input.moduleChange === undefined ? {} : { moduleChange: { ...input.moduleChange } }),
    targetVersion: input.targetVersion,
    ...(input.workflow === undefined ? {} : { workflow: { ...input.workflow, filter: [...input.workflow.filter] } }),
    ...(input.commit === undefined ? {} : { commit: input.commit }),
    status: input.workflow?.approval.required === true ? 'awaiting-approval' : 'running',
    waves: input.waves.map((w) => ({ ...w, failureBudget: { ...w.failureBudget } })),
    waveStates: input.waves.map((w) => ({
      name: w.name,
      status: 'pending',
      startedAt: null,
      completedAt: null,
      soakUntil: null,
      gatePassedAt: null,
      gatePassedBy: null,
      forgivenFailures: 0,
    })),
    halt: null,
    actor: input.actor,
    reason: input.reason,
    createdAt: at,
    updatedAt: at,
    completedAt: null,
    lastTickAt: null,
    lastWriteAt: at,
    tickSeq: 0,
    revision: 0,
    busyRetryMs: input.busyRetryMs ?? 5 * 60_000,
    membership: { recordedAt: at, sizes: { ...input.membership?.sizes } },
    summary: input.waves.map((w) => untouched(w, input.membership?.sizes[w.name] ?? 0, { wave: w.name, total: 0, succeeded: 0, failed: 0, inFlight: 0, skipped: input.membership?.skipped?.[w.name] ?? 0, waiting: 0, budget: 0 })),
  };
}

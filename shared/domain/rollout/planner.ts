/**
 * The rollout planner: a pure function of the rollout, the instances, their progress, the
 * clock and the calendar that decides which upgrades start next and how the waves move on.
 * No I/O: the tick reads the documents, calls this, and writes what it returns in one
 * transaction that also re-checks the in-flight limit.
 */
import { activeFreeze, inMaintenanceWindow } from './calendar.js';
import { countStartsInFlight, standingOf, summarizeWave } from './summary.js';
import type {
  Calendar,
  FleetInstance,
  InstanceProgress,
  RolloutRecord,
  WaveName,
  WaveSpec,
  WaveState,
} from './types.js';
import { assignWaves, failureBudgetOf } from './waves.js';

/** Why an instance that may be upgraded did not start this tick. */
export type HoldReason = 'busy' | 'retry-later' | 'outside-window' | 'frozen' | 'in-flight-limit' | 'tick-limit';

export interface PlannedStart {
  instanceId: string;
  wave: WaveName;
  /** Earlier attempts (a busy instance tried again). */
  attempts: number;
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
  held: Partial<Record<HoldReason, number>>;
  notes: PlanNote[];
  /** Which wave every instance of the rollout is in (for the tick's re-checks and the CLI). */
  members: Record<string, WaveName>;
}

export interface PlannerOptions {
  /** At most this many upgrades start in one tick (a transaction holds at most 500 writes). */
  maxStartsPerTick?: number;
}

const DEFAULT_MAX_STARTS_PER_TICK = 100;

function describeFailures(ids: readonly string[], progress: ReadonlyMap<string, InstanceProgress>): string {
  const shown = ids.slice(0, 5).map((id) => {
    const detail = progress.get(id)?.detail;
    return detail ? `${id} (${detail.length > 120 ? `${detail.slice(0, 117)}...` : detail})` : id;
  });
  return shown.join('; ') + (ids.length > shown.length ? `; and ${ids.length - shown.length} more` : '');
}

/**
 * Decides the next upgrades of a rollout and how its waves move: waves run one after another
 * (each soaks before the next and may wait for a manual gate); within the active wave at most
 * `maxInFlight` upgrades run; customer instances start only inside their maintenance window;
 * nothing starts during a change freeze; instances on the target version are skipped; a busy
 * instance waits for its retry time; a wave whose failures exceed its budget halts the rollout.
 */
export function planNextUpgrades(
  rollout: RolloutRecord,
  instances: readonly FleetInstance[],
  progress: readonly InstanceProgress[],
  now: Date,
  calendar: Calendar,
  options: PlannerOptions = {},
): RolloutPlan {
  const at = now.toISOString();
  const byId = new Map(instances.map((i) => [i.id, i]));
  const progressById = new Map(progress.map((p) => [p.instanceId, p]));
  const members = assignWaves(rollout, instances, progressById);
  const waveStates: WaveState[] = rollout.waves.map(
    (w, i) =>
      rollout.waveStates[i] ?? { name: w.name, status: 'pending', startedAt: null, completedAt: null, soakUntil: null, gatePassedAt: null, gatePassedBy: null, forgivenFailures: 0 },
  );
  const idsOf = (wave: WaveName) => [...members].filter(([, w]) => w === wave).map(([id]) => id).sort();
  const standing = (id: string) => standingOf(byId.get(id), progressById.get(id), rollout.targetVersion);
  const summaries = () => rollout.waves.map((w) => summarizeWave(w, idsOf(w.name).map(standing)));

  const notes: PlanNote[] = [];
  const held: RolloutPlan['held'] = {};
  const hold = (reason: HoldReason, n = 1) => {
    if (n > 0) held[reason] = (held[reason] ?? 0) + n;
  };
  const start: PlannedStart[] = [];
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

      // The active wave.
      const ids = idsOf(spec.name);
      const standings = new Map(ids.map((id) => [id, standing(id)]));
      const failed = ids.filter((id) => standings.get(id) === 'failed');
      const budget = failureBudgetOf(spec, ids.length);
      const counted = failed.length - current.forgivenFailures;
      if (counted > budget) {
        const reason = `wave ${spec.name}: ${failed.length} upgrade(s) failed${current.forgivenFailures > 0 ? ` (${current.forgivenFailures} accepted on resume)` : ''}, more than its failure budget of ${budget}: ${describeFailures(failed, progressById)}`;
        waveStates[index] = { ...current, status: 'halted' };
        status = 'halted';
        halt = { wave: spec.name, reason, failed, at };
        notes.push({ action: 'halted', wave: spec.name, detail: reason });
        break;
      }
      const open = ids.filter((id) => {
        const s = standings.get(id);
        return s === 'pending' || s === 'waiting' || s === 'in-flight';
      });
      if (open.length === 0) {
        const soaks = spec.soakMs > 0 && !isLast;
        waveStates[index] = {
          ...current,
          status: soaks ? 'soaking' : 'done',
          completedAt: at,
          soakUntil: soaks ? new Date(now.getTime() + spec.soakMs).toISOString() : null,
        };
        notes.push({
          action: 'wave-completed',
          wave: spec.name,
          detail: `wave ${spec.name} completed: ${ids.length} instance(s), ${failed.length} failed (budget ${budget})${soaks ? `; soaking until ${waveStates[index]?.soakUntil ?? ''}` : ''}`,
        });
        if (soaks) break;
        continue;
      }

      const inFlight = ids.filter((id) => standings.get(id) === 'in-flight').length;
      let capacity = Math.max(0, spec.maxInFlight - inFlight);
      const freeze = activeFreeze(calendar, now);
      const maxStarts = options.maxStartsPerTick ?? DEFAULT_MAX_STARTS_PER_TICK;
      for (const id of ids) {
        const s = standings.get(id);
        if (s !== 'pending' && s !== 'waiting') continue;
        const instance = byId.get(id);
        const recorded = progressById.get(id);
        if (instance === undefined) continue;
        if (freeze !== undefined) {
          hold('frozen');
          continue;
        }
        if (s === 'waiting' && recorded?.retryAfter != null && Date.parse(recorded.retryAfter) > now.getTime()) {
          hold('retry-later');
          continue;
        }
        if (instance.lease !== null) {
          // Busy with another operation: tried again on a later tick, never a failure.
          hold('busy');
          continue;
        }
        if (instance.tier === 'customer' && instance.maintenanceWindow !== undefined && !inMaintenanceWindow(instance.maintenanceWindow, now)) {
          hold('outside-window');
          continue;
        }
        if (capacity === 0) {
          hold('in-flight-limit');
          continue;
        }
        if (start.length >= maxStarts) {
          hold('tick-limit');
          continue;
        }
        start.push({ instanceId: id, wave: spec.name, attempts: recorded?.attempts ?? 0 });
        capacity -= 1;
      }
      break;
    }
    if (status === 'running' && waveStates.every((w) => w.status === 'done')) {
      status = 'completed';
      completedAt = at;
      notes.push({ action: 'completed', wave: null, detail: `rollout to ${rollout.targetVersion} completed` });
    }
  }

  // The summary counts the starts of this tick as in flight.
  const summary = countStartsInFlight(summaries(), start);
  return {
    rollout: { ...rollout, status, halt, completedAt, waveStates, summary },
    start,
    held,
    notes,
    members: Object.fromEntries(members),
  };
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
}): RolloutRecord {
  const at = input.now.toISOString();
  return {
    id: input.id,
    targetVersion: input.targetVersion,
    ...(input.commit === undefined ? {} : { commit: input.commit }),
    status: 'running',
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
    summary: input.waves.map((w) => ({ wave: w.name, total: 0, succeeded: 0, failed: 0, inFlight: 0, skipped: 0, waiting: 0, budget: 0 })),
  };
}

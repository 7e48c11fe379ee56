/**
 * `mi rollout start --dry-run`: what a rollout would do over the fleet as it is now, without
 * starting it: its members per wave, those already on the target, when each customer's window
 * next opens, and when each wave would start and finish if every upgrade took `upgradeMs` and
 * none failed. An estimate from the membership the start would record, not a promise: windows
 * that close mid-wave and busy instances make it later.
 */
import { windowCalendar } from './calendar.js';
import { membersOf } from './membership.js';
import type { FleetInstance, InstanceProgress, WaveName, WaveSpec, WindowClock } from './types.js';
import { failureBudgetOf } from './waves.js';

export interface WaveForecast {
  wave: WaveName;
  members: number;
  toUpgrade: number;
  /** Already on (or past) the target. */
  skipped: number;
  maxInFlight: number;
  budget: number;
  /** The earliest and the latest moment a member of it may first start (a customer's next window). */
  firstEligibleAt: string | null;
  lastEligibleAt: string | null;
  startsAt: string;
  finishesAt: string;
  soakMs: number;
  manualGate: boolean;
}

export interface RolloutForecast {
  targetVersion: string;
  waves: WaveForecast[];
  finishesAt: string;
  /** Each member as the start would record it (wave, state, eligibleAt). */
  members: InstanceProgress[];
  /** Why the figures are estimates. */
  assumptions: string[];
}

/**
 * Forecasts a rollout of `waves` to `targetVersion` starting at `now`: waves one after another
 * (each soaking before the next; a gate is taken as passed at once), within a wave
 * `maxInFlight` upgrades at a time of `upgradeMs` each, none before its member's window opens.
 */
export function forecastRollout(input: { targetVersion: string; waves: readonly WaveSpec[]; fleet: readonly FleetInstance[]; now: Date; upgradeMs: number; windowClock?: WindowClock }): RolloutForecast {
  // The canary is chosen by the rollout's id: a dry run has none yet, so its members are a sample of the same size.
  const { members } = membersOf({ id: 'dry-run', waves: input.waves, targetVersion: input.targetVersion }, input.fleet, input.now, windowCalendar(input.windowClock));
  return forecastMembers({ ...input, members }, [
    `every upgrade takes ${Math.round(input.upgradeMs / 60_000)} min and none fails`,
    'a manual gate is passed as soon as it is reached',
    'customers start only when their window is open (an upgrade may run past its close)',
    'the canary is drawn by the rollout id: the real members differ, their number does not',
  ]);
}

/** The forecast of any fan-out over the members its start would record (a rollout's, a workflow's). */
export function forecastMembers(input: { targetVersion: string; waves: readonly WaveSpec[]; members: readonly InstanceProgress[]; now: Date; upgradeMs: number; windowClock?: WindowClock }, assumptions: string[]): RolloutForecast {
  const { members } = input;
  const windows = windowCalendar(input.windowClock);
  let cursor = input.now.getTime();
  const waves = input.waves.map((spec, index): WaveForecast => {
    const own = members.filter((m) => m.wave === spec.name);
    const pending = own.filter((m) => m.state === 'pending');
    const startsAt = cursor;
    // When each may first start once its wave has: a customer when its window next opens after that.
    const openAt = (m: InstanceProgress, after: number) => (m.window === undefined ? after : windows.nextOpening(m.window, new Date(after)).getTime());
    const queue = pending.map((m) => ({ m, at: openAt(m, startsAt) })).sort((a, b) => a.at - b.at);
    const eligible = queue.map((q) => q.at);
    // Slots run back to back, soonest member first; one whose window is shut when a slot frees waits for it to open.
    const slots = Array.from({ length: Math.max(1, spec.maxInFlight) }, () => startsAt);
    let finish = startsAt;
    for (const { m } of queue) {
      slots.sort((a, b) => a - b);
      const begin = openAt(m, slots[0] ?? startsAt);
      slots[0] = begin + input.upgradeMs;
      finish = Math.max(finish, slots[0]);
    }
    const isLast = index === input.waves.length - 1;
    cursor = finish + (isLast ? 0 : spec.soakMs);
    return {
      wave: spec.name,
      members: own.length,
      toUpgrade: pending.length,
      skipped: own.length - pending.length,
      maxInFlight: spec.maxInFlight,
      budget: failureBudgetOf(spec, own.length),
      firstEligibleAt: eligible.length === 0 ? null : new Date(Math.max(eligible[0] ?? 0, startsAt)).toISOString(),
      lastEligibleAt: eligible.length === 0 ? null : new Date(Math.max(eligible[eligible.length - 1] ?? 0, startsAt)).toISOString(),
      startsAt: new Date(startsAt).toISOString(),
      finishesAt: new Date(finish).toISOString(),
      soakMs: spec.soakMs,
      manualGate: spec.manualGate,
    };
  });
  return {
    targetVersion: input.targetVersion,
    waves,
    finishesAt: new Date(cursor).toISOString(),
    members: [...members],
    assumptions,
  };
}

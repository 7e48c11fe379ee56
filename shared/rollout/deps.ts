/** What every rollout function is given: the ports, and how ticks are paced and bounded. */
import { silentLogger, type Logger } from '../log.js';
import type { WindowClock } from '../domain/rollout/index.js';
import type { Clock, EventBus, StateStore } from '../ports.js';

export interface RolloutDeps {
  store: StateStore;
  bus: EventBus;
  clock: Clock;
  log?: Logger;
  /** Ticks of one rollout write at most this often (default 1 s). */
  minTickIntervalMs?: number;
  /** How a deferred tick waits in the function (default: a timer). */
  sleep?: (ms: number) => Promise<void>;
  /** At most this many upgrades start per tick (default 100: a transaction holds 500 writes). */
  maxStartsPerTick?: number;
  /** Soaks last this fraction of what a rollout's waves ask (default 1; `mi dev` shortens them with its clock). */
  soakScale?: number;
  /** The calendar customers' windows are read on (default the real one; `mi dev` runs weeks in minutes). */
  windowClock?: WindowClock;
}

/** The deps with their defaults filled in. */
export interface RolloutContext {
  store: StateStore;
  bus: EventBus;
  clock: Clock;
  log: Logger;
  minTickIntervalMs: number;
  sleep: (ms: number) => Promise<void>;
  /** Undefined: the planner's default. */
  maxStartsPerTick?: number;
  /** Soaks last this fraction of what the waves ask. */
  soakScale: number;
  windowClock?: WindowClock;
  /**
   * The tick of each rollout under way in this process: the next one waits for it, then (its
   * cause most likely covered) reads a line and is done, instead of contending in a transaction.
   */
  ticking: Map<string, Promise<unknown>>;
}

// At most one summary write per second, with room for one commit taking longer than the next:
// the spacing is measured between the moments each write was decided, not when it landed.
const DEFAULT_MIN_TICK_INTERVAL_MS = 1_200;

function timer(ms: number): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, ms));
}

/** Fills in the defaults of the deps. */
export function rolloutContext(deps: RolloutDeps): RolloutContext {
  return {
    store: deps.store,
    bus: deps.bus,
    clock: deps.clock,
    log: deps.log ?? silentLogger,
    minTickIntervalMs: deps.minTickIntervalMs ?? DEFAULT_MIN_TICK_INTERVAL_MS,
    sleep: deps.sleep ?? timer,
    soakScale: deps.soakScale ?? 1,
    ticking: new Map(),
    ...(deps.maxStartsPerTick === undefined ? {} : { maxStartsPerTick: deps.maxStartsPerTick }),
    ...(deps.windowClock === undefined ? {} : { windowClock: deps.windowClock }),
  };
}

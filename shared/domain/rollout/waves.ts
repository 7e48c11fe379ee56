/**
 * The waves of a rollout: the defaults (dev, internal prod, a customer canary, all customers),
 * the `--waves` text that changes them, which wave an instance belongs to (its natural wave,
 * the canary's members), and each wave's failure budget.
 */
import { createHash } from 'node:crypto';
import { WAVE_NAMES, type FleetInstance, type WaveName, type WaveSpec } from './types.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** dev, internal prod, a 5% customer canary, all customers; budgets 25%, 0, 0, 1% (at least 1). */
export const DEFAULT_WAVES: readonly WaveSpec[] = [
  { name: 'dev', maxInFlight: 10, failureBudget: { percent: 25, min: 0 }, soakMs: HOUR, manualGate: false },
  { name: 'internal', maxInFlight: 5, failureBudget: { percent: 0, min: 0 }, soakMs: 2 * HOUR, manualGate: false },
  { name: 'canary', maxInFlight: 5, failureBudget: { percent: 0, min: 0 }, soakMs: 24 * HOUR, manualGate: false, percent: 5 },
  { name: 'customers', maxInFlight: 20, failureBudget: { percent: 1, min: 1 }, soakMs: 0, manualGate: false },
];

const DURATION = /^([0-9]+)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: MINUTE, h: HOUR, d: 24 * HOUR };

/** Thrown with a message naming the part of `--waves` at fault. */
export class WaveSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WaveSpecError';
  }
}

function wholeNumber(text: string, what: string, min: number): number {
  const value = Number(text);
  if (!/^[0-9]+$/.test(text) || value < min) throw new WaveSpecError(`${what}: expected a whole number of at least ${min}, got ${JSON.stringify(text)}`);
  return value;
}

/**
 * Parses `--waves`: waves in order, separated by commas, each a name with settings after
 * colons, e.g. `dev,internal,canary:budget=2:soak=10m,customers:max=50:gate`. Settings:
 * `max=N` (in flight), `budget=N` or `budget=P%` (failures tolerated; `P%` keeps the default
 * minimum), `soak=30m` (ms, s, m, h, d), `gate` (wait for `mi rollout promote`), `percent=P`
 * (canary share). Unnamed settings keep the defaults.
 */
export function parseWaves(text: string): WaveSpec[] {
  const parts = text.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new WaveSpecError('expected at least one wave, such as dev,internal,canary,customers');
  const seen = new Set<string>();
  const waves = parts.map((part) => {
    const [name = '', ...settings] = part.split(':');
    const base = DEFAULT_WAVES.find((w) => w.name === name);
    if (base === undefined) throw new WaveSpecError(`unknown wave ${JSON.stringify(name)}: expected one of ${WAVE_NAMES.join(', ')}`);
    if (seen.has(name)) throw new WaveSpecError(`wave ${name} is named twice`);
    seen.add(name);
    const wave: WaveSpec = { ...base, failureBudget: { ...base.failureBudget } };
    for (const setting of settings) {
      const [key = '', value = ''] = setting.split('=');
      const where = `wave ${name}, ${key}`;
      switch (key) {
        case 'max':
          wave.maxInFlight = wholeNumber(value, where, 1);
          break;
        case 'budget':
          wave.failureBudget = value.endsWith('%')
            ? { percent: wholeNumber(value.slice(0, -1), where, 0), min: base.failureBudget.min }
            : { percent: 0, min: wholeNumber(value, where, 0) };
          break;
        case 'soak': {
          const match = DURATION.exec(value);
          if (!match) throw new WaveSpecError(`${where}: expected a duration such as 0, 90s, 30m, 2h or 1d, got ${JSON.stringify(value)}`);
          wave.soakMs = Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 1_000);
          break;
        }
        case 'gate':
          if (value !== '' && value !== 'true' && value !== 'false') throw new WaveSpecError(`${where}: expected gate, gate=true or gate=false`);
          wave.manualGate = value !== 'false';
          break;
        case 'percent':
          if (name !== 'canary') throw new WaveSpecError(`${where}: only the canary has a percent`);
          wave.percent = wholeNumber(value, where, 1);
          if (wave.percent > 100) throw new WaveSpecError(`${where}: expected at most 100`);
          break;
        default:
          throw new WaveSpecError(`wave ${name}: unknown setting ${JSON.stringify(key)} (expected max, budget, soak, gate or percent)`);
      }
    }
    return wave;
  });
  // The order is the fleet's order of trust: a wave may be left out, never moved ahead.
  const order = waves.map((w) => WAVE_NAMES.indexOf(w.name));
  if (order.some((value, i) => i > 0 && value < (order[i - 1] ?? -1))) {
    throw new WaveSpecError(`waves must keep the order ${WAVE_NAMES.join(', ')} (some may be left out)`);
  }
  return waves;
}

/** Failures the wave tolerates: max(min, floor(percent% of its size)). */
export function failureBudgetOf(wave: WaveSpec, size: number): number {
  return Math.max(wave.failureBudget.min, Math.floor((wave.failureBudget.percent * size) / 100));
}

/** A stable rank of an instance within a rollout (hash of rollout id and instance id). */
export function canaryRank(rolloutId: string, instanceId: string): string {
  return createHash('sha256').update(`${rolloutId}:${instanceId}`).digest('hex');
}

/** Which class of the fleet an instance is in, before canary selection. */
function classOf(instance: FleetInstance): 'dev' | 'internal' | 'customer' {
  if (instance.environment === 'dev') return 'dev';
  return instance.tier === 'internal' ? 'internal' : 'customer';
}

/**
 * The customer instances in the canary: the `percent`% (at least one) that rank first by
 * canaryRank, so the choice is deterministic and spread across the fleet.
 */
export function canaryMembers(rolloutId: string, instances: readonly FleetInstance[], percent: number): Set<string> {
  const customers = instances.filter((i) => classOf(i) === 'customer' && i.status !== 'deleted');
  if (customers.length === 0) return new Set();
  const size = Math.max(1, Math.ceil((customers.length * percent) / 100));
  const ranked = customers.map((i) => ({ id: i.id, rank: canaryRank(rolloutId, i.id) })).sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0));
  return new Set(ranked.slice(0, size).map((r) => r.id));
}

/**
 * The wave an instance belongs to by its kind (dev, internal prod, canary, customers), or
 * undefined when the rollout has no wave for it. Without a canary wave the canary's members
 * go with all customers.
 */
export function naturalWave(instance: FleetInstance, waves: readonly WaveSpec[], canary: ReadonlySet<string>): WaveName | undefined {
  const names = new Set(waves.map((w) => w.name));
  const kind = classOf(instance);
  if (kind === 'dev') return names.has('dev') ? 'dev' : undefined;
  if (kind === 'internal') return names.has('internal') ? 'internal' : undefined;
  if (canary.has(instance.id) && names.has('canary')) return 'canary';
  return names.has('customers') ? 'customers' : undefined;
}

/**
 * The waves with every soak multiplied by `scale` (rounded to the millisecond): `mi dev` runs
 * soaks on its faster clock. A scale of 1 leaves them as asked.
 */
export function scaleSoaks(waves: readonly WaveSpec[], scale: number): WaveSpec[] {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError(`a soak scale must be a positive number, got ${scale}`);
  return waves.map((wave) => ({ ...wave, failureBudget: { ...wave.failureBudget }, soakMs: Math.round(wave.soakMs * scale) }));
}

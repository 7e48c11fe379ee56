import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  canaryMembers,
  inMaintenanceWindow,
  membersOf,
  newRollout,
  nextWindowOpening,
  OPEN_STATES,
  parseWaves,
  planTick,
  type Calendar,
  type FleetInstance,
  type InstanceProgress,
  type RolloutRecord,
  type WaveName,
  type WaveReader,
  type WaveState,
  type WindowClock,
} from '../../../shared/domain/rollout/index.js';
import type { MaintenanceWindow } from '../../../shared/events/index.js';

const T0 = new Date('2026-11-26T10:00:00Z'); // a Thursday
const NO_CALENDAR: Calendar = { freezes: [] };
const ALWAYS: MaintenanceWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', hours: 24, timeZone: 'Etc/UTC' };

function dev(id: string, over: Partial<FleetInstance> = {}): FleetInstance {
  return { id, environment: 'dev', tier: 'internal', version: '5.4.2', status: 'active', lease: null, ...over };
}
function internal(id: string, over: Partial<FleetInstance> = {}): FleetInstance {
  return { id, environment: 'prod', tier: 'internal', version: '5.4.2', status: 'active', lease: null, ...over };
}
function customer(id: string, over: Partial<FleetInstance> = {}): FleetInstance {
  return { id, environment: 'prod', tier: 'customer', version: '5.4.2', status: 'active', lease: null, maintenanceWindow: ALWAYS, ...over };
}
function progress(instanceId: string, wave: WaveName, state: InstanceProgress['state'], over: Partial<InstanceProgress> = {}): InstanceProgress {
  return { instanceId, wave, state, eventId: null, operationId: null, attempts: 1, startedAt: null, finishedAt: null, eligibleAt: OPEN_STATES.includes(state) ? T0.toISOString() : null, detail: null, updatedAt: T0.toISOString(), ...over };
}
function rolloutOf(waves: string, states: Partial<Record<WaveName, Partial<WaveState>>> = {}, over: Partial<RolloutRecord> = {}): RolloutRecord {
  const r = newRollout({ id: 'ro-test', targetVersion: '5.5.0', waves: parseWaves(waves), actor: 'alice@example.com', reason: 'test', now: T0 });
  return { ...r, waveStates: r.waveStates.map((s) => ({ ...s, ...(states[s.name] ?? {}) })), ...over };
}
/** A calendar running 1,008 times the clock whose time at `now` is `shows`. */
function clockShowing(now: Date, shows: Date): WindowClock {
  const speedup = 1_008;
  return { speedup, epochMs: Math.round((now.getTime() * speedup - shows.getTime()) / (speedup - 1)) };
}
const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);

interface Case {
  name: string;
  rollout: RolloutRecord;
  instances: FleetInstance[];
  progress?: InstanceProgress[];
  now?: Date;
  calendar?: Calendar;
  expect: {
    start?: string[];
    startCount?: number;
    status?: RolloutRecord['status'];
    waves?: Partial<Record<WaveName, WaveState['status']>>;
    held?: Record<string, number>;
    haltMentions?: string[];
    passOver?: Array<[string, string]>;
  };
}

const cases: Case[] = [
  // ---- limits
  {
    name: 'limits: the first wave starts at most maxInFlight upgrades, in id order',
    rollout: rolloutOf('dev:max=2,internal'),
    instances: [...range('dev', 5).map((id) => dev(id)), internal('int-a')],
    // It reads only the two it may start: the three after are not even read.
    expect: { start: ['dev-000', 'dev-001'], waves: { dev: 'active', internal: 'pending' }, held: {} },
  },
  {
    name: 'limits: upgrades already in flight use up the limit',
    rollout: rolloutOf('dev:max=3', { dev: { status: 'active' } }),
    instances: range('dev', 5).map((id) => dev(id)),
    progress: [progress('dev-000', 'dev', 'in-flight'), progress('dev-001', 'dev', 'in-flight')],
    expect: { start: ['dev-002'] },
  },
  {
    name: 'limits: a full wave starts nothing',
    rollout: rolloutOf('dev:max=2', { dev: { status: 'active' } }),
    instances: range('dev', 3).map((id) => dev(id)),
    progress: [progress('dev-000', 'dev', 'in-flight'), progress('dev-001', 'dev', 'in-flight')],
    expect: { start: [], held: { 'in-flight-limit': 1 } },
  },
  // ---- skips
  {
    name: 'skips: instances already on (or past) the target are skipped, not upgraded',
    rollout: rolloutOf('dev:max=10'),
    instances: [dev('dev-a', { version: '5.5.0' }), dev('dev-b', { version: '6.0.0' }), dev('dev-c')],
    expect: { start: ['dev-c'] },
  },
  {
    name: 'skips: a wave whose instances are all on the target completes at once',
    rollout: rolloutOf('dev:soak=0,internal:max=5'),
    instances: [dev('dev-a', { version: '5.5.0' }), internal('int-a')],
    expect: { start: ['int-a'], waves: { dev: 'done', internal: 'active' } },
  },
  {
    name: 'skips: deleted instances are not part of the rollout',
    rollout: rolloutOf('dev'),
    instances: [dev('dev-a', { status: 'deleted' }), dev('dev-b')],
    expect: { start: ['dev-b'] },
  },
  // ---- busy
  {
    name: 'busy: an instance refused as busy waits for its retry time, and its wave does not complete meanwhile',
    rollout: rolloutOf('dev:soak=0,internal', { dev: { status: 'active' } }),
    instances: [dev('dev-a'), internal('int-a')],
    progress: [progress('dev-a', 'dev', 'waiting', { eligibleAt: new Date(T0.getTime() + 60_000).toISOString() })],
    expect: { start: [], waves: { dev: 'active', internal: 'pending' }, status: 'running' },
  },
  {
    name: 'busy: after its retry time it is tried again',
    rollout: rolloutOf('dev', { dev: { status: 'active' } }),
    instances: [dev('dev-a')],
    progress: [progress('dev-a', 'dev', 'waiting', { eligibleAt: new Date(T0.getTime() - 1).toISOString() })],
    expect: { start: ['dev-a'] },
  },
  {
    name: 'eligibility: the members whose time came first start first, whatever their ids',
    rollout: rolloutOf('dev:max=2', { dev: { status: 'active' } }),
    instances: range('dev', 4).map((id) => dev(id)),
    progress: range('dev', 4).map((id, i) => progress(id, 'dev', 'waiting', { eligibleAt: new Date(T0.getTime() - (i + 1) * 1_000).toISOString() })),
    expect: { start: ['dev-003', 'dev-002'] },
  },
  // ---- windows across time zones and midnight
  {
    name: 'windows: inside a Saturday 02:00 New York window (07:30Z = 02:30 EST)',
    rollout: rolloutOf('customers'),
    instances: [customer('cus-a', { maintenanceWindow: { days: ['sat'], start: '02:00', hours: 4, timeZone: 'America/New_York' } })],
    now: new Date('2026-11-28T07:30:00Z'),
    expect: { start: ['cus-a'] },
  },
  {
    name: 'windows: one minute before it opens (06:59Z = 01:59 EST) nothing starts',
    rollout: rolloutOf('customers'),
    instances: [customer('cus-a', { maintenanceWindow: { days: ['sat'], start: '02:00', hours: 4, timeZone: 'America/New_York' } })],
    now: new Date('2026-11-28T06:59:00Z'),
    // Its time has not come: the tick does not even read it.
    expect: { start: [], held: {}, waves: { customers: 'active' } },
  },
  {
    name: 'windows: a Friday 23:00 Tokyo window still open at 01:30 Saturday (Fri 16:30Z)',
    rollout: rolloutOf('customers'),
    instances: [customer('cus-a', { maintenanceWindow: { days: ['fri'], start: '23:00', hours: 3, timeZone: 'Asia/Tokyo' } })],
    now: new Date('2026-11-27T16:30:00Z'),
    expect: { start: ['cus-a'] },
  },
  {
    name: 'windows: the same window closed at 02:00 Saturday Tokyo (Fri 17:00Z)',
    rollout: rolloutOf('customers'),
    instances: [customer('cus-a', { maintenanceWindow: { days: ['fri'], start: '23:00', hours: 3, timeZone: 'Asia/Tokyo' } })],
    now: new Date('2026-11-27T17:00:00Z'),
    // Its time came while it waited; the window has closed: passed over until it next opens (Fri 23:00 Tokyo, 14:00Z).
    expect: { start: [], held: { 'outside-window': 1 }, passOver: [['cus-a', '2026-12-04T14:00:00.000Z']] },
  },
  {
    // mi dev's calendar, recorded on the rollout: 17:00Z on the clock is Sat 00:00 Tokyo on it, inside the window the real calendar has shut.
    name: "windows on the rollout's recorded calendar: open there though shut on the real one, it starts",
    rollout: rolloutOf('customers', {}, { windowClock: clockShowing(new Date('2026-11-27T17:00:00Z'), new Date('2026-11-27T15:00:00Z')) }),
    instances: [customer('cus-a', { maintenanceWindow: { days: ['fri'], start: '23:00', hours: 3, timeZone: 'Asia/Tokyo' } })],
    now: new Date('2026-11-27T17:00:00Z'),
    expect: { start: ['cus-a'] },
  },
  {
    name: "windows on the rollout's recorded calendar: shut there though open on the real one, it is passed over",
    rollout: rolloutOf('customers', {}, { windowClock: clockShowing(new Date('2026-11-27T16:30:00Z'), new Date('2026-11-27T12:00:00Z')) }),
    instances: [customer('cus-a', { maintenanceWindow: { days: ['fri'], start: '23:00', hours: 3, timeZone: 'Asia/Tokyo' } })],
    now: new Date('2026-11-27T16:30:00Z'),
    expect: { start: [], held: { 'outside-window': 1 } },
  },
  {
    name: 'windows: each customer in its own zone at one instant (Sun 14:30Z is Mon 01:30 in Sydney, Sun 09:30 in New York)',
    rollout: rolloutOf('customers'),
    instances: [
      customer('cus-syd', { maintenanceWindow: { days: ['mon'], start: '01:00', hours: 2, timeZone: 'Australia/Sydney' } }),
      customer('cus-nyc', { maintenanceWindow: { days: ['mon'], start: '01:00', hours: 2, timeZone: 'America/New_York' } }),
    ],
    now: new Date('2026-11-29T14:30:00Z'),
    expect: { start: ['cus-syd'], held: {} },
  },
  {
    name: 'windows: internal instances have no window and start any time',
    rollout: rolloutOf('internal'),
    instances: [internal('int-a')],
    now: new Date('2026-11-25T12:00:00Z'),
    expect: { start: ['int-a'] },
  },
  // ---- freezes
  {
    name: 'freezes: nothing starts during a change freeze',
    rollout: rolloutOf('dev'),
    instances: [dev('dev-a'), dev('dev-b')],
    calendar: { freezes: [{ from: '2026-11-26T00:00:00Z', to: '2026-11-27T00:00:00Z', reason: 'Thanksgiving' }] },
    expect: { start: [], held: { frozen: 1 } },
  },
  {
    name: 'freezes: starts again when the freeze ends (the end is exclusive)',
    rollout: rolloutOf('dev'),
    instances: [dev('dev-a')],
    now: new Date('2026-11-27T00:00:00Z'),
    calendar: { freezes: [{ from: '2026-11-26T00:00:00Z', to: '2026-11-27T00:00:00Z', reason: 'Thanksgiving' }] },
    expect: { start: ['dev-a'] },
  },
  // ---- budgets
  {
    name: 'budgets: the canary (budget 0) halts on its first failure, naming it',
    rollout: rolloutOf('canary,customers', { canary: { status: 'active' } }),
    instances: range('cus', 40).map((id) => customer(id)),
    progress: [...canaryMembers('ro-test', range('cus', 40).map((id) => customer(id)), 5)].map((id, i) =>
      progress(id, 'canary', i === 0 ? 'failed' : 'succeeded', { detail: i === 0 ? 'step upgrade: boom' : null }),
    ),
    expect: { start: [], status: 'halted', waves: { canary: 'halted', customers: 'pending' }, haltMentions: ['canary', 'budget of 0', 'boom'] },
  },
  {
    name: 'budgets: failures equal to the budget do not halt (budget=2, 2 failed)',
    rollout: rolloutOf('canary:budget=2:soak=0,customers:max=1', { canary: { status: 'active' } }),
    instances: ['a', 'b', 'c', 'd'].map((id) => customer(`cus-${id}`)),
    progress: ['a', 'b', 'c'].map((id, i) => progress(`cus-${id}`, 'canary', i < 2 ? 'failed' : 'succeeded')),
    expect: { status: 'running', waves: { canary: 'done', customers: 'active' }, start: ['cus-d'] },
  },
  {
    name: 'budgets: failures above the budget halt (budget=2, 3 failed)',
    rollout: rolloutOf('canary:budget=2,customers', { canary: { status: 'active' } }),
    instances: ['a', 'b', 'c', 'd'].map((id) => customer(`cus-${id}`)),
    progress: ['a', 'b', 'c'].map((id) => progress(`cus-${id}`, 'canary', 'failed')),
    expect: { status: 'halted', start: [], haltMentions: ['3 upgrade(s) failed', 'budget of 2'] },
  },
  {
    name: 'budgets: dev tolerates 25% (2 of 8 failed, 6 in flight go on)',
    rollout: rolloutOf('dev', { dev: { status: 'active' } }),
    instances: range('dev', 8).map((id) => dev(id)),
    progress: range('dev', 8).map((id, i) => progress(id, 'dev', i < 2 ? 'failed' : 'in-flight')),
    expect: { status: 'running', start: [] },
  },
  {
    name: 'budgets: dev halts at 3 of 8 failed',
    rollout: rolloutOf('dev', { dev: { status: 'active' } }),
    instances: range('dev', 8).map((id) => dev(id)),
    progress: range('dev', 8).map((id, i) => progress(id, 'dev', i < 3 ? 'failed' : 'in-flight')),
    expect: { status: 'halted' },
  },
  {
    name: 'budgets: customers tolerate 1% and at least 1 (1 of 150 failed goes on)',
    rollout: rolloutOf('customers', { customers: { status: 'active' } }),
    instances: range('cus', 150).map((id) => customer(id)),
    progress: [progress('cus-000', 'customers', 'failed')],
    expect: { status: 'running', startCount: 20 },
  },
  {
    name: 'budgets: customers halt at 2 of 150 failed',
    rollout: rolloutOf('customers', { customers: { status: 'active' } }),
    instances: range('cus', 150).map((id) => customer(id)),
    progress: [progress('cus-000', 'customers', 'failed'), progress('cus-001', 'customers', 'failed')],
    expect: { status: 'halted', start: [] },
  },
  {
    name: 'budgets: failures accepted on resume no longer count',
    rollout: rolloutOf('canary:budget=0,customers', { canary: { status: 'active', forgivenFailures: 1 } }),
    instances: ['a', 'b'].map((id) => customer(`cus-${id}`)),
    progress: [progress('cus-a', 'canary', 'failed')],
    expect: { status: 'running' },
  },
  // ---- soak and gates
  {
    name: 'soak: a completed wave soaks before the next starts',
    rollout: rolloutOf('dev:soak=30m,internal', { dev: { status: 'active' } }),
    instances: [dev('dev-a'), internal('int-a')],
    progress: [progress('dev-a', 'dev', 'succeeded')],
    expect: { start: [], waves: { dev: 'soaking', internal: 'pending' } },
  },
  {
    name: 'soak: still soaking a minute before its end',
    rollout: rolloutOf('dev:soak=30m,internal', { dev: { status: 'soaking', soakUntil: new Date(T0.getTime() + 60_000).toISOString() } }),
    instances: [dev('dev-a'), internal('int-a')],
    progress: [progress('dev-a', 'dev', 'succeeded')],
    expect: { start: [], waves: { dev: 'soaking' } },
  },
  {
    name: 'soak: once soaked, the next wave starts',
    rollout: rolloutOf('dev:soak=30m,internal', { dev: { status: 'soaking', soakUntil: T0.toISOString() } }),
    instances: [dev('dev-a'), internal('int-a')],
    progress: [progress('dev-a', 'dev', 'succeeded')],
    expect: { start: ['int-a'], waves: { dev: 'done', internal: 'active' } },
  },
  {
    name: 'gates: a gated wave waits for promote',
    rollout: rolloutOf('dev:soak=0,internal:gate', { dev: { status: 'active' } }),
    instances: [dev('dev-a'), internal('int-a')],
    progress: [progress('dev-a', 'dev', 'succeeded')],
    expect: { start: [], waves: { dev: 'done', internal: 'awaiting-gate' }, status: 'running' },
  },
  {
    name: 'gates: a promoted gate lets the wave start',
    rollout: rolloutOf('dev:soak=0,internal:gate', { dev: { status: 'done' }, internal: { status: 'awaiting-gate', gatePassedAt: T0.toISOString(), gatePassedBy: 'bob' } }),
    instances: [dev('dev-a'), internal('int-a')],
    progress: [progress('dev-a', 'dev', 'succeeded')],
    expect: { start: ['int-a'], waves: { internal: 'active' } },
  },
  // ---- rollout states
  {
    name: 'a paused rollout starts nothing',
    rollout: rolloutOf('dev', {}, { status: 'paused' }),
    instances: [dev('dev-a')],
    expect: { start: [], status: 'paused' },
  },
  {
    name: 'waves with no instances pass, and the rollout completes',
    rollout: rolloutOf('dev,internal,canary,customers', { dev: { status: 'active' } }),
    instances: [dev('dev-a')],
    progress: [progress('dev-a', 'dev', 'succeeded')],
    expect: { status: 'running', waves: { dev: 'soaking' } },
  },
  {
    name: 'the last wave does not soak: the rollout completes with it',
    rollout: rolloutOf('dev:soak=0,customers', { dev: { status: 'done' }, customers: { status: 'active' } }),
    instances: [dev('dev-a'), customer('cus-a')],
    progress: [progress('dev-a', 'dev', 'succeeded'), progress('cus-a', 'customers', 'succeeded')],
    expect: { status: 'completed', waves: { customers: 'done' } },
  },
];

/** The planner's reader over plain member records, as the tick's reads them from Firestore (soonest first, then by id). */
function memoryReader(members: readonly InstanceProgress[], looked: number[] = []): WaveReader {
  const of = (wave: WaveName) => members.filter((m) => m.wave === wave);
  return {
    counts: (wave) => Promise.resolve({ inFlight: of(wave).filter((m) => m.state === 'in-flight').length, failed: of(wave).filter((m) => m.state === 'failed').length }),
    eligible: (wave, now, limit) => {
      looked.push(limit);
      const open = of(wave).filter((m) => OPEN_STATES.includes(m.state) && m.eligibleAt !== null && Date.parse(m.eligibleAt) <= now.getTime());
      return Promise.resolve(open.sort((a, b) => (a.eligibleAt ?? '').localeCompare(b.eligibleAt ?? '') || a.instanceId.localeCompare(b.instanceId)).slice(0, limit));
    },
    anyOpen: (wave) => Promise.resolve(of(wave).some((m) => OPEN_STATES.includes(m.state))),
    stateCounts: (wave) => Promise.resolve(Object.fromEntries(['pending', 'waiting', 'in-flight', 'succeeded', 'failed', 'skipped'].map((st) => [st, of(wave).filter((m) => m.state === st).length]))),
    failures: (wave, limit) => Promise.resolve(of(wave).filter((m) => m.state === 'failed').slice(0, limit)),
  };
}

/** The members a rollout recorded when it started, with the progress a case gives over them; and the rollout with their sizes. */
function membershipOf(c: Pick<Case, 'rollout' | 'instances' | 'progress' | 'now'>): { rollout: RolloutRecord; members: InstanceProgress[] } {
  // Started at T0, or when the case's tick is if that is earlier.
  const startedAt = new Date(Math.min(T0.getTime(), (c.now ?? T0).getTime()));
  const byId = new Map(membersOf(c.rollout, c.instances, startedAt).members.map((m) => [m.instanceId, m]));
  for (const p of c.progress ?? []) byId.set(p.instanceId, { ...byId.get(p.instanceId), ...p });
  const members = [...byId.values()];
  const sizes: Partial<Record<WaveName, number>> = {};
  for (const m of members) sizes[m.wave] = (sizes[m.wave] ?? 0) + 1;
  const fresh = newRollout({ id: c.rollout.id, targetVersion: c.rollout.targetVersion, waves: c.rollout.waves, actor: 'a', reason: 'r', now: T0, membership: { sizes } });
  return { rollout: { ...c.rollout, membership: fresh.membership, summary: fresh.summary }, members };
}

describe('planTick', () => {
  it.each(cases)('$name', async (c) => {
    const { rollout, members } = membershipOf(c);
    const plan = await planTick(rollout, memoryReader(members), c.now ?? T0, c.calendar ?? NO_CALENDAR);
    if (c.expect.start) expect(plan.start.map((s) => s.instanceId)).toEqual(c.expect.start);
    if (c.expect.startCount !== undefined) expect(plan.start).toHaveLength(c.expect.startCount);
    if (c.expect.status) expect(plan.rollout.status).toBe(c.expect.status);
    for (const [wave, status] of Object.entries(c.expect.waves ?? {})) {
      expect(plan.rollout.waveStates.find((w) => w.name === wave)?.status, wave).toBe(status);
    }
    if (c.expect.held) expect(plan.held).toEqual(c.expect.held);
    if (c.expect.passOver) expect(plan.passOver.map((p) => [p.instanceId, p.eligibleAt])).toEqual(c.expect.passOver);
    for (const text of c.expect.haltMentions ?? []) expect(plan.rollout.halt?.reason).toContain(text);
  });

  it('never plans more than the wave limit, whatever the fleet, and reads no more members than it can start', async () => {
    for (const max of [1, 3, 7, 25]) {
      const looked: number[] = [];
      const { rollout, members } = membershipOf({ rollout: rolloutOf(`customers:max=${max}`), instances: range('cus', 60).map((id) => customer(id)) });
      const plan = await planTick(rollout, memoryReader(members, looked), T0, NO_CALENDAR);
      expect(plan.start).toHaveLength(max);
      expect(looked).toEqual([max]);
    }
  });

  it('counts the starts of the tick in the summary, the wave\'s total from the membership', async () => {
    const { rollout, members } = membershipOf({ rollout: rolloutOf('dev:max=2'), instances: range('dev', 5).map((id) => dev(id)) });
    const plan = await planTick(rollout, memoryReader(members), T0, NO_CALENDAR);
    expect(plan.rollout.summary[0]).toMatchObject({ wave: 'dev', total: 5, inFlight: 2, waiting: 3, budget: 1 });
  });

  it('a completed wave is summarized from the counts of its members', async () => {
    const { rollout, members } = membershipOf({
      rollout: rolloutOf('dev:soak=0,internal', { dev: { status: 'active' } }),
      instances: [...range('dev', 4).map((id) => dev(id)), dev('dev-new', { version: '5.5.0' }), internal('int-a')],
      progress: [progress('dev-000', 'dev', 'failed'), progress('dev-001', 'dev', 'succeeded'), progress('dev-002', 'dev', 'succeeded'), progress('dev-003', 'dev', 'skipped')],
    });
    const plan = await planTick(rollout, memoryReader(members), T0, NO_CALENDAR);
    expect(plan.rollout.summary[0]).toEqual({ wave: 'dev', total: 5, succeeded: 2, failed: 1, inFlight: 0, skipped: 2, waiting: 0, budget: 1 });
    expect(plan.start.map((s) => s.instanceId)).toEqual(['int-a']);
  });
});

describe('membership', () => {
  it('takes every instance a wave covers once, skips those on the target, leaves out the deleted, and makes each customer eligible when its window next opens', () => {
    const saturday = { days: ['sat'] as const, start: '02:00', hours: 4, timeZone: 'America/New_York' };
    const { members, sizes } = membersOf(rolloutOf('dev,internal,customers'), [dev('dev-a'), dev('dev-b', { version: '5.5.0' }), dev('dev-c', { status: 'deleted' }), internal('int-a'), customer('cus-a', { maintenanceWindow: { ...saturday, days: [...saturday.days] } })], T0);
    expect(sizes).toEqual({ dev: 2, internal: 1, customers: 1 });
    expect(members.map((m) => [m.instanceId, m.wave, m.state, m.eligibleAt])).toEqual([
      ['cus-a', 'customers', 'pending', '2026-11-28T07:00:00.000Z'],
      ['dev-a', 'dev', 'pending', T0.toISOString()],
      ['dev-b', 'dev', 'skipped', null],
      ['int-a', 'internal', 'pending', T0.toISOString()],
    ]);
  });
});

describe('the next opening of a maintenance window', () => {
  const zones = ['Etc/UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Tokyo', 'Australia/Sydney', 'Asia/Kolkata'];
  const days = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
  const windowArb = fc.record({
    days: fc.uniqueArray(fc.constantFrom(...days), { minLength: 1, maxLength: 3 }),
    start: fc.tuple(fc.integer({ min: 0, max: 23 }), fc.constantFrom(0, 15, 30, 45)).map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`),
    hours: fc.integer({ min: 1, max: 8 }),
    timeZone: fc.constantFrom(...zones),
  });
  it('is open, at or after the time asked, and no earlier quarter hour since was open', () => {
    fc.assert(
      fc.property(windowArb, fc.date({ min: new Date('2026-01-01T00:00:00Z'), max: new Date('2027-12-31T00:00:00Z'), noInvalidDate: true }), (window, after) => {
        const next = nextWindowOpening(window, after);
        expect(next.getTime()).toBeGreaterThanOrEqual(after.getTime());
        expect(inMaintenanceWindow(window, next)).toBe(true);
        // Nothing open in between (sampled every 15 minutes; openings are on quarter hours).
        const firstQuarter = Math.ceil(after.getTime() / 900_000) * 900_000;
        for (let t = firstQuarter; t < next.getTime(); t += 900_000) expect(inMaintenanceWindow(window, new Date(t)), new Date(t).toISOString()).toBe(false);
      }),
      { numRuns: 150 },
    );
  });

  it('a window wholly inside a daylight-saving gap opens the week after (Sun 02:00 for 1 h, Berlin, the spring change)', () => {
    const window = { days: ['sun' as const], start: '02:00', hours: 1, timeZone: 'Europe/Berlin' };
    // 2027-03-28 has no 02:00-03:00 in Berlin; the next opening is 2027-04-04 02:00 CEST.
    expect(nextWindowOpening(window, new Date('2027-03-21T02:00:00.000Z')).toISOString()).toBe('2027-04-04T00:00:00.000Z');
  });
});

describe('canary members', () => {
  it.each([
    [1, 1],
    [10, 1],
    [20, 1],
    [21, 2],
    [100, 5],
    [200, 10],
  ])('%i customers give a canary of %i (5%, at least one)', (n, size) => {
    expect(canaryMembers('ro-x', range('cus', n).map((id) => customer(id)), 5).size).toBe(size);
  });

  it('is deterministic for a rollout and differs between rollouts', () => {
    const fleet = range('cus', 200).map((id) => customer(id));
    expect([...canaryMembers('ro-x', fleet, 5)]).toEqual([...canaryMembers('ro-x', fleet, 5)]);
    expect([...canaryMembers('ro-x', fleet, 5)].sort()).not.toEqual([...canaryMembers('ro-y', fleet, 5)].sort());
  });

  it('takes only customers', () => {
    const members = canaryMembers('ro-x', [dev('dev-a'), internal('int-a'), customer('cus-a')], 5);
    expect([...members]).toEqual(['cus-a']);
  });
});

describe('maintenance windows', () => {
  const window = (w: Partial<MaintenanceWindow>): MaintenanceWindow => ({ days: ['sat', 'sun'], start: '02:00', hours: 4, timeZone: 'America/New_York', ...w });
  it.each([
    ['opens at its start (Sat 02:00 EST = 07:00Z)', window({}), '2026-11-28T07:00:00Z', true],
    ['closes after its hours (Sat 06:00 EST)', window({}), '2026-11-28T11:00:00Z', false],
    ['summer time moves it an hour in UTC (Sat 02:00 EDT = 06:00Z)', window({}), '2026-07-04T06:00:00Z', true],
    ['a weekday is not in a weekend window', window({}), '2026-11-26T08:00:00Z', false],
    ['crosses midnight into the next day (Sun 22:00 for 4h, at Mon 01:00)', window({ days: ['sun'], start: '22:00' }), '2026-11-30T06:00:00Z', true],
    ['crosses the week end (Sun 23:00 for 3h, at Mon 01:59 Kolkata)', window({ days: ['sun'], start: '23:00', hours: 3, timeZone: 'Asia/Kolkata' }), '2026-11-29T20:29:00Z', true],
    ['a 24 h window covers the whole day', window({ days: ['thu'], start: '00:00', hours: 24, timeZone: 'Etc/UTC' }), '2026-11-26T23:59:00Z', true],
  ] as const)('%s', (_name, w, at, expected) => {
    expect(inMaintenanceWindow(w, new Date(at))).toBe(expected);
  });
});

describe('parseWaves', () => {
  it('reads settings and keeps defaults for the rest', () => {
    const waves = parseWaves('dev,canary:budget=2:soak=10m:max=50,customers:gate:budget=2%');
    expect(waves.map((w) => w.name)).toEqual(['dev', 'canary', 'customers']);
    expect(waves[1]).toMatchObject({ maxInFlight: 50, soakMs: 600_000, failureBudget: { percent: 0, min: 2 }, percent: 5 });
    expect(waves[2]).toMatchObject({ manualGate: true, failureBudget: { percent: 2, min: 1 } });
  });

  it.each([
    ['', 'at least one wave'],
    ['prod', 'unknown wave'],
    ['dev,dev', 'named twice'],
    ['customers,dev', 'keep the order'],
    ['dev:max=0', 'at least 1'],
    ['dev:soak=soon', 'duration'],
    ['dev:percent=5', 'only the canary'],
    ['dev:speed=3', 'unknown setting'],
  ])('refuses %j (%s)', (text, message) => {
    expect(() => parseWaves(text)).toThrow(message);
  });
});

/**
 * Who a rollout covers, decided once when it starts: every instance not deleted that one of
 * its waves takes (dev, internal prod, the customer canary, all customers), each with a progress
 * record of its own. One already on (or past) the target is a member that is skipped; the
 * others are pending, eligible at once or, for a customer, when its maintenance window next
 * opens. An instance created later is not a member: it is created on the version it asks for.
 */
import semver from 'semver';
import { windowCalendar, type WindowCalendar } from './calendar.js';
import type { FleetInstance, InstanceProgress, WaveName, WaveSpec } from './types.js';
import { canaryMembers, naturalWave } from './waves.js';

export interface Membership {
  members: InstanceProgress[];
  sizes: Partial<Record<WaveName, number>>;
}

/**
 * A member not started yet, as any fan-out records it: eligible now or when its window next
 * opens (`eligibleAt: null`: not until something makes it eligible, such as a confirmation).
 */
export function pendingMember(
  input: { instanceId: string; wave: WaveName; window?: InstanceProgress['window']; eligible: 'now' | 'not-yet' } & Pick<Partial<InstanceProgress>, 'planDigest' | 'applyId' | 'actor' | 'detail'>,
  now: Date,
  windows: WindowCalendar = windowCalendar(undefined),
): InstanceProgress {
  const { instanceId, wave, window, eligible, detail, ...extra } = input;
  return {
    instanceId,
    wave,
    state: 'pending',
    eventId: null,
    operationId: null,
    attempts: 0,
    startedAt: null,
    finishedAt: null,
    eligibleAt: eligible === 'not-yet' ? null : (window === undefined ? now : windows.nextOpening(window, now)).toISOString(),
    ...(window === undefined ? {} : { window }),
    ...Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== undefined)),
    detail: detail ?? null,
    updatedAt: now.toISOString(),
  };
}

/** The members of a rollout over the fleet as it is at `now`, in id order. */
export function membersOf(rollout: { id: string; waves: readonly WaveSpec[]; targetVersion: string }, fleet: readonly FleetInstance[], now: Date, windows?: WindowCalendar): Membership {
  const at = now.toISOString();
  const canary = canaryMembers(rollout.id, fleet, rollout.waves.find((w) => w.name === 'canary')?.percent ?? 5);
  const sizes: Partial<Record<WaveName, number>> = {};
  const members: InstanceProgress[] = [];
  for (const instance of [...fleet].sort((a, b) => a.id.localeCompare(b.id))) {
    if (instance.status === 'deleted') continue;
    const wave = naturalWave(instance, rollout.waves, canary);
    if (wave === undefined) continue;
    sizes[wave] = (sizes[wave] ?? 0) + 1;
    const there = semver.valid(instance.version) !== null && semver.gte(instance.version, rollout.targetVersion);
    const window = instance.tier === 'customer' ? instance.maintenanceWindow : undefined;
    if (!there) {
      members.push(pendingMember({ instanceId: instance.id, wave, ...(window === undefined ? {} : { window }), eligible: 'now' }, now, windows));
      continue;
    }
    members.push({ instanceId: instance.id, wave, state: 'skipped', eventId: null, operationId: null, attempts: 0, startedAt: null, finishedAt: at, eligibleAt: null, ...(window === undefined ? {} : { window }), detail: `already on ${instance.version}`, updatedAt: at });
  }
  return { members, sizes };
}

/**
 * Dev instance expiry: a notice 24 hours before, a delete once past expiry and a grace period,
 * never anything for prod. Pure: the instance and the clock in, the decision out.
 */
import type { InstanceRecord } from '../../events/index.js';

export interface RetentionPolicy {
  /** How long before expiry the `instance.expiring` notice goes out. */
  noticeHours: number;
  /** How long past expiry a dev instance lives on before it is deleted (time to extend it). */
  graceHours: number;
}

export const DEFAULT_RETENTION_POLICY: RetentionPolicy = { noticeHours: 24, graceHours: 24 };

export type RetentionDecision =
  | { kind: 'none'; why: string }
  | { kind: 'notify'; expiresAt: string }
  | { kind: 'delete'; expiresAt: string; overdueHours: number };

const HOUR_MS = 3_600_000;

/** What the hourly retention check does about one instance now. */
export function decideRetention(
  instance: Pick<InstanceRecord, 'environment' | 'expiresAt' | 'status'>,
  now: Date,
  policy: RetentionPolicy = DEFAULT_RETENTION_POLICY,
): RetentionDecision {
  // Prod is never deleted by a schedule, whatever its record says.
  if (instance.environment !== 'dev') return { kind: 'none', why: 'prod instances do not expire' };
  if (instance.status === 'deleted' || instance.status === 'deleting') return { kind: 'none', why: `the instance is ${instance.status}` };
  if (instance.expiresAt === undefined) return { kind: 'none', why: 'no expiry recorded' };
  const expires = Date.parse(instance.expiresAt);
  const left = expires - now.getTime();
  if (left <= -policy.graceHours * HOUR_MS) {
    return { kind: 'delete', expiresAt: instance.expiresAt, overdueHours: Math.round((-left / HOUR_MS) * 10) / 10 };
  }
  if (left <= policy.noticeHours * HOUR_MS) return { kind: 'notify', expiresAt: instance.expiresAt };
  return { kind: 'none', why: `expires in more than ${policy.noticeHours} hours` };
}

/** The new expiry of `mi instance extend --hours N`: N hours past the later of the expiry and now. */
export function extendedExpiry(current: string | undefined, hours: number, now: Date): string {
  const base = Math.max(current === undefined ? now.getTime() : Date.parse(current), now.getTime());
  return new Date(base + hours * HOUR_MS).toISOString();
}

/**
 * The restore drill's rotating sample: `size` instances starting at an offset that moves by
 * `size` every week, over the ids sorted, so every instance is drilled in turn.
 */
export function rotatingSample(sortedIds: readonly string[], week: number, size: number): string[] {
  if (sortedIds.length === 0 || size <= 0) return [];
  const n = Math.min(size, sortedIds.length);
  const start = (((week * n) % sortedIds.length) + sortedIds.length) % sortedIds.length;
  return Array.from({ length: n }, (_, i) => sortedIds[(start + i) % sortedIds.length] ?? '').filter((id) => id !== '');
}

/** Weeks since the Unix epoch (a Thursday): the drill's rotation counter. */
export function weekNumber(at: Date): number {
  return Math.floor(at.getTime() / (7 * 86_400_000));
}

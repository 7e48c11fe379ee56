/**
 * Which run a scheduled message belongs to. Cloud Scheduler messages carry no scheduled time,
 * so a run's key is the cron slot that contains the message's publish time: a retried or
 * duplicated trigger (even minutes late, as long as it is inside the slot) finds the run that
 * the first one created instead of starting another. Pure: the publish time is a parameter.
 */
import { createHash } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';

/** One slot of a cron schedule: from one firing (inclusive) to the next (exclusive). */
export interface CronSlot {
  start: Date;
  end: Date;
}

/** The slot of `cron` (in `timeZone`) that contains `at`: the latest firing at or before it, to the next. */
export function cronSlotContaining(cron: string, timeZone: string, at: Date): CronSlot {
  // prev() is strictly before currentDate: one millisecond later makes a firing at `at` itself count.
  const expression = CronExpressionParser.parse(cron, { currentDate: new Date(at.getTime() + 1), tz: timeZone });
  const start = expression.prev().toDate();
  const following = CronExpressionParser.parse(cron, { currentDate: start, tz: timeZone });
  return { start, end: following.next().toDate() };
}

/** `20261126t0200z`: a slot start (to the minute) as part of a document id: sortable, lowercase, no colons. */
export function compactTime(at: Date): string {
  return at.toISOString().slice(0, 16).replace(/[-:]/g, '').toLowerCase() + 'z';
}

/** The run id of a schedule's slot: `verify-backups-20261126t0200z`. */
export function scheduledRunId(schedule: string, slot: CronSlot): string {
  return `${schedule}-${compactTime(slot.start)}`;
}

/** The run id of a run asked for by a person (`mi compliance run`), keyed by the request id. */
export function manualRunId(schedule: string, requestId: string): string {
  const key = requestId.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 12);
  return `${schedule}-manual-${key}`;
}

/**
 * A UUID derived from a key (RFC 9562 version 8: custom, from SHA-256), for events a scheduled
 * run publishes: a redelivered trigger publishes the same event ids, so the consumers' ledger
 * deduplicates them.
 */
export function deterministicEventId(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex');
  const variant = ((parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The topology's schedules on a local clock, standing in for Cloud Scheduler (which has no
 * emulator): every `localEverySeconds` a small static message goes to the schedule's topic,
 * as a Cloud Scheduler job with a Pub/Sub target would publish it.
 */
import type { PubSub, Topic } from '@google-cloud/pubsub';
import { withDeadline } from '../../shared/deadline.js';
import type { Schedule } from '../../shared/topology.js';

export interface LocalClockOptions {
  pubsub: PubSub;
  schedules: readonly Schedule[];
  /** How much faster than `localEverySeconds` the clock runs (2 halves every interval). Default 1. */
  speedup?: number;
  /**
   * True while the functions a schedule feeds are still busy with an earlier tick: the tick
   * is skipped, so slow runs do not pile up behind one another.
   */
  isBusy?: (schedule: Schedule) => boolean;
  onError?: (error: unknown, schedule: Schedule) => void;
  /** Called after each tick was published (as Cloud Scheduler records a job's last attempt). */
  onPublished?: (schedule: Schedule) => void;
  /** Deadline of each publish. */
  publishDeadlineMs?: number;
}

export interface LocalClock {
  /** Ticks published and skipped, per schedule name. */
  counts(): Record<string, { published: number; skipped: number }>;
  /** Stops every schedule and waits for a publish in flight. */
  stop(): Promise<void>;
}

/** The message a schedule publishes: static, as a Cloud Scheduler job's body is. */
export function scheduleMessage(schedule: Schedule): { data: Buffer; attributes: Record<string, string> } {
  return { data: Buffer.from(JSON.stringify({ schedule: schedule.name })), attributes: { schedule: schedule.name } };
}

/** Starts publishing every schedule on its local interval. */
export function startLocalClock(options: LocalClockOptions): LocalClock {
  const speedup = options.speedup ?? 1;
  if (!(speedup > 0) || !Number.isFinite(speedup)) throw new RangeError(`speedup must be a positive number, got ${speedup}`);
  const deadlineMs = options.publishDeadlineMs ?? 5_000;
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();
  const counts: Record<string, { published: number; skipped: number }> = {};

  for (const schedule of options.schedules) {
    const everyMs = Math.max(100, (schedule.localEverySeconds * 1000) / speedup);
    const topic: Topic = options.pubsub.topic(schedule.topic, { batching: { maxMessages: 1, maxMilliseconds: 0 } });
    const count = (counts[schedule.name] = { published: 0, skipped: 0 });

    const tick = async (): Promise<void> => {
      if (options.isBusy?.(schedule) === true) {
        count.skipped += 1;
        return;
      }
      await withDeadline(`publish the ${schedule.name} schedule to ${schedule.topic}`, () => topic.publishMessage(scheduleMessage(schedule)), deadlineMs);
      count.published += 1;
      options.onPublished?.(schedule);
    };

    // A chain of timeouts rather than an interval: the next tick is set only once this one
    // has finished, so two ticks of one schedule never overlap.
    const arm = (delayMs: number): void => {
      if (stopped) return;
      const timer = setTimeout(() => {
        timers.delete(timer);
        const started = Date.now();
        const run = tick()
          .catch((error: unknown) => options.onError?.(error, schedule))
          .finally(() => {
            inFlight.delete(run);
            arm(Math.max(0, everyMs - (Date.now() - started)));
          });
        inFlight.add(run);
      }, delayMs);
      timers.add(timer);
    };
    arm(everyMs);
  }

  return {
    counts: () => Object.fromEntries(Object.entries(counts).map(([name, c]) => [name, { ...c }])),
    async stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.all([...inFlight]);
    },
  };
}

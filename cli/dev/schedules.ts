/**
 * The topology's schedules on the local clock: each publishes on its topic every few seconds
 * (skipped while a function it feeds is still busy), and the simulated Cloud Scheduler records
 * each attempt, so the schedules' own compliance check sees them run.
 */
import type { PubSub } from '@google-cloud/pubsub';
import { describeError } from '../../shared/errors.js';
import type { SimulatedFleet } from '../../shared/sim/index.js';
import { SUBSCRIPTIONS, type Schedule } from '../../shared/topology.js';
import type { FunctionsServer } from './functions-server.js';
import { startLocalClock } from './local-clock.js';
import type { UndoStack } from './undo.js';

/** The functions a schedule's topic feeds. */
function fedBy(schedule: Schedule): string[] {
  return SUBSCRIPTIONS.filter((s) => s.topic === schedule.topic).map((s) => s.function);
}

/** Starts the local clock (stopped on stop). */
export function runSchedules(
  input: { admin: PubSub; server: FunctionsServer; fleet: SimulatedFleet; schedulerParent: string; schedules: readonly Schedule[]; speedup?: number | undefined },
  undo: UndoStack,
  log: (line: string) => void,
): void {
  const { admin, server, fleet, schedulerParent } = input;
  const clock = startLocalClock({
    pubsub: admin,
    schedules: input.schedules,
    ...(input.speedup === undefined ? {} : { speedup: input.speedup }),
    isBusy: (schedule) => {
      const stats = server.stats();
      return fedBy(schedule).some((name) => (stats[name]?.inFlight ?? 0) > 0);
    },
    onError: (error, schedule) => log(`schedule ${schedule.name}: ${describeError(error)}`),
    // What Cloud Scheduler records of each attempt, so the schedules' own check sees them run.
    onPublished: (schedule) => fleet.scheduler.setLastAttempt(`${schedulerParent}/jobs/${schedule.name}`, { code: 0 }),
  });
  undo.push('stop the local clock', () => clock.stop());
}

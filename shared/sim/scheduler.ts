/**
 * Cloud Scheduler, in process (there is no emulator for it): jobs seeded from the topology's
 * schedules, listed in pages as the real API lists them, with controls for the drift a
 * compliance check must notice (a paused, deleted or failing job).
 */
import { ControlPlaneError } from '../errors.js';
import type { Clock, Page, SchedulerJob, SchedulerPort } from '../ports.js';
import { SCHEDULES, type Schedule } from '../topology.js';
import { exportWithFaults, importWithFaults, type SimState } from './state.js';
import { FaultInjector, type ServiceErrorStyle } from './faults.js';
import { pageOf } from './paging.js';

export type SchedulerMethod = keyof SchedulerPort;

/** The real API's largest (and default) page. */
export const SCHEDULER_MAX_PAGE_SIZE = 500;

const STYLE: ServiceErrorStyle = { service: 'cloudscheduler', conflictCode: 'already-exists' };
const PARENT_PATTERN = /^projects\/[^/]+\/locations\/[^/]+$/;

/** The fields exportState keeps. */
const SCHEDULER_STATE_FIELDS = ['jobs'] as const;

/** The simulated Cloud Scheduler API. */
export class SimulatedScheduler implements SchedulerPort {
  readonly faults = new FaultInjector<SchedulerMethod>(STYLE);
  private readonly jobs = new Map<string, SchedulerJob>();

  constructor(private readonly options: { clock: Clock; project?: string; location?: string; schedules?: readonly Schedule[] }) {
    if (options.project !== undefined) this.seedTopology(options.project, options.location ?? 'us-central1', options.schedules ?? SCHEDULES);
  }

  /** Its world as plain data (state.ts): what a restart of the local stack must find. */
  exportState(): SimState {
    return exportWithFaults(this, SCHEDULER_STATE_FIELDS, this.faults);
  }

  /** Puts a world taken by exportState back. */
  importState(state: SimState): void {
    importWithFaults(this, SCHEDULER_STATE_FIELDS, this.faults, state);
  }

  // ------------------------------------------------------------------ test control

  /** Creates the job of every schedule in a project and location, enabled, never run yet. */
  seedTopology(project: string, location: string, schedules: readonly Schedule[] = SCHEDULES): SchedulerJob[] {
    return schedules.map((schedule) =>
      this.addJob({
        name: `projects/${project}/locations/${location}/jobs/${schedule.name}`,
        schedule: schedule.cron,
        timeZone: schedule.timeZone,
        state: 'ENABLED',
        pubsubTarget: { topicName: `projects/${project}/topics/${schedule.topic}` },
      }),
    );
  }

  /** Adds (or replaces) one job. */
  addJob(job: SchedulerJob): SchedulerJob {
    this.jobs.set(job.name, structuredClone(job));
    return structuredClone(job);
  }

  pauseJob(name: string): void {
    this.seeded(name).state = 'PAUSED';
  }

  resumeJob(name: string): void {
    this.seeded(name).state = 'ENABLED';
  }

  deleteJob(name: string): void {
    if (!this.jobs.delete(name)) throw new Error(`scheduler sim: no job ${name}`);
  }

  /** Records the job's last attempt (now unless told): code 0 is success, anything else a failure. */
  setLastAttempt(name: string, status: { code: number; message?: string }, at?: Date): void {
    const job = this.seeded(name);
    job.lastAttemptTime = (at ?? this.options.clock.now()).toISOString();
    job.status = { ...status };
  }

  /** Calls received by a method, including failed ones. */
  calls(method: SchedulerMethod): number {
    return this.faults.calls(method);
  }

  // ------------------------------------------------------------------ the port

  listJobs(parent: string, page: { pageToken?: string; pageSize?: number } = {}): Promise<Page<SchedulerJob>> {
    return this.faults.call('listJobs', parent, () => {
      if (!PARENT_PATTERN.test(parent)) {
        throw new ControlPlaneError('failed-precondition', `${parent} is not a location (projects/P/locations/L)`, {
          retryable: false,
          details: { httpStatus: 400, status: 'INVALID_ARGUMENT' },
        });
      }
      const mine = [...this.jobs.values()].filter((job) => job.name.startsWith(`${parent}/jobs/`));
      const result = pageOf(
        mine,
        (job) => [job.name],
        { service: STYLE.service, scope: `jobs:${parent}`, defaultSize: SCHEDULER_MAX_PAGE_SIZE, maxSize: SCHEDULER_MAX_PAGE_SIZE },
        { pageToken: page.pageToken, size: page.pageSize },
      );
      return { ...result, items: result.items.map((job) => structuredClone(job)) };
    });
  }

  // ------------------------------------------------------------------ internals

  private seeded(name: string): SchedulerJob {
    const job = this.jobs.get(name);
    if (job === undefined) throw new Error(`scheduler sim: no job ${name}`);
    return job;
  }
}

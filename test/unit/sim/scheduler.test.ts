import { describe, expect, it } from 'vitest';
import type { SchedulerJob } from '../../../shared/ports.js';
import { ManualClock } from '../../../shared/sim/clock.js';
import { SimulatedScheduler } from '../../../shared/sim/scheduler.js';
import { SCHEDULES } from '../../../shared/topology.js';

const PARENT = 'projects/mi-control/locations/us-central1';

function setup(): { clock: ManualClock; scheduler: SimulatedScheduler } {
  const clock = new ManualClock('2026-03-01T10:00:00Z');
  return { clock, scheduler: new SimulatedScheduler({ clock, project: 'mi-control', location: 'us-central1' }) };
}

describe('simulated Cloud Scheduler', () => {
  it('holds one enabled job per schedule of the topology, targeting its topic', async () => {
    const { scheduler } = setup();
    const { items } = await scheduler.listJobs(PARENT);
    expect(items.map((job) => job.name).sort()).toEqual(SCHEDULES.map((s) => `${PARENT}/jobs/${s.name}`).sort());
    for (const schedule of SCHEDULES) {
      expect(items.find((job) => job.name.endsWith(`/jobs/${schedule.name}`))).toMatchObject({
        schedule: schedule.cron,
        timeZone: schedule.timeZone,
        state: 'ENABLED',
        pubsubTarget: { topicName: `projects/mi-control/topics/${schedule.topic}` },
      });
    }
  });

  it('shows a paused job, a deleted job and a failed last attempt', async () => {
    const { clock, scheduler } = setup();
    const name = `${PARENT}/jobs/reconcile`;
    const job = async () => (await scheduler.listJobs(PARENT)).items.find((j) => j.name === name);
    scheduler.pauseJob(name);
    expect((await job())?.state).toBe('PAUSED');
    scheduler.resumeJob(name);
    scheduler.setLastAttempt(name, { code: 7, message: 'PERMISSION_DENIED' });
    expect(await job()).toMatchObject({
      state: 'ENABLED',
      lastAttemptTime: clock.now().toISOString(),
      status: { code: 7 },
    });
    scheduler.deleteJob(name);
    expect(await job()).toBeUndefined();
    expect((await scheduler.listJobs(PARENT)).items).toHaveLength(SCHEDULES.length - 1);
  });

  it('lists jobs in pages, each job exactly once, and none of another location', async () => {
    const { scheduler } = setup();
    scheduler.seedTopology('mi-control', 'europe-west1');
    for (let i = 0; i < 12; i += 1) {
      scheduler.addJob({ name: `${PARENT}/jobs/extra-${String(i).padStart(2, '0')}`, schedule: '0 * * * *', timeZone: 'Etc/UTC', state: 'ENABLED' });
    }
    const seen: SchedulerJob[] = [];
    let pageToken: string | undefined;
    do {
      const page = await scheduler.listJobs(PARENT, { pageSize: 5, ...(pageToken ? { pageToken } : {}) });
      expect(page.items.length).toBeLessThanOrEqual(5);
      seen.push(...page.items);
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
    expect(seen).toHaveLength(12 + SCHEDULES.length);
    expect(new Set(seen.map((job) => job.name)).size).toBe(seen.length);
    expect(seen.every((job) => job.name.startsWith(`${PARENT}/jobs/`))).toBe(true);
  });

  it('refuses a parent that is not a location', async () => {
    const { scheduler } = setup();
    await expect(scheduler.listJobs('projects/mi-control')).rejects.toMatchObject({ code: 'failed-precondition', details: { httpStatus: 400 } });
  });
});

import { describe, expect, it } from 'vitest';
import { INSTANCE_ID_PATTERN } from '../../../shared/events/index.js';
import type { RunRequest } from '../../../shared/ports.js';
import { createSimulatedFleet, DEFAULT_SQL_DURATIONS, ManualClock, projectIdFor, resourceNamesFor } from '../../../shared/sim/index.js';

function run(action: RunRequest['action'], instanceId: string, params: RunRequest['params'] = {}): RunRequest {
  return { runKey: `op-1:${action}:${instanceId}`, action, instanceId, params, actor: 'alice@example.com', reason: 'test', refuseAfter: '2100-01-01T00:00:00Z' };
}

describe('simulated fleet', () => {
  it('seeds an instance in Cloud SQL and Backup for GKE under the shared names', async () => {
    const fleet = createSimulatedFleet({ clock: new ManualClock(), scheduler: { project: 'mi-control', location: 'us-central1' } });
    const names = fleet.seedInstance({ instanceId: 'src-1a2b3c4d', region: 'us-central1' });
    expect(names).toEqual(resourceNamesFor('src-1a2b3c4d', 'us-central1'));
    expect(names).toEqual({
      project: 'mi-src-1a2b3c4d',
      sqlInstance: 'src-1a2b3c4d-db',
      gkeCluster: 'projects/mi-src-1a2b3c4d/locations/us-central1/clusters/src-1a2b3c4d',
      backupPlan: 'projects/mi-src-1a2b3c4d/locations/us-east1/backupPlans/src-1a2b3c4d-daily',
      backupPlanRegion: 'us-east1',
    });
    expect(await fleet.cloudSql.getInstance(names.project, names.sqlInstance)).toMatchObject({ region: 'us-central1', state: 'RUNNABLE' });
    expect(await fleet.gkeBackup.getBackupPlan(names.backupPlan)).toMatchObject({ cluster: names.gkeCluster, state: 'READY' });
    expect((await fleet.scheduler.listJobs('projects/mi-control/locations/us-central1')).items.length).toBeGreaterThan(0);
  });

  it('keeps the backup plan out of the instance region', () => {
    for (const region of ['us-central1', 'us-east1', 'europe-west1', 'southamerica-east1']) {
      expect(resourceNamesFor('acme', region).backupPlanRegion).not.toBe(region);
    }
  });

  it('derives valid project ids (at most 30 characters) even from the longest instance ids', () => {
    const longest = `a${'b'.repeat(38)}c`;
    expect(longest).toMatch(INSTANCE_ID_PATTERN);
    for (const id of [longest, `abcdefghijklmnopqrstuvwxy-${'z'.repeat(10)}`, 'ab']) {
      expect(projectIdFor(id)).toMatch(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/);
    }
    expect(projectIdFor(longest)).not.toBe(projectIdFor(`a${'b'.repeat(37)}cc`));
  });

  it('deleting a project removes its Cloud SQL instance, plan and backups, but not backups in another project\'s plan', async () => {
    const clock = new ManualClock('2026-03-01T10:00:00Z');
    const fleet = createSimulatedFleet({ clock });
    const names = fleet.seedInstance({ instanceId: 'acme', region: 'us-central1' });
    const central = 'projects/mi-backups/locations/us-east1/backupPlans/acme-central';
    fleet.gkeBackup.addBackupPlan({ name: central, cluster: names.gkeCluster });
    const [local] = fleet.gkeBackup.seedBackups(names.backupPlan, [{ createTime: '2026-02-28T03:00:00Z' }]);
    const [kept] = fleet.gkeBackup.seedBackups(central, [{ createTime: '2026-02-28T03:00:00Z' }]);
    fleet.cloudSql.seedAutomatedBackups(names.project, names.sqlInstance, [{ endTime: '2026-02-28T03:20:00Z' }]);

    expect(fleet.deleteProject(names.project)).toEqual({
      sqlInstances: [names.sqlInstance],
      backupPlans: [names.backupPlan],
      restorePlans: [],
      clusters: [names.gkeCluster],
    });
    expect(await fleet.cloudSql.getInstance(names.project, names.sqlInstance)).toBeUndefined();
    await expect(fleet.cloudSql.listBackupRuns(names.project, names.sqlInstance)).rejects.toMatchObject({ code: 'not-found' });
    expect(await fleet.gkeBackup.getBackup(local ?? '')).toBeUndefined();
    expect(await fleet.gkeBackup.getBackup(kept ?? '')).toMatchObject({ state: 'SUCCEEDED' });
  });

  it('makes a succeeded provision run create the instance\'s Cloud SQL instance and cluster, once it is seen to succeed', async () => {
    const clock = new ManualClock('2026-03-01T10:00:00Z');
    const fleet = createSimulatedFleet({ clock, executor: { queuedMs: 1_000, defaultDurationMs: 60_000 } });
    const names = resourceNamesFor('beta', 'europe-west1');
    await fleet.executor.requestRun(run('provision', 'beta', { region: 'europe-west1' }));
    clock.advance(30_000);
    expect((await fleet.executor.getRunStatus('op-1:provision:beta')).state).toBe('running');
    expect(await fleet.cloudSql.getInstance(names.project, names.sqlInstance)).toBeUndefined();

    clock.advance(31_000);
    expect((await fleet.executor.getRunStatus('op-1:provision:beta')).state).toBe('succeeded');
    expect(await fleet.cloudSql.getInstance(names.project, names.sqlInstance)).toMatchObject({ state: 'RUNNABLE', region: 'europe-west1' });
    expect(fleet.gkeBackup.hasCluster(names.gkeCluster)).toBe(true);
    expect(fleet.appliedEffects()).toEqual([
      { runKey: 'op-1:provision:beta', action: 'provision', changes: [`sql:${names.project}/${names.sqlInstance} created`, `cluster:${names.gkeCluster} created`] },
    ]);
    // Applied once, however often the run is read.
    await fleet.executor.finishDue();
    expect(fleet.appliedEffects()).toHaveLength(1);
  });

  it('makes a succeeded destroy run delete the project of params.project, and a failed one nothing', async () => {
    const clock = new ManualClock('2026-03-01T10:00:00Z');
    const fleet = createSimulatedFleet({ clock, executor: { queuedMs: 0, defaultDurationMs: 1_000 } });
    const acme = fleet.seedInstance({ instanceId: 'acme', region: 'us-central1' });
    const beta = fleet.seedInstance({ instanceId: 'beta', region: 'us-central1' });
    fleet.executor.scriptOutcome({ instanceId: 'beta' }, 'failed', 'terraform destroy failed');
    await fleet.executor.requestRun(run('destroy', 'acme', { project: acme.project }));
    await fleet.executor.requestRun(run('destroy', 'beta', { project: beta.project }));
    clock.advance(1_000);
    await fleet.executor.finishDue();
    expect(await fleet.cloudSql.getInstance(acme.project, acme.sqlInstance)).toBeUndefined();
    expect(await fleet.gkeBackup.getBackupPlan(acme.backupPlan)).toBeUndefined();
    expect(await fleet.cloudSql.getInstance(beta.project, beta.sqlInstance)).toBeDefined();
  });

  it('keeps a FINAL backup of a destroyed project listable', async () => {
    const clock = new ManualClock('2026-03-01T10:00:00Z');
    const fleet = createSimulatedFleet({ clock, executor: { queuedMs: 0, defaultDurationMs: 1_000 } });
    const acme = fleet.seedInstance({ instanceId: 'acme', region: 'us-central1' });
    await fleet.cloudSql.deleteInstance(acme.project, acme.sqlInstance, { finalBackup: { retentionDays: 30, description: 'final' } });
    clock.advance(DEFAULT_SQL_DURATIONS.backupEnqueuedMs + DEFAULT_SQL_DURATIONS.backupRunMs);
    await fleet.executor.requestRun(run('destroy', 'acme', { project: acme.project }));
    clock.advance(1_000);
    await fleet.executor.finishDue();
    await expect(fleet.cloudSql.listBackupRuns(acme.project, acme.sqlInstance)).rejects.toMatchObject({ code: 'not-found' });
    expect((await fleet.cloudSql.listFinalBackups(acme.project, acme.sqlInstance)).map((b) => [b.type, b.state, b.description])).toEqual([
      ['FINAL', 'SUCCESSFUL', 'final'],
    ]);
  });

  it('leaves the world alone when world effects are turned off', async () => {
    const clock = new ManualClock('2026-03-01T10:00:00Z');
    const fleet = createSimulatedFleet({ clock, worldEffects: false, executor: { queuedMs: 0, defaultDurationMs: 1_000 } });
    const acme = fleet.seedInstance({ instanceId: 'acme', region: 'us-central1' });
    await fleet.executor.requestRun(run('destroy', 'acme', { project: acme.project }));
    clock.advance(1_000);
    expect((await fleet.executor.getRunStatus('op-1:destroy:acme')).state).toBe('succeeded');
    expect(await fleet.cloudSql.getInstance(acme.project, acme.sqlInstance)).toBeDefined();
    expect(fleet.appliedEffects()).toEqual([]);
  });
});


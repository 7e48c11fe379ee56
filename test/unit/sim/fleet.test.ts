import { describe, expect, it } from 'vitest';
import { INSTANCE_ID_PATTERN } from '../../../shared/events/index.js';
import { createSimulatedFleet, ManualClock, projectIdFor, resourceNamesFor } from '../../../shared/sim/index.js';

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
});

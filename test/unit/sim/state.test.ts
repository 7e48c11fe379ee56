/**
 * A simulated fleet's world taken out as plain data (through node:v8, as the local stack keeps
 * it) and put into a fresh fleet carries on where it was: runs in flight finish on the clock,
 * scripted outcomes and fault rules still apply, and operations still answer.
 */
import { deserialize, serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { createSimulatedFleet, ManualClock, restoreFields, type FleetState, type SimulatedFleet } from '../../../shared/sim/index.js';

/** Through bytes, as cli/dev/fleet-state.ts keeps each part. */
function carried(from: SimulatedFleet, clock: ManualClock): SimulatedFleet {
  const bytes = Object.fromEntries(Object.entries(from.exportState()).map(([part, state]) => [part, serialize(state)]));
  const next = createSimulatedFleet({ clock, scheduler: { project: 'mi-control', location: 'us-central1' } });
  const state: FleetState = Object.fromEntries(Object.entries(bytes).map(([part, b]) => [part, deserialize(b) as Record<string, unknown>]));
  next.importState(state);
  return next;
}

describe('simulator state', () => {
  it('a fresh fleet given the state finds the backups in flight, finishes them on the clock, and keeps what was scripted', async () => {
    const clock = new ManualClock();
    const first = createSimulatedFleet({ clock, scheduler: { project: 'mi-control', location: 'us-central1' } });
    const names = first.seedInstance({ instanceId: 'cus-acme', region: 'us-east4', application: { domain: 'acme.example.com', version: '5.4.2' } });
    const sqlOperation = await first.cloudSql.insertBackupRun(names.project, names.sqlInstance, { description: 'mi:key-1' });
    const gkeOperation = await first.gkeBackup.createBackup(names.backupPlan, 'mi-key-1', { description: 'mi:key-1' });
    const planOperation = await first.gkeBackup.createBackupPlan('projects/mi-cus-acme/locations/us-east1', 'extra-plan', { cluster: names.gkeCluster, cronSchedule: '0 3 * * *', backupRetainDays: 90, allNamespaces: true, includeVolumeData: true, includeSecrets: true });
    first.cloudSql.scriptBackupOutcome(names.project, names.sqlInstance, 'FAILED', 'scripted');
    first.applications.breakNextDeploy('acme.example.com', 'unhealthy');
    first.cloudSql.faults.inject({ method: 'getInstance', error: { httpStatus: 503 } });

    const second = carried(first, clock);
    clock.advance(3_600_000);
    const runId = sqlOperation.backupContext?.backupId ?? '';
    expect(await second.cloudSql.getBackupRun(names.project, names.sqlInstance, runId)).toMatchObject({ id: runId, status: 'SUCCESSFUL', description: 'mi:key-1' });
    expect(await second.gkeBackup.getBackup(`${names.backupPlan}/backups/mi-key-1`)).toMatchObject({ state: 'SUCCEEDED' });
    expect(await second.gkeBackup.getOperation(gkeOperation.name)).toMatchObject({ done: true });
    // An operation done at once answers with the resource it made, read now.
    expect(await second.gkeBackup.getOperation(planOperation.name)).toMatchObject({ done: true, response: { name: 'projects/mi-cus-acme/locations/us-east1/backupPlans/extra-plan' } });
    // A second insert is a new run (ids only grow), and takes the scripted failure.
    const next = await second.cloudSql.insertBackupRun(names.project, names.sqlInstance, { description: 'mi:key-2' });
    expect(Number(next.backupContext?.backupId)).toBeGreaterThan(Number(runId));
    clock.advance(3_600_000);
    expect(await second.cloudSql.getBackupRun(names.project, names.sqlInstance, next.backupContext?.backupId ?? '')).toMatchObject({ status: 'FAILED' });
    // The injected rule still answers as the API would; the broken deploy still waits for the next version.
    await expect(second.cloudSql.getInstance(names.project, names.sqlInstance)).rejects.toMatchObject({ details: { httpStatus: 503 } });
    expect(second.applications.faultsOn('acme.example.com')).toMatchObject({ nextDeploy: 'unhealthy' });
    expect(second.applications.versionOn('acme.example.com')).toBe('5.4.2');
    // The scheduler's jobs are the carried ones, not a second seeding.
    expect((await second.scheduler.listJobs('projects/mi-control/locations/us-central1')).items.length).toBe((await first.scheduler.listJobs('projects/mi-control/locations/us-central1')).items.length);
  });

  it('waits for the observer after every simulator call, answered or failed, before the caller sees the answer', async () => {
    const clock = new ManualClock();
    const fleet = createSimulatedFleet({ clock });
    const names = fleet.seedInstance({ instanceId: 'cus-acme', region: 'us-east4' });
    const seen: string[] = [];
    fleet.observe(async () => {
      await Promise.resolve();
      seen.push('kept');
    });
    await fleet.cloudSql.insertBackupRun(names.project, names.sqlInstance, { description: 'mi:x' });
    seen.push('answered');
    fleet.cloudSql.faults.inject({ method: 'listBackupRuns', error: { httpStatus: 500 } });
    await expect(fleet.cloudSql.listBackupRuns(names.project, names.sqlInstance)).rejects.toMatchObject({ code: 'internal' });
    seen.push('failed');
    expect(seen).toEqual(['kept', 'answered', 'kept', 'failed']);
  });

  it('refuses a state with fields the simulator does not keep', () => {
    expect(() => restoreFields({ a: 1 }, ['a'], { a: 2, b: 3 })).toThrow(/does not keep: b/);
  });
});

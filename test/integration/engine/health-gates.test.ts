/**
 * The upgrade's health gates on the real emulators, against the simulated applications (which
 * run what the executor deployed): each gate's failure mode, with the probe evidence the
 * operation records, and the rollback that brings a degraded instance back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateStateOf } from '../../../shared/domain/lifecycle/index.js';
import { deliver } from '../../../shared/edge.js';
import { lifecycleRoute } from '../../../shared/routes.js';
import type { EventPayloads } from '../../../shared/events/index.js';
import { createEngineFixture, lifecycleDelivery, type EngineFixture } from '../../support/engine-fixture.js';

let f: EngineFixture;
beforeAll(async () => {
  f = await createEngineFixture(import.meta.url);
});
afterAll(async () => {
  await f.close();
});

async function upgrade(instanceId: string, payload: EventPayloads['instance.upgrade']) {
  const envelope = f.command('instance.upgrade', instanceId, payload);
  const outcome = await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
  return { envelope, outcome, operationId: `op-${envelope.eventId}` };
}

const stepOf = (op: { steps: Array<{ name: string }> }, name: string) => op.steps.find((s) => s.name === name) as (typeof op.steps)[number] & { status: string; handles: Record<string, string>; error: string | null };

describe('the gate after the rollout', () => {
  it('passes once the new version has warmed up and answered healthy three times in a row', async () => {
    const inst = await f.seedInstance();
    const { operationId } = await upgrade(inst.id, { targetVersion: '5.5.0' });
    const ended = await f.driveToEnd(operationId);
    expect(ended.status).toBe('succeeded');
    const gate = stepOf(ended, 'health-after');
    const state = gateStateOf(gate.handles);
    // The application answered 503 while it started: those probes did not count.
    expect(state.recent.some((p) => p.healthStatus === 503)).toBe(true);
    expect(state.recent.slice(-3).every((p) => p.passed && p.version === '5.5.0')).toBe(true);
    expect(await f.instance(inst.id)).toMatchObject({ status: 'active', version: '5.5.0', lastUpgrade: { fromVersion: '5.4.2', toVersion: '5.5.0', migrationsRan: false } });
    // Probed on the instance's own domain.
    expect(f.fleet.applications.requests().filter((r) => r.domain === inst.domain).map((r) => r.path)).toContain('/version');
  });

  it.each([
    ['unhealthy', 'unhealthy' as const, '→ 503'],
    ['on the wrong version (the rollout did not take)', 'wrong-version' as const, 'version 5.4.2, not the target version'],
    ['too slow to answer', 'timeout' as const, 'timed out after 10000 ms'],
  ])('fails when the new version is %s: the instance is degraded, the evidence and the pre-upgrade backups are named', async (_label, how, evidence) => {
    const inst = await f.seedInstance();
    f.fleet.applications.breakVersion(inst.domain, '5.5.0', how);
    const { operationId } = await upgrade(inst.id, { targetVersion: '5.5.0' });
    const ended = await f.driveToEnd(operationId, { rounds: 120 });
    expect(ended).toMatchObject({ status: 'failed', failure: { step: 'health-after' } });
    const reason = ended.failure?.reason ?? '';
    expect(reason).toContain(evidence);
    const sqlRun = stepOf(ended, 'sql-backup').handles.backupRunId ?? 'none';
    const gkeBackup = stepOf(ended, 'gke-backup').handles.gkeBackup ?? 'none';
    expect(reason).toContain(`pre-upgrade backups: Cloud SQL backup run ${sqlRun}, GKE backup ${gkeBackup}`);
    expect(reason).toContain(`to go back: mi upgrade ${inst.id} --rollback`);
    // Probed for the whole window (600 s, every 15 s at most), the last five kept.
    const state = gateStateOf(stepOf(ended, 'health-after').handles);
    expect(state.probes).toBeGreaterThanOrEqual(10);
    expect(state.recent).toHaveLength(5);
    expect(await f.instance(inst.id)).toMatchObject({ status: 'degraded', version: '5.5.0', lease: null });
  });

  it('a degraded instance refuses an upgrade, takes a rollback that brings it back healthy on the old version', async () => {
    const inst = await f.seedInstance();
    f.fleet.applications.breakVersion(inst.domain, '5.5.0', 'unhealthy');
    await f.driveToEnd((await upgrade(inst.id, { targetVersion: '5.5.0' })).operationId, { rounds: 120 });
    expect((await f.instance(inst.id))?.status).toBe('degraded');

    expect((await upgrade(inst.id, { targetVersion: '5.6.0' })).outcome).toMatchObject({ kind: 'rejected', code: 'not-active' });

    const rollback = await upgrade(inst.id, { rollback: true });
    expect(rollback.outcome.kind).toBe('accepted');
    const ended = await f.driveToEnd(rollback.operationId);
    expect(ended.status).toBe('succeeded');
    // Its own backups first, then the old version, gated on that version.
    expect(ended.steps.map((s) => s.name)).toEqual(['sql-backup', 'gke-backup', 'upgrade-application', 'health-after']);
    expect(f.fleet.applications.versionOn(inst.domain)).toBe('5.4.2');
    expect(await f.instance(inst.id)).toMatchObject({ status: 'active', version: '5.4.2', lastUpgrade: { fromVersion: '5.5.0', toVersion: '5.4.2', rollback: true } });
  });

  it('refuses a rollback when the upgrade ran migrations, pointing to the restore of its backups', async () => {
    const inst = await f.seedInstance();
    f.fleet.applications.breakVersion(inst.domain, '5.5.0', 'unhealthy');
    f.fleet.executor.scriptOutputs({ instanceId: inst.id, action: 'upgrade' }, { migrationsRan: 'true', migrationsApplied: '2' });
    const failed = await f.driveToEnd((await upgrade(inst.id, { targetVersion: '5.5.0' })).operationId, { rounds: 120 });
    expect(failed.failure?.reason).toContain(`mi restore ${inst.id} --backup-run `);
    const { outcome } = await upgrade(inst.id, { rollback: true });
    expect(outcome).toMatchObject({ kind: 'rejected', code: 'no-rollback' });
    expect(outcome.kind === 'rejected' && outcome.message).toContain(`ran database migrations, so 5.4.2 cannot simply be redeployed: restore the pre-upgrade backups instead: mi restore ${inst.id} --backup-run ${stepOf(failed, 'sql-backup').handles.backupRunId ?? ''}`);
  });
});

describe('the gate before the backups', () => {
  it('an unhealthy instance is not upgraded: nothing is backed up or deployed, it stays active', async () => {
    const inst = await f.seedInstance();
    f.fleet.applications.failNow(inst.domain, 'unhealthy');
    const { operationId } = await upgrade(inst.id, { targetVersion: '5.5.0' });
    const ended = await f.driveToEnd(operationId, { rounds: 60 });
    expect(ended).toMatchObject({ status: 'failed', failure: { step: 'health-before' } });
    expect(ended.failure?.reason).toContain('the health gate before the upgrade did not see 1 passing probe(s)');
    expect(ended.failure?.reason).toContain('nothing was changed');
    expect(ended.steps.filter((s) => s.status !== 'pending').map((s) => s.name)).toEqual(['health-before']);
    expect(f.fleet.executor.runs().filter((r) => r.request.instanceId === inst.id)).toHaveLength(0);
    expect(await f.instance(inst.id)).toMatchObject({ status: 'active', version: '5.4.2', lease: null });
    f.fleet.applications.clearFaults(inst.domain);
  });

  it('a probe that fails once within the window is retried, and the upgrade goes on', async () => {
    const inst = await f.seedInstance();
    f.fleet.applications.failNow(inst.domain, 'timeout', 1);
    const ended = await f.driveToEnd((await upgrade(inst.id, { targetVersion: '5.5.0' })).operationId);
    expect(ended.status).toBe('succeeded');
    const before = gateStateOf(stepOf(ended, 'health-before').handles);
    expect(before.recent.map((p) => p.passed)).toEqual([false, true]);
    expect(before.recent[0]?.error).toContain('timed out after 10000 ms');
  });

  it('an instance whose name does not resolve fails the gate with that cause', async () => {
    const inst = await f.seedInstance();
    f.fleet.applications.remove(inst.domain);
    const ended = await f.driveToEnd((await upgrade(inst.id, { targetVersion: '5.5.0' })).operationId);
    expect(ended.failure?.reason).toContain(`getaddrinfo ENOTFOUND ${inst.domain}`);
  });
});

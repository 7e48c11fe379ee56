import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord, LedgerEntry } from '../../../shared/engine/index.js';
import { createEngineFixture, lifecycleDelivery, type EngineFixture } from '../../support/engine-fixture.js';
import { paths } from '../../../shared/store/collections.js';
import { deliver } from '../../../shared/edge.js';
import { lifecycleRoute } from '../../../shared/routes.js';

let f: EngineFixture;
beforeAll(async () => {
  f = await createEngineFixture(import.meta.url);
});
afterAll(async () => {
  await f.close();
});

async function auditOf(instanceId: string): Promise<AuditRecord[]> {
  const docs = await f.store.query<AuditRecord>({ collection: 'audit', where: [{ field: 'instanceId', op: '==', value: instanceId }] });
  // Audit ids sort in the order records were written.
  return docs.sort((a, b) => a.id.localeCompare(b.id)).map((d) => d.data);
}

describe('on-demand backup', () => {
  it('takes a Cloud SQL backup run and a GKE backup, waits for both, and records their ids', async () => {
    const inst = await f.seedInstance();
    const envelope = f.command('instance.backup', inst.id, { note: 'before a data fix' });
    const outcome = await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    expect(outcome.kind).toBe('accepted');
    const operationId = `op-${envelope.eventId}`;

    const started = await f.operation(operationId);
    expect(started?.steps.map((s) => [s.name, s.status])).toEqual([
      ['sql-backup', 'running'],
      ['gke-backup', 'running'],
    ]);
    expect((await f.instance(inst.id))?.lease?.operationId).toBe(operationId);

    const ended = await f.driveToEnd(operationId);
    expect(ended.status).toBe('succeeded');
    const runs = (await f.fleet.cloudSql.listBackupRuns(inst.resources.project, inst.resources.sqlInstance)).items;
    const backups = (await f.fleet.gkeBackup.listBackups(inst.resources.backupPlan)).items;
    expect(runs).toHaveLength(1);
    expect(backups).toHaveLength(1);
    expect(ended.result).toMatchObject({ 'sql-backup.backupRunId': runs[0]?.id, 'gke-backup.gkeBackup': backups[0]?.name });
    expect(runs[0]?.status).toBe('SUCCESSFUL');
    expect(backups[0]?.state).toBe('SUCCEEDED');

    const after = await f.instance(inst.id);
    expect(after).toMatchObject({ status: 'active', lease: null, version: '5.4.2' });
    const actions = (await auditOf(inst.id)).map((a) => a.action);
    expect(actions[0]).toBe('operation.accepted');
    expect(actions.at(-1)).toBe('operation.succeeded');
    expect(actions.filter((a) => a === 'step.succeeded')).toHaveLength(2);
  });
});

describe('upgrade', () => {
  it('backs up both, then upgrades through the executor, then records the new version', async () => {
    const inst = await f.seedInstance();
    const envelope = f.command('instance.upgrade', inst.id, { targetVersion: '5.5.0' });
    await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    const operationId = `op-${envelope.eventId}`;
    expect(f.fleet.executor.runs().filter((r) => r.request.instanceId === inst.id)).toHaveLength(0);
    const ended = await f.driveToEnd(operationId);
    expect(ended.status).toBe('succeeded');
    const upgrade = ended.steps.find((s) => s.name === 'upgrade-application');
    const backupsDone = ended.steps.filter((s) => s.kind === 'sql-backup' || s.kind === 'gke-backup').map((s) => Date.parse(s.finishedAt ?? ''));
    // The application is touched only after both backups were confirmed.
    expect(Date.parse(upgrade?.startedAt ?? '')).toBeGreaterThanOrEqual(Math.max(...backupsDone));
    expect(await f.instance(inst.id)).toMatchObject({ status: 'active', version: '5.5.0', lease: null });
    const audit = await auditOf(inst.id);
    const end = audit.at(-1);
    // Ended by the engine's own poll: the gate after the rollout is the last step.
    expect(end).toMatchObject({ action: 'operation.succeeded', actor: 'system:engine', operationId, causeEventId: envelope.eventId });
    expect(end?.before).toMatchObject({ instance: { version: '5.4.2', status: 'upgrading' } });
    expect(end?.after).toMatchObject({ instance: { version: '5.5.0', status: 'active', lease: null } });
  });

  it('stops before touching the application when a backup fails: active on the old version, failure recorded', async () => {
    const inst = await f.seedInstance();
    f.fleet.gkeBackup.scriptBackupOutcome(inst.resources.backupPlan, 'FAILED', 'volume snapshot quota exceeded');
    const envelope = f.command('instance.upgrade', inst.id, { targetVersion: '5.5.0' });
    await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    const ended = await f.driveToEnd(`op-${envelope.eventId}`);
    expect(ended.status).toBe('failed');
    expect(ended.failure?.step).toBe('gke-backup');
    expect(ended.failure?.reason).toContain('volume snapshot quota exceeded');
    expect(ended.steps.find((s) => s.name === 'upgrade-application')?.status).toBe('pending');
    expect(f.fleet.executor.runs().filter((r) => r.request.instanceId === inst.id)).toHaveLength(0);
    expect(await f.instance(inst.id)).toMatchObject({ status: 'active', version: '5.4.2', lease: null });
    const outbox = await f.store.query({ collection: 'outbox', where: [{ field: 'envelope.instanceId', op: '==', value: inst.id }] });
    expect(outbox).toHaveLength(0); // the operation.failed fact was published, not left behind
    expect((await auditOf(inst.id)).at(-1)).toMatchObject({ action: 'operation.failed' });
  });

  it('a failed application upgrade leaves the instance failed on its old version, for a person to restore', async () => {
    const inst = await f.seedInstance();
    f.fleet.executor.scriptOutcome({ instanceId: inst.id, action: 'upgrade' }, 'failed', 'migration 0042 failed');
    const envelope = f.command('instance.upgrade', inst.id, { targetVersion: '5.5.0' });
    await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    const ended = await f.driveToEnd(`op-${envelope.eventId}`);
    expect(ended).toMatchObject({ status: 'failed', failure: { step: 'upgrade-application' } });
    expect(ended.failure?.reason).toContain('migration 0042 failed');
    // The pre-upgrade backups to restore from are on the operation.
    expect(ended.steps.filter((s) => s.status === 'succeeded').map((s) => s.name)).toEqual(['health-before', 'sql-backup', 'gke-backup']);
    expect(await f.instance(inst.id)).toMatchObject({ status: 'failed', version: '5.4.2', lease: null });
  });

  it.each([
    ['the running version', '5.4.2', 'not-newer'],
    ['an older version', '5.0.0', 'not-newer'],
  ])('refuses %s with code %s, recorded in the ledger and audit, nothing started', async (_label, targetVersion, code) => {
    const inst = await f.seedInstance();
    const envelope = f.command('instance.upgrade', inst.id, { targetVersion });
    const outcome = await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    expect(outcome).toMatchObject({ kind: 'rejected', code });
    expect(await f.operation(`op-${envelope.eventId}`)).toBeUndefined();
    expect(await f.store.get<LedgerEntry>(paths.ledger(envelope.eventId))).toMatchObject({ outcome: 'rejected', code });
    expect(await auditOf(inst.id)).toMatchObject([{ action: 'operation.rejected', code, causeEventId: envelope.eventId, actor: 'alice@example.com' }]);
    expect(await f.instance(inst.id)).toEqual(inst);
  });

  it('refuses an upgrade of an instance that is not active', async () => {
    const inst = await f.seedInstance({ status: 'failed' });
    const outcome = await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(f.command('instance.upgrade', inst.id, { targetVersion: '6.0.0' })));
    expect(outcome).toMatchObject({ kind: 'rejected', code: 'not-active' });
  });
});

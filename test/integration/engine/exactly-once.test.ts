import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../../shared/engine/index.js';
import type { InstanceRecord } from '../../../shared/events/index.js';
import { createEngineFixture, deliverAtLeastOnce, lifecycleDelivery, type EngineFixture } from '../../support/engine-fixture.js';
import { afterCalling, mortalProcess } from '../../support/crash.js';
import { deliver } from '../../../shared/edge.js';
import { executorResultsRoute, lifecycleRoute } from '../../../shared/routes.js';

let f: EngineFixture;
beforeAll(async () => {
  f = await createEngineFixture(import.meta.url);
});
afterAll(async () => {
  await f.close();
});

async function sideEffectsOf(inst: InstanceRecord) {
  const runs = (await f.fleet.cloudSql.listBackupRuns(inst.resources.project, inst.resources.sqlInstance)).items;
  const backups = (await f.fleet.gkeBackup.listBackups(inst.resources.backupPlan)).items;
  const executorRuns = f.fleet.executor.runs().filter((r) => r.request.instanceId === inst.id);
  return { sqlRuns: runs.length, gkeBackups: backups.length, executorRuns: executorRuns.length };
}

async function operationsOf(instanceId: string) {
  return f.store.query({ collection: 'operations', where: [{ field: 'instanceId', op: '==', value: instanceId }] });
}

describe('redelivery', () => {
  it('the same event delivered three times at once gives one operation, one backup run and one GKE backup', async () => {
    const inst = await f.seedInstance();
    const envelope = f.command('instance.backup', inst.id, {});
    // Pub/Sub redelivers the same message id; a publisher retry would give a new one. Both.
    const outcomes = await Promise.all([
      deliverAtLeastOnce(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope, '1001')),
      deliverAtLeastOnce(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope, '1001')),
      deliverAtLeastOnce(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope, '2002')),
    ]);
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['accepted', 'duplicate', 'duplicate']);
    const ended = await f.driveToEnd(`op-${envelope.eventId}`);
    expect(ended.status).toBe('succeeded');
    expect(await operationsOf(inst.id)).toHaveLength(1);
    expect(await sideEffectsOf(inst)).toEqual({ sqlRuns: 1, gkeBackups: 1, executorRuns: 0 });
    // Delivered again after the end: still nothing new.
    expect((await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope, '3003'))).kind).toBe('duplicate');
    expect(await sideEffectsOf(inst)).toEqual({ sqlRuns: 1, gkeBackups: 1, executorRuns: 0 });
  });

  it('an executor result delivered twice moves the operation once', async () => {
    const inst = await f.seedInstance();
    const envelope = f.command('instance.upgrade', inst.id, { targetVersion: '5.6.0' });
    await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    const operationId = `op-${envelope.eventId}`;
    // Backups finish; the upgrade run starts.
    for (let i = 0; i < 10 && (await f.operation(operationId))?.steps.find((s) => s.name === 'upgrade-application')?.status !== 'running'; i += 1) {
      f.clock.advance(10_000);
      await f.engine.reconcile({ outboxGraceMs: 0 });
    }
    f.clock.advance(120_000);
    const finished = await f.fleet.executor.finishDue();
    const run = finished.find((r) => r.instanceId === inst.id);
    expect(run).toBeDefined();
    const { finishedEnvelope } = await import('../../../shared/sim/executor-runner.js');
    const { pubSubCloudEvent } = await import('../../../harness/cloud-event.js');
    const result = finishedEnvelope(run!, 'system:executor-sim');
    const delivery = pubSubCloudEvent(result, { topic: 'mi-executor-results' });
    const results = await Promise.all([deliverAtLeastOnce(f.engine.deps, executorResultsRoute(f.engine), delivery), deliverAtLeastOnce(f.engine.deps, executorResultsRoute(f.engine), delivery)]);
    expect(results.map((r) => r.kind).sort()).toEqual(['duplicate', 'recorded']);
    // The result is in the ledger once, as every delivered message is.
    expect(await f.store.get(`processedEvents/${result.eventId}`)).toMatchObject({ outcome: 'accepted', eventType: 'executor.run-finished', operationId });
    // Then the gate after the rollout passes, and the operation ends once.
    expect((await f.driveToEnd(operationId)).status).toBe('succeeded');
    const audit = await f.store.query<AuditRecord>({ collection: 'audit', where: [{ field: 'operationId', op: '==', value: operationId }] });
    expect(audit.filter((a) => a.data.action === 'step.succeeded' && (a.data.after as { step?: string } | undefined)?.step === 'upgrade-application')).toHaveLength(1);
    expect(audit.filter((a) => a.data.action === 'operation.succeeded')).toHaveLength(1);
    expect(await f.instance(inst.id)).toMatchObject({ version: '5.6.0', lease: null });
  });
});

describe('a crash between a side effect and the write that records it', () => {
  it.each([
    ['the Cloud SQL backup run insert', 'cloudSql', 'insertBackupRun'],
    ['the GKE backup create', 'gkeBackup', 'createBackup'],
    ['the executor run request', 'executor', 'requestRun'],
  ] as const)('after %s: the reconciler finishes the operation with no duplicate side effect', async (_label, port, method) => {
    const inst = await f.seedInstance();
    const proc = mortalProcess(f.store, f.bus);
    const crashing = f.engineWith({
      store: proc.store,
      bus: proc.bus,
      [port]: afterCalling(f.fleet[port] as object, method as never, () => proc.kill()),
    });
    const envelope = f.command('instance.upgrade', inst.id, { targetVersion: '5.5.0' });
    const operationId = `op-${envelope.eventId}`;
    await deliver(crashing.deps, lifecycleRoute(crashing), lifecycleDelivery(envelope));
    // The process that accepted keeps reconciling until it dies at the side effect.
    for (let i = 0; i < 20 && !proc.dead; i += 1) {
      f.clock.advance(10_000);
      await f.deliverExecutorResults(crashing).catch(() => undefined);
      await crashing.reconcile({ outboxGraceMs: 0 }).catch(() => undefined);
    }
    expect(proc.dead).toBe(true);
    const leftBehind = await f.operation(operationId);
    expect(leftBehind?.status).toBe('running');
    expect(leftBehind?.steps.some((s) => s.status === 'starting')).toBe(true);

    // Another process takes over once the claim has expired.
    const ended = await f.driveToEnd(operationId);
    expect(ended.status).toBe('succeeded');
    expect(await sideEffectsOf(inst)).toEqual({ sqlRuns: 1, gkeBackups: 1, executorRuns: 1 });
    expect(await f.instance(inst.id)).toMatchObject({ status: 'active', version: '5.5.0', lease: null });
  });

  it('an answer lost after the backup run was inserted does not insert a second run', async () => {
    const inst = await f.seedInstance();
    f.fleet.cloudSql.faults.inject({ method: 'insertBackupRun', error: { httpStatus: 503 }, afterEffect: true, target: `${inst.resources.project}/${inst.resources.sqlInstance}` });
    const envelope = f.command('instance.backup', inst.id, {});
    await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    const ended = await f.driveToEnd(`op-${envelope.eventId}`);
    expect(ended.status).toBe('succeeded');
    expect(ended.steps[0]?.attempts).toBe(2);
    expect(await sideEffectsOf(inst)).toEqual({ sqlRuns: 1, gkeBackups: 1, executorRuns: 0 });
  });

  it('Cloud SQL busy with another operation (409) is retried later, not failed', async () => {
    const inst = await f.seedInstance();
    f.fleet.cloudSql.startOperation(inst.resources.project, inst.resources.sqlInstance, { operationType: 'UPDATE', durationMs: 25_000 });
    const envelope = f.command('instance.backup', inst.id, {});
    await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    const first = await f.operation(`op-${envelope.eventId}`);
    expect(first?.steps[0]).toMatchObject({ status: 'pending', attempts: 1 });
    expect(first?.steps[0]?.error).toMatch(/another operation/i);
    const ended = await f.driveToEnd(`op-${envelope.eventId}`);
    expect(ended.status).toBe('succeeded');
    expect(await sideEffectsOf(inst)).toEqual({ sqlRuns: 1, gkeBackups: 1, executorRuns: 0 });
  });
});

describe('conflicting commands on one instance', () => {
  it('an upgrade and a backup delivered together, 20 times: one holds the lease, the other is rejected busy', async () => {
    for (let round = 0; round < 20; round += 1) {
      const inst = await f.seedInstance();
      const upgrade = f.command('instance.upgrade', inst.id, { targetVersion: '5.5.0' });
      const backup = f.command('instance.backup', inst.id, {});
      const outcomes = await Promise.all([
        deliverAtLeastOnce(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(upgrade)),
        deliverAtLeastOnce(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(backup)),
      ]);
      expect(outcomes.map((o) => o.kind).sort()).toEqual(['accepted', 'rejected']);
      const operations = await operationsOf(inst.id);
      expect(operations).toHaveLength(1);
      const holder = (await f.instance(inst.id))?.lease?.operationId;
      expect(holder).toBe(operations[0]?.id);
      const audit = await f.store.query<AuditRecord>({ collection: 'audit', where: [{ field: 'instanceId', op: '==', value: inst.id }] });
      const rejected = audit.filter((a) => a.data.action === 'operation.rejected');
      expect(rejected).toHaveLength(1);
      expect(rejected[0]?.data).toMatchObject({ code: 'busy' });
      const loser = holder === `op-${upgrade.eventId}` ? backup : upgrade;
      expect(rejected[0]?.data.causeEventId).toBe(loser.eventId);
    }
    // The emulator aborts both contending commits and the client backs off before retrying.
  }, 180_000);
});

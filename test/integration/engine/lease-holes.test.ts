/**
 * A step whose side effect may have started is in flight until its service says otherwise.
 * Each case below was a way for an operation to release its instance's lease while work it
 * had started still ran (or could still start) on the instance, so a second operation could
 * be accepted on it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message, Subscription } from '@google-cloud/pubsub';
import type { OperationRecord } from '../../../shared/domain/lifecycle/operations.js';
import { createOnceOutbox } from '../../../shared/store/outbox.js';
import type { InstanceRecord } from '../../../shared/events/index.js';
import { createExecutorAdapter } from '../../../shared/gcp/executor.js';
import type { ExecutorPort, SqlOperation } from '../../../shared/ports.js';
import { DEFAULT_RUNNER_SUBSCRIPTION, startExecutorRunner } from '../../../shared/sim/executor-runner.js';
import { TOPICS } from '../../../shared/topology.js';
import { afterCalling, mortalProcess } from '../../support/crash.js';
import { createEngineFixture, lifecycleDelivery, type EngineFixture } from '../../support/engine-fixture.js';
import { deliver } from '../../../shared/edge.js';
import { lifecycleRoute } from '../../../shared/routes.js';

let f: EngineFixture;
/** Cloud SQL queues a restore for six hours: past the restore's four-hour deadline. */
let slow: EngineFixture;
beforeAll(async () => {
  f = await createEngineFixture(import.meta.url);
  slow = await createEngineFixture(import.meta.url, { suffix: 'slow-sql', sqlDurations: { operationQueuedMs: 6 * 3_600_000 } });
});
afterAll(async () => {
  await f.close();
  await slow.close();
});

async function withBackups(fx: EngineFixture) {
  const inst = await fx.seedInstance();
  const envelope = fx.command('instance.backup', inst.id, {});
  await deliver(fx.engine.deps, lifecycleRoute(fx.engine), lifecycleDelivery(envelope));
  const backup = await fx.driveToEnd(`op-${envelope.eventId}`);
  expect(backup.status).toBe('succeeded');
  return { inst, sqlRunId: String(backup.result?.['sql-backup.backupRunId']), gkeBackup: String(backup.result?.['gke-backup.gkeBackup']) };
}

async function restoreOperations(fx: EngineFixture, inst: InstanceRecord): Promise<SqlOperation[]> {
  const page = await fx.fleet.cloudSql.listOperations(inst.resources.project, inst.resources.sqlInstance, { maxResults: 100 });
  return page.items.filter((o) => o.operationType === 'RESTORE_VOLUME');
}

/** Moves the clock and reconciles until `done` holds for the operation (or rounds run out). */
async function driveUntil(fx: EngineFixture, operationId: string, done: (op: OperationRecord) => boolean, stepMs = 10_000): Promise<OperationRecord> {
  for (let round = 0; round < 40; round += 1) {
    const op = await fx.operation(operationId);
    if (op && done(op)) return op;
    fx.clock.advance(stepMs);
    await fx.deliverExecutorResults();
    await fx.engine.reconcile({ outboxGraceMs: 0 });
  }
  throw new Error(`operation ${operationId} never reached the expected state`);
}

const step = (op: OperationRecord, name: string) => op.steps.find((s) => s.name === name);

describe('a call that took effect but answered with a retryable error', () => {
  it('keeps the restore in flight, and the lease held, while Cloud SQL runs it, though another step failed', async () => {
    const { inst, sqlRunId, gkeBackup } = await withBackups(f);
    f.fleet.cloudSql.faults.inject({ method: 'restoreBackup', target: `${inst.resources.project}/${inst.resources.sqlInstance}`, afterEffect: true, error: { httpStatus: 504 } });
    f.fleet.gkeBackup.faults.inject({ method: 'createRestore', error: { httpStatus: 400, message: 'namespace conflict' } });
    const envelope = f.command('instance.restore', inst.id, { source: { kind: 'backup', cloudSqlBackupRunId: sqlRunId, gkeBackup } });
    const operationId = `op-${envelope.eventId}`;
    await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));

    const failing = await driveUntil(f, operationId, (op) => step(op, 'restore-gke')?.status === 'failed');
    expect((await restoreOperations(f, inst)).map((o) => o.status)).not.toContain('DONE');
    expect(failing.status).toBe('running');
    expect(step(failing, 'restore-sql')).toMatchObject({ mayHaveStarted: true });
    expect((await f.instance(inst.id))?.lease?.operationId).toBe(operationId);
    await expect(deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(f.command('instance.backup', inst.id, {})))).resolves.toMatchObject({ kind: 'rejected', code: 'busy' });

    // Only once Cloud SQL says the restore is done does the operation end and free the instance.
    const ended = await f.driveToEnd(operationId, { stepMs: 30_000 });
    expect(ended).toMatchObject({ status: 'failed', failure: { step: 'restore-gke' } });
    expect((await restoreOperations(f, inst)).map((o) => o.status)).toEqual(['DONE']);
    expect((await f.instance(inst.id))?.lease).toBeNull();
  });
});

describe('a poll that cannot be answered is not the service\'s word', () => {
  it('a refused read of a GKE backup (a permission lost) fails the step, but the lease stays until Backup for GKE says it ended', async () => {
    const inst = await f.seedInstance();
    f.fleet.gkeBackup.faults.inject({ method: 'getBackup', error: { httpStatus: 403, message: 'permission denied' } });
    const envelope = f.command('instance.backup', inst.id, {});
    const operationId = `op-${envelope.eventId}`;
    await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    const failing = await driveUntil(f, operationId, (op) => step(op, 'gke-backup')?.status === 'failed');
    const backup = await f.fleet.gkeBackup.getBackup(String(step(failing, 'gke-backup')?.handles.gkeBackup));
    expect(['CREATING', 'IN_PROGRESS']).toContain(backup?.state);
    expect(failing.status).toBe('running');
    expect((await f.instance(inst.id))?.lease?.operationId).toBe(operationId);

    const ended = await f.driveToEnd(operationId);
    expect(ended).toMatchObject({ status: 'failed', failure: { step: 'gke-backup' } });
    expect((await f.fleet.gkeBackup.getBackup(String(backup?.name)))?.state).toBe('SUCCEEDED');
    expect((await f.instance(inst.id))?.lease).toBeNull();
  });
});

describe('a stuck operation is released only on its services\' word', () => {
  it('a crash right after restoreBackup, before its handle was written: Cloud SQL is asked, and the queued restore keeps the lease', async () => {
    const { inst, sqlRunId } = await withBackups(slow);
    const proc = mortalProcess(slow.store, slow.bus);
    const crashing = slow.engineWith({ store: proc.store, bus: proc.bus, cloudSql: afterCalling(slow.fleet.cloudSql, 'restoreBackup', () => proc.kill()) });
    const envelope = slow.command('instance.restore', inst.id, { source: { kind: 'backup', cloudSqlBackupRunId: sqlRunId } });
    const operationId = `op-${envelope.eventId}`;
    await deliver(crashing.deps, lifecycleRoute(crashing), lifecycleDelivery(envelope));
    for (let i = 0; i < 20 && !proc.dead; i += 1) {
      slow.clock.advance(10_000);
      await crashing.reconcile({ outboxGraceMs: 0 }).catch(() => undefined);
    }
    expect(proc.dead).toBe(true);
    const left = await slow.operation(operationId);
    expect(step(left!, 'restore-sql')).toMatchObject({ status: 'starting', handles: {} });

    // Past the deadline, with the restore still queued at Cloud SQL.
    slow.clock.advance(4 * 3_600_000 + 60_000);
    const listed = slow.fleet.cloudSql.calls('listOperations');
    await slow.engine.reconcile({ outboxGraceMs: 0 });
    expect(await slow.operation(operationId)).toMatchObject({ status: 'stuck' });
    expect(slow.fleet.cloudSql.calls('listOperations')).toBeGreaterThan(listed);
    expect((await restoreOperations(slow, inst)).map((o) => o.status)).toEqual(['PENDING']);
    expect((await slow.instance(inst.id))?.lease?.operationId).toBe(operationId);

    // The restore runs and ends: now nothing is in flight, and the lease goes.
    slow.clock.advance(2 * 3_600_000 + 10 * 60_000);
    await slow.engine.reconcile({ outboxGraceMs: 0 });
    expect((await restoreOperations(slow, inst)).map((o) => o.status)).toEqual(['DONE']);
    expect(await slow.operation(operationId)).toMatchObject({ status: 'failed' });
    expect((await slow.instance(inst.id))?.lease).toBeNull();
  });

  it('a Cloud SQL operation that is PENDING (queued behind a busy instance) is not idle', async () => {
    const { inst, sqlRunId, gkeBackup } = await withBackups(slow);
    slow.fleet.gkeBackup.faults.inject({ method: 'createRestore', error: { httpStatus: 400, message: 'namespace conflict' } });
    const envelope = slow.command('instance.restore', inst.id, { source: { kind: 'backup', cloudSqlBackupRunId: sqlRunId, gkeBackup } });
    const operationId = `op-${envelope.eventId}`;
    await deliver(slow.engine.deps, lifecycleRoute(slow.engine), lifecycleDelivery(envelope));
    const running = await driveUntil(slow, operationId, (op) => step(op, 'restore-sql')?.status === 'running' && step(op, 'restore-gke')?.status === 'failed');
    expect(step(running, 'restore-sql')?.handles.sqlOperation).toBeDefined();

    slow.clock.advance(4 * 3_600_000 + 60_000);
    await slow.engine.reconcile({ outboxGraceMs: 0 });
    await slow.engine.reconcile({ outboxGraceMs: 0 });
    expect((await restoreOperations(slow, inst)).map((o) => o.status)).toEqual(['PENDING']);
    expect(await slow.operation(operationId)).toMatchObject({ status: 'stuck' });
    expect((await slow.instance(inst.id))?.lease?.operationId).toBe(operationId);
  });
});

describe('an executor run that the runner has not taken up', () => {
  let counter: Subscription;
  const requests: string[] = [];
  beforeAll(async () => {
    // The runner's own subscription exists (messages wait there while it is down), and a
    // second one counts what is published.
    await f.pubsub.topic(TOPICS.executorRequests).createSubscription(DEFAULT_RUNNER_SUBSCRIPTION);
    [counter] = await f.pubsub.topic(TOPICS.executorRequests).createSubscription(`count-${Date.now()}`);
    counter.on('message', (message: Message) => {
      requests.push((JSON.parse(message.data.toString()) as { payload: { runKey: string } }).payload.runKey);
      message.ack();
    });
  });
  afterAll(async () => {
    await counter.close();
  });

  /** The production executor adapter: requests through the outbox on the real topic; status read from the simulator. */
  function executorOnTopics(): ExecutorPort {
    const adapter = createExecutorAdapter({ outbox: createOnceOutbox({ store: f.store, bus: f.bus, clock: f.clock, log: f.engine.deps.log }), statusUrl: 'http://127.0.0.1/unused' });
    return { requestRun: (request) => adapter.requestRun(request), getRunStatus: (runKey) => f.fleet.executor.getRunStatus(runKey) };
  }

  it('is requested once, keeps the lease until the runner must refuse it, and is refused when the runner comes back', async () => {
    const inst = await f.seedInstance();
    const engine = f.engineWith({ executor: executorOnTopics() });
    const envelope = f.command('instance.upgrade', inst.id, { targetVersion: '5.5.0' });
    const operationId = `op-${envelope.eventId}`;
    await deliver(engine.deps, lifecycleRoute(engine), lifecycleDelivery(envelope));
    const runKey = `${operationId}:upgrade-application`;

    // The runner is down: the backups finish, the upgrade is asked for, polled for 10 minutes.
    for (let i = 0; i < 60; i += 1) {
      f.clock.advance(10_000);
      await engine.reconcile({ outboxGraceMs: 0 });
    }
    const waiting = await f.operation(operationId);
    expect(step(waiting!, 'upgrade-application')?.status).toBe('running');
    expect((await f.instance(inst.id))?.lease?.operationId).toBe(operationId);
    await expect.poll(() => requests.filter((k) => k === runKey).length, { timeout: 5_000 }).toBe(1);

    // Past the time the runner must refuse it, "unknown" means never started: the step fails.
    f.clock.advance(6 * 60_000);
    await engine.reconcile({ outboxGraceMs: 0 });
    const ended = await f.operation(operationId);
    expect(ended).toMatchObject({ status: 'failed', failure: { step: 'upgrade-application' } });
    expect(ended?.failure?.reason).toMatch(/never took up run .* refuses the request since/);
    expect((await f.instance(inst.id))?.lease).toBeNull();
    expect(requests.filter((k) => k === runKey)).toHaveLength(1);

    // The runner comes back and finds the one request waiting: it refuses it, nothing runs.
    const runner = await startExecutorRunner({ pubsub: f.pubsub, executor: f.fleet.executor, intervalMs: 60_000, onError: () => undefined });
    try {
      await expect.poll(() => f.fleet.executor.refusedRequests().map((r) => r.runKey), { timeout: 10_000 }).toContain(runKey);
      expect(f.fleet.executor.runs().filter((r) => r.request.runKey === runKey)).toHaveLength(0);
    } finally {
      await runner.stop();
    }
  });
});

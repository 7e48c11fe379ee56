import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../../shared/engine/index.js';
import { createEngineFixture, lifecycleDelivery, type EngineFixture } from '../../support/engine-fixture.js';
import { OPERATOR, closeCommands, mi, openCommands } from './support.js';
import { deliver } from '../../../shared/edge.js';
import { lifecycleRoute } from '../../../shared/routes.js';

let f: EngineFixture;

beforeAll(async () => {
  f = await createEngineFixture(import.meta.url);
  await openCommands(f);
});

afterAll(async () => {
  await closeCommands();
  await f.close();
});

/** An upgrade whose application run hangs, driven past its deadline: stuck, its lease held. */
async function stuckUpgrade(): Promise<{ instanceId: string; operationId: string }> {
  const inst = await f.seedInstance();
  f.fleet.executor.scriptHang({ instanceId: inst.id, action: 'upgrade' });
  const envelope = f.command('instance.upgrade', inst.id, { targetVersion: '5.5.0' });
  await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
  const operationId = `op-${envelope.eventId}`;
  for (let round = 0; round < 30; round += 1) {
    const op = await f.operation(operationId);
    if (op?.steps.find((s) => s.name === 'upgrade-application')?.status === 'running') break;
    f.clock.advance(10_000);
    await f.deliverExecutorResults();
    await f.engine.reconcile({ outboxGraceMs: 0 });
  }
  f.clock.advance(5 * 3_600_000);
  await f.engine.reconcile({ outboxGraceMs: 0 });
  const op = await f.operation(operationId);
  expect(op?.status).toBe('stuck');
  expect((await f.instance(inst.id))?.lease?.operationId).toBe(operationId);
  return { instanceId: inst.id, operationId };
}

describe('mi op get', () => {
  it('shows an operation, its steps and what each started', async () => {
    const inst = await f.seedInstance();
    const envelope = f.command('instance.backup', inst.id, {});
    await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    const ended = await f.driveToEnd(`op-${envelope.eventId}`);
    const run = await mi(f.projectId, ['op', 'get', ended.id]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(new RegExp(`^id:\\s+${ended.id}$`, 'm'));
    expect(run.stdout).toMatch(/^status:\s+succeeded$/m);
    expect(run.stdout).toMatch(/^STEP\s+STATUS\s+ATTEMPTS\s+STARTED\s+FINISHED\s+DETAIL$/m);
    expect(run.stdout).toMatch(/^sql-backup\s+succeeded\s+1\s+\S+\s+\S+\s+.*backupRunId \d+/m);
    expect(run.stdout).toMatch(/^gke-backup\s+succeeded\s+1\s+.*gkeBackup projects\//m);
    // The instance lists it among its recent operations.
    const instance = await mi(f.projectId, ['instance', 'get', inst.id]);
    expect(instance.stdout).toMatch(new RegExp(`^\\s+${ended.id}\\s+backup\\s+succeeded`, 'm'));
  });

  it('--json prints the operation document as stored', async () => {
    const inst = await f.seedInstance();
    const envelope = f.command('instance.backup', inst.id, {});
    await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    const run = await mi(f.projectId, ['op', 'get', `op-${envelope.eventId}`, '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(await f.operation(`op-${envelope.eventId}`));
    await f.driveToEnd(`op-${envelope.eventId}`);
  });

  it('an unknown operation exits 2', async () => {
    const run = await mi(f.projectId, ['op', 'get', 'op-nothing']);
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toContain('no operation op-nothing');
    const bad = await mi(f.projectId, ['op', 'get', 'a/b']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('<operation>: expected an operation id');
  });
});

describe('mi op abandon', () => {
  it('abandons a stuck operation: lease released, recorded with who and why', async () => {
    const { instanceId, operationId } = await stuckUpgrade();
    const why = 'runner host lost; checked the cluster by hand';
    const run = await mi(f.projectId, ['op', 'abandon', operationId, '--reason', why]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain(`abandoned upgrade ${operationId} on ${instanceId}, recorded as by ${OPERATOR}: ${why}`);
    // The application run had started, so the instance may be half-upgraded: failed, for a person.
    expect(run.stdout).toContain(`lease released; ${instanceId} is failed`);
    const op = await f.operation(operationId);
    expect(op).toMatchObject({ status: 'abandoned', abandoned: { by: OPERATOR, why } });
    expect(await f.instance(instanceId)).toMatchObject({ lease: null, status: 'failed' });
    const audit = await f.store.query<AuditRecord>({ collection: 'audit', where: [{ field: 'operationId', op: '==', value: operationId }] });
    expect(audit.map((a) => a.data)).toContainEqual(expect.objectContaining({ action: 'operation.abandoned', actor: OPERATOR, why }));
    const show = await mi(f.projectId, ['op', 'get', operationId]);
    expect(show.stdout).toMatch(new RegExp(`^abandoned:\\s+by ${OPERATOR} at \\S+: ${why}$`, 'm'));
  });

  it('refuses an operation that is not stuck, and one that does not exist', async () => {
    const inst = await f.seedInstance();
    const envelope = f.command('instance.backup', inst.id, {});
    await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    const running = await mi(f.projectId, ['op', 'abandon', `op-${envelope.eventId}`, '--reason', 'impatient']);
    expect(running.code).toBe(2);
    expect(running.stderr).toContain('is running; only a stuck operation can be released or abandoned');
    expect((await f.operation(`op-${envelope.eventId}`))?.status).toBe('running');
    await f.driveToEnd(`op-${envelope.eventId}`);
    const missing = await mi(f.projectId, ['op', 'abandon', 'op-nothing', '--reason', 'x']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no operation op-nothing');
  });

  it('needs a reason', async () => {
    const run = await mi(f.projectId, ['op', 'abandon', 'op-anything']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("required option '--reason <text>' not specified");
  });
});

describe('mi op list and mi audit', () => {
  it('lists operations newest first, by instance (or the folder mi stands in), status and type, and shows an instance\'s trail oldest first', async () => {
    const a = await f.seedInstance();
    const b = await f.seedInstance();
    const backup = f.command('instance.backup', a.id, {});
    const upgrade = f.command('instance.upgrade', b.id, { targetVersion: '5.5.0' });
    for (const envelope of [backup, upgrade]) {
      await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
      await f.driveToEnd(`op-${envelope.eventId}`);
    }
    const ofA = JSON.parse((await mi(f.projectId, ['op', 'list', a.id, '--json'])).stdout) as Array<{ id: string; instanceId: string }>;
    expect(ofA.map((o) => o.id)).toEqual([`op-${backup.eventId}`]);
    const here = JSON.parse((await mi(f.projectId, ['op', 'list', '--json'], { cwd: `/src/deployments/environments/prod/deployments/${b.id}` })).stdout) as Array<{ id: string }>;
    expect(here.map((o) => o.id)).toEqual([`op-${upgrade.eventId}`]);
    const upgrades = JSON.parse((await mi(f.projectId, ['op', 'list', '--type', 'upgrade', '--limit', '500', '--json'])).stdout) as Array<{ id: string; type: string }>;
    expect(upgrades.map((o) => o.id)).toContain(`op-${upgrade.eventId}`);
    expect(upgrades.every((o) => o.type === 'upgrade')).toBe(true);
    // The fixture's clock stands days before now: nothing of it is within the last hour.
    const lastHour = JSON.parse((await mi(f.projectId, ['op', 'list', '--type', 'upgrade', '--since', '1h', '--json'])).stdout) as Array<{ id: string }>;
    expect(lastHour.map((o) => o.id)).not.toContain(`op-${upgrade.eventId}`);
    const succeeded = JSON.parse((await mi(f.projectId, ['op', 'list', '--status', 'succeeded', '--limit', '500', '--json'])).stdout) as Array<{ id: string; createdAt: string }>;
    expect(succeeded.map((o) => o.id)).toEqual(expect.arrayContaining([`op-${backup.eventId}`, `op-${upgrade.eventId}`]));
    expect([...succeeded].sort((x, y) => y.createdAt.localeCompare(x.createdAt))).toEqual(succeeded);
    const text = await mi(f.projectId, ['op', 'list', a.id]);
    expect(text.stdout).toMatch(new RegExp(`^op-${backup.eventId}\\s+${a.id}\\s+backup\\s+succeeded\\s+alice@example.com`, 'm'));
    const wide = await mi(f.projectId, ['op', 'list', a.id, '-o', 'wide']);
    expect(wide.stdout).toMatch(/^OPERATION\s+INSTANCE\s+TYPE\s+STATUS\s+ACTOR\s+ORIGIN\s+CREATED\s+FINISHED\s+REASON\s+FAILURE\s+FAN-OUT$/m);
    expect(wide.stdout).toMatch(new RegExp(`^op-${backup.eventId}\\s+${a.id}\\s+backup\\s+succeeded\\s+.*integration test\\s+-\\s+-$`, 'm'));
    const refusedType = await mi(f.projectId, ['op', 'list', '--type', 'resize']);
    expect([refusedType.code, refusedType.stderr]).toEqual([2, expect.stringContaining('--type: expected one of create, upgrade')]);

    const trail = JSON.parse((await mi(f.projectId, ['audit', a.id, '--json'])).stdout) as Array<{ action: string; at: string; instanceId: string }>;
    expect(trail[0]?.action).toBe('operation.accepted');
    expect(trail.every((e) => e.instanceId === a.id)).toBe(true);
    expect([...trail].sort((x, y) => x.at.localeCompare(y.at))).toEqual(trail);
    const ofOp = JSON.parse((await mi(f.projectId, ['audit', '--op', `op-${upgrade.eventId}`, '--json'])).stdout) as Array<{ operationId: string }>;
    expect(ofOp.length).toBeGreaterThan(0);
    expect(ofOp.every((e) => e.operationId === `op-${upgrade.eventId}`)).toBe(true);
    const table = await mi(f.projectId, ['audit', a.id]);
    expect(table.stdout).toMatch(/^AT\s+WHO\s+ORIGIN\s+ACTION/m);
    const neither = await mi(f.projectId, ['audit'], { cwd: '/tmp' });
    expect([neither.code, neither.stderr]).toEqual([2, 'mi: give an instance id, or run mi inside its folder of the deployment repository (environments/<env>/deployments/<id>), or --op <operation>\n']);
  });
});

/**
 * The local stack as a place to rehearse a bad day, on the harness's emulators:
 *
 * - a crash: `mi dev` (a child process) is killed with SIGKILL while an upgrade's and an
 *   on-demand backup's backups run, started again on the same emulators, and both finish, each
 *   with one Cloud SQL backup run and one GKE backup (the upgrade with one build), because the
 *   simulated fleet kept its state in the emulator;
 * - faults injected with `mi dev fault` through the simulators' own APIs: a Cloud SQL backup
 *   that fails makes the next upgrade fail at its backup step, before the application is
 *   touched, the Slack stand-in prints the failure once, and `mi op list --status failed`
 *   finds it; bad arguments are refused with what is accepted; faults are listed and cleared;
 * - the local clock: a rollout started on the stack records the shortened soaks its ticks use
 *   and the local calendar its customers' windows are read on (each opens within ten minutes),
 *   its dry run expects it to finish within minutes, and the restore drill runs on the local week.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PubSub } from '@google-cloud/pubsub';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../../cli/main.js';
import { startLocalStack, type LocalStack } from '../../../cli/dev/stack.js';
import { LOCAL_SOAK_SCALE, LOCAL_TIME_SPEEDUP, LOCAL_WINDOW_CLOCK } from '../../../cli/dev/local-time.js';
import type { OperationRecord } from '../../../shared/domain/lifecycle/operations.js';
import { DEFAULT_WAVES, type InstanceProgress, type RolloutForecast, type RolloutRecord } from '../../../shared/domain/rollout/index.js';
import { makeEnvelope, type InstanceRecord } from '../../../shared/events/index.js';
import { createFirestore, createFirestoreStore } from '../../../shared/gcp/firestore-store.js';
import { createPubSubBus } from '../../../shared/gcp/pubsub-bus.js';
import { resourceNamesFor } from '../../../shared/sim/index.js';
import { paths, rolloutPaths } from '../../../shared/store/collections.js';
import { TOPICS } from '../../../shared/topology.js';
import { until } from '../../support/until.js';
import { projectIdFor } from '../../support/project.js';

const projectId = projectIdFor(import.meta.url);
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));


describe('mi dev: a crash mid-operation, injected faults, the local clock', () => {
  const lines: string[] = [];
  const firestore = createFirestore(projectId);
  const store = createFirestoreStore({ firestore });
  const scratch = mkdtempSync(join(tmpdir(), 'mi-dev-crash-'));
  const identityFile = join(scratch, 'identity.json');
  const env = {
    ...process.env,
    FIRESTORE_EMULATOR_HOST: inject('firestoreHost'),
    PUBSUB_EMULATOR_HOST: inject('pubsubHost'),
    MI_DEV_IDENTITY_FILE: identityFile,
    MI_DEV_DEPLOYMENT_REPO: join(scratch, 'repo'),
  };
  const saved = { repo: process.env.MI_DEV_DEPLOYMENT_REPO };
  let child: ChildProcess | undefined;
  let stack: LocalStack | undefined;

  const mi = async (args: readonly string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['--project', projectId, '--as', 'alice@example.com', ...args], { stdout: { write: (t) => out.push(t) }, stderr: { write: (t) => err.push(t) }, env });
    return { code, stdout: out.join(''), stderr: err.join('') };
  };
  const operation = (id: string) => store.get<OperationRecord>(paths.operation(id));
  const ended = (id: string, timeoutMs: number) =>
    until(`operation ${id} to end`, async () => {
      const op = await operation(id);
      return op !== undefined && op.status !== 'running' && op.status !== 'accepted' ? op : undefined;
    }, timeoutMs).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\nstack log:\n${lines.slice(-60).join('\n')}`, { cause: error });
    });

  beforeAll(() => {
    process.env.MI_DEV_DEPLOYMENT_REPO = env.MI_DEV_DEPLOYMENT_REPO;
  });

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await stack?.stop();
    await firestore.terminate();
    if (saved.repo === undefined) delete process.env.MI_DEV_DEPLOYMENT_REPO;
    else process.env.MI_DEV_DEPLOYMENT_REPO = saved.repo;
    rmSync(scratch, { recursive: true, force: true });
  });

  it('an upgrade and a backup whose mi dev is killed while their backups run finish after mi dev starts again, each with one backup of each kind (and the upgrade one build)', async () => {
    // The first mi dev: a process of its own, killed for real.
    child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { runDev } from './cli/dev/stack.ts'; await runDev({ projectId: '${projectId}' });`], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child?.once('exit', (_code, signal) => resolve(signal)));
    await until('the first mi dev to be ready', () => (stdout.includes('Ctrl-C stops everything') ? true : undefined), 60_000).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${stdout}`, { cause: error });
    });

    // Two operations in flight at the crash: an upgrade and an on-demand backup, on two instances.
    const upgraded = await store.get<InstanceRecord>(paths.instance('cus-globex'));
    const backedUp = await store.get<InstanceRecord>(paths.instance('cus-initech'));
    if (upgraded === undefined || backedUp === undefined) throw new Error('cus-globex and cus-initech were not seeded');
    const targetVersion = semver.inc(upgraded.version, 'minor') ?? '5.5.0';
    const upgrade = makeEnvelope({ type: 'instance.upgrade', instanceId: upgraded.id, payload: { targetVersion }, actor: 'crash@example.com', reason: 'killed mid-operation' });
    const backup = makeEnvelope({ type: 'instance.backup', instanceId: backedUp.id, payload: { note: 'killed mid-operation' }, actor: 'crash@example.com', reason: 'killed mid-operation' });
    const bus = createPubSubBus({ pubsub: new PubSub({ projectId }) });
    try {
      await bus.publish(TOPICS.lifecycle, upgrade);
      await bus.publish(TOPICS.lifecycle, backup);
    } finally {
      await bus.close();
    }
    const operationIds = [`op-${upgrade.eventId}`, `op-${backup.eventId}`];

    // Every backup started and recorded by the engine, none finished: the crash comes now.
    const inFlight = await until('the backups of both operations to be running', async () => {
      const ops = await Promise.all(operationIds.map(operation));
      const running = ops.every((op) => ['sql-backup', 'gke-backup'].every((name) => op?.steps.find((s) => s.name === name)?.status === 'running'));
      return running ? ops : undefined;
    }, 30_000);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    child = undefined;

    // The second mi dev, on the same emulators (in process, so the test can read its simulators).
    stack = await startLocalStack({ projectId, identityFile, log: (line) => lines.push(line) });
    expect(stack.startedEmulators).toEqual([]);
    expect(lines.some((line) => line.includes('found in') && line.includes('an earlier mi dev'))).toBe(true);

    for (const operationId of operationIds) {
      const done = await ended(operationId, 120_000);
      expect({ operationId, status: done.status, failure: done.failure }).toMatchObject({ status: 'succeeded' });
    }
    expect((await store.get<InstanceRecord>(paths.instance(upgraded.id)))?.version).toBe(targetVersion);
    expect(stack.fleet.cloudBuild.buildsOf(`${operationIds[0] ?? ''}:upgrade-application`)).toBe(1);

    // The backups the crashed process started are the ones each operation confirmed: one of each kind.
    for (const [index, instance] of [upgraded, backedUp].entries()) {
      const names = resourceNamesFor(instance.id, instance.region);
      const runs = (await stack.fleet.cloudSql.listBackupRuns(names.project, names.sqlInstance, { maxResults: 500 })).items.filter((r) => r.type === 'ON_DEMAND');
      expect(runs.map((r) => [instance.id, r.status])).toEqual([[instance.id, 'SUCCESSFUL']]);
      expect(JSON.stringify(inFlight[index]?.steps.find((s) => s.name === 'sql-backup')?.handles)).toContain(runs[0]?.id ?? 'no run');
      const gkeBackups = (await stack.fleet.gkeBackup.listBackups(instance.resources.backupPlan, { pageSize: 500 })).items.filter((b) => b.manual);
      expect(gkeBackups.map((b) => [instance.id, b.state])).toEqual([[instance.id, 'SUCCEEDED']]);
    }
  }, 240_000);

  it('mi dev fault cloud-sql <instance> backup-fails: the next upgrade fails at its backup step, before the application is touched, the Slack stand-in prints it once, and it is listed as failed', async () => {
    if (stack === undefined) throw new Error('the stack did not start');
    const instanceId = 'cus-acme';
    const before = await store.get<InstanceRecord>(paths.instance(instanceId));
    if (before === undefined) throw new Error(`${instanceId} was not seeded`);

    const injected = await mi(['dev', 'fault', 'cloud-sql', instanceId, 'backup-fails']);
    expect(injected).toMatchObject({ code: 0 });
    expect(injected.stdout).toContain('injected cloud-sql backup-fails on cus-acme');
    const listed = await mi(['dev', 'fault', 'list', '--json']);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ service: 'cloud-sql', instance: instanceId, what: 'backup-fails' })]);

    const targetVersion = semver.inc(before.version, 'minor') ?? '5.5.0';
    const upgrade = await mi(['upgrade', instanceId, '--to', targetVersion, '--wait', '--json']);
    expect(upgrade.code).toBe(1);
    const operationId = /op-[0-9a-f-]{36}/.exec(upgrade.stdout + upgrade.stderr)?.[0];
    if (operationId === undefined) throw new Error(`no operation id in: ${upgrade.stdout}${upgrade.stderr}`);
    const failed = await ended(operationId, 60_000);
    expect(failed.status).toBe('failed');
    const steps = Object.fromEntries(failed.steps.map((s) => [s.name, s.status]));
    expect(steps['sql-backup']).toBe('failed');
    expect(steps['upgrade-application']).toBe('pending');
    expect(JSON.stringify(failed.failure)).toContain('injected by mi dev fault');
    // The application was not touched: no build for it, the old version still runs.
    expect(stack.fleet.cloudBuild.buildsOf(`${operationId}:upgrade-application`)).toBe(0);
    expect(stack.fleet.applications.versionOn(before.domain)).toBe(before.version);
    expect((await store.get<InstanceRecord>(paths.instance(instanceId)))?.version).toBe(before.version);

    // The on-call channel is told, by the Slack stand-in mi dev runs: what failed, where, and how to look.
    const told = () => lines.find((line) => line.startsWith('slack #') && line.includes(`mi op get ${operationId}`));
    for (let waited = 0; told() === undefined && waited < 30_000; waited += 250) await new Promise((resolve) => setTimeout(resolve, 250));
    const notification = told();
    expect(notification).toBeDefined();
    expect(notification).toContain(`failed at sql-backup`);
    expect(notification).toContain(instanceId);
    expect(lines.filter((line) => line.startsWith('slack #') && line.includes(`mi op get ${operationId}`))).toHaveLength(1);

    const failedOps = await mi(['op', 'list', '--status', 'failed', '--json']);
    expect(failedOps.code).toBe(0);
    expect(failedOps.stdout).toContain(operationId);
    // Used up by the backup it failed.
    expect(JSON.parse((await mi(['dev', 'fault', 'list', '--json'])).stdout)).toEqual([]);
  }, 120_000);

  it('mi dev fault executor <instance> upgrade-unhealthy: the upgrade deploys, its health gate after fails, and the instance is left degraded', async () => {
    if (stack === undefined) throw new Error('the stack did not start');
    const instanceId = 'cus-hooli';
    const before = await store.get<InstanceRecord>(paths.instance(instanceId));
    if (before === undefined) throw new Error(`${instanceId} was not seeded`);
    expect((await mi(['dev', 'fault', 'executor', instanceId, 'upgrade-unhealthy'])).code).toBe(0);
    const targetVersion = semver.inc(before.version, 'minor') ?? '5.5.0';
    const upgrade = await mi(['upgrade', instanceId, '--to', targetVersion, '--wait', '--json']);
    expect(upgrade.code).toBe(1);
    const operationId = /op-[0-9a-f-]{36}/.exec(upgrade.stdout + upgrade.stderr)?.[0] ?? '';
    const failed = await ended(operationId, 90_000);
    const steps = Object.fromEntries(failed.steps.map((s) => [s.name, s.status]));
    expect(steps).toMatchObject({ 'sql-backup': 'succeeded', 'gke-backup': 'succeeded', 'upgrade-application': 'succeeded', 'health-after': 'failed' });
    expect(stack.fleet.applications.versionOn(before.domain)).toBe(targetVersion);
    expect((await store.get<InstanceRecord>(paths.instance(instanceId)))?.status).toBe('degraded');
    // The broken release stays broken on the instance until the fault is cleared.
    expect(JSON.parse((await mi(['dev', 'fault', 'list', '--json'])).stdout)).toEqual([expect.objectContaining({ service: 'executor', instance: instanceId, what: 'upgrade-unhealthy' })]);
    expect((await mi(['dev', 'fault', 'clear', 'executor', instanceId])).code).toBe(0);
  }, 120_000);

  it('mi dev fault refuses what it cannot inject, naming the argument and what is accepted; faults are listed and cleared', async () => {
    const refusals: Array<[string[], string]> = [
      [['cloud-sq', 'cus-acme', 'backup-fails'], '<service>: expected a service: cloud-sql, gke-backup, executor'],
      [['executor', 'cus-acme', 'backup-fails'], '<what>: expected what fails in executor: upgrade-unhealthy, upgrade-fails'],
      [['cloud-sql', 'Not_An_Id', 'backup-fails'], '<instance>: expected an instance id'],
      [['cloud-sql', 'cus-nobody', 'backup-fails'], 'no instance cus-nobody in the simulated fleet; it has cus-acme'],
    ];
    for (const [args, message] of refusals) {
      const answer = await mi(['dev', 'fault', ...args]);
      expect({ args, code: answer.code, stderr: answer.stderr }).toMatchObject({ code: 2, stderr: expect.stringContaining(message) as unknown });
    }
    expect(JSON.parse((await mi(['dev', 'fault', 'list', '--json'])).stdout)).toEqual([]);

    expect((await mi(['dev', 'fault', 'executor', 'cus-acme', 'upgrade-unhealthy'])).code).toBe(0);
    expect((await mi(['dev', 'fault', 'gke-backup', 'dev-alice', 'backup-fails'])).code).toBe(0);
    const listed = JSON.parse((await mi(['dev', 'fault', 'list', '--json'])).stdout) as Array<{ service: string; instance: string; what: string }>;
    expect(listed.map((f) => `${f.service} ${f.instance} ${f.what}`).sort()).toEqual(['executor cus-acme upgrade-unhealthy', 'gke-backup dev-alice backup-fails']);
    const cleared = await mi(['dev', 'fault', 'clear', 'executor', 'cus-acme']);
    expect(cleared).toMatchObject({ code: 0, stdout: 'cleared 1 fault\n' });
    expect((JSON.parse((await mi(['dev', 'fault', 'list', '--json'])).stdout) as unknown[]).length).toBe(1);
    expect((await mi(['dev', 'fault', 'clear'])).stdout).toBe('cleared 1 fault\n');
    expect((await mi(['dev', 'fault', 'list'])).stdout).toBe('no faults injected\n');
  }, 60_000);

  it('the local clock: a rollout started on the stack records the shortened soaks and the local calendar of windows its ticks use, is forecast to finish in minutes, and the drill runs on the local week', async () => {
    if (stack === undefined) throw new Error('the stack did not start');
    const drill = stack.schedules.find((s) => s.name === 'restore-drill');
    expect(drill?.localEverySeconds).toBe((7 * 86_400) / LOCAL_TIME_SPEEDUP);

    const started = await mi(['rollout', 'start', '--to', '9.0.0', '--reason', 'the local clock', '--json']);
    expect(started.code).toBe(0);
    const { id } = JSON.parse(started.stdout) as RolloutRecord;
    try {
      const recorded = await store.get<RolloutRecord>(rolloutPaths.rollout(id));
      expect(recorded?.waves.map((w) => [w.name, w.soakMs])).toEqual(DEFAULT_WAVES.map((w) => [w.name, Math.round(w.soakMs * LOCAL_SOAK_SCALE)]));
      // Customers' windows on the local calendar (a week in ten minutes): each opens within ten minutes of the start.
      expect(recorded?.windowClock).toEqual(LOCAL_WINDOW_CLOCK);
      const startedAt = Date.parse(recorded?.createdAt ?? '');
      const customers = (await store.query<InstanceProgress>({ collection: rolloutPaths.progressCollection(id), where: [{ field: 'wave', op: '==', value: 'customers' }] })).map((d) => d.data);
      expect(customers.length).toBeGreaterThan(0);
      for (const member of customers) {
        expect(member.window, member.instanceId).toBeDefined();
        expect(Date.parse(member.eligibleAt ?? ''), member.instanceId).toBeLessThanOrEqual(startedAt + (7 * 86_400_000) / LOCAL_WINDOW_CLOCK.speedup + 1_000);
      }
      const forecast = await mi(['rollout', 'start', '--to', '9.0.0', '--dry-run', '--json', '--upgrade-time', '1m']);
      expect(forecast.stdout).toContain(`"soakMs": ${Math.round(86_400_000 * LOCAL_SOAK_SCALE)}`);
      // The whole rollout, soaks and every customer's window, is expected within minutes (each upgrade taken as a minute).
      const waves = (JSON.parse(forecast.stdout) as RolloutForecast).waves;
      expect(Date.parse(waves.at(-1)?.finishesAt ?? '') - Date.now()).toBeLessThan(30 * 60_000);
    } finally {
      expect((await mi(['rollout', 'abort', id, '--reason', 'only the soaks were wanted'])).code).toBe(0);
    }
  }, 60_000);
});

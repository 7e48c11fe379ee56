/**
 * `mi dev` end to end, on the harness's emulators: a lifecycle command published to Pub/Sub is
 * pushed to the lifecycle function, its backups run, the executor (the Cloud Build adapter over
 * HTTP to the simulated Cloud Build) runs one build, whose notifications on cloud-builds are pushed
 * to buildNotifications, and the reconciler, fed by the local clock, moves the rest along, until
 * the instance runs the new version.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PubSub } from '@google-cloud/pubsub';
import semver from 'semver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../cli/main.js';
import { startLocalStack, type LocalStack } from '../../cli/dev/stack.js';
import type { OperationRecord } from '../../shared/domain/lifecycle/operations.js';
import { makeEnvelope, type InstanceRecord } from '../../shared/events/index.js';
import { createFirestore, createFirestoreStore } from '../../shared/gcp/firestore-store.js';
import { createPubSubBus } from '../../shared/gcp/pubsub-bus.js';
import { SUBSCRIPTIONS, TOPICS } from '../../shared/topology.js';
import { until } from '../support/until.js';
import { projectIdFor } from '../support/project.js';
import { paths } from '../../shared/store/collections.js';

const projectId = projectIdFor(import.meta.url);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));


describe('mi dev: the local stack', () => {
  const lines: string[] = [];
  let stack: LocalStack | undefined;
  const firestore = createFirestore(projectId);
  const store = createFirestoreStore({ firestore });

  // A deployment repository of the test's own (never the developer's .mi-dev checkout).
  const repoPath = mkdtempSync(join(tmpdir(), 'mi-e2e-repo-'));
  const previousRepo = process.env.MI_DEV_DEPLOYMENT_REPO;
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repoPath, encoding: 'utf8' }).trim();

  beforeAll(async () => {
    process.env.MI_DEV_DEPLOYMENT_REPO = repoPath;
    stack = await startLocalStack({ projectId, log: (line) => lines.push(line) });
  });

  afterAll(async () => {
    await stack?.stop();
    await firestore.terminate();
    if (previousRepo === undefined) delete process.env.MI_DEV_DEPLOYMENT_REPO;
    else process.env.MI_DEV_DEPLOYMENT_REPO = previousRepo;
    rmSync(repoPath, { recursive: true, force: true });
  });

  it('uses the emulators it finds rather than starting its own, and seeds dev, internal and customer instances', async () => {
    if (!stack) throw new Error('the stack did not start');
    expect(stack.firestoreHost).toBe(inject('firestoreHost'));
    expect(stack.pubsubHost).toBe(inject('pubsubHost'));
    expect(stack.startedEmulators).toEqual([]);
    expect(stack.functionsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const seeded = [...(stack.seeded?.created ?? []), ...(stack.seeded?.existing ?? [])];
    expect(seeded).toHaveLength(10);
    const kinds = seeded.map((i) => `${i.environment}/${i.tier}`);
    expect(kinds.filter((k) => k === 'dev/internal')).toHaveLength(3);
    expect(kinds.filter((k) => k === 'prod/internal')).toHaveLength(2);
    expect(kinds.filter((k) => k === 'prod/customer')).toHaveLength(5);
    for (const instance of seeded) {
      const stored = await store.get<InstanceRecord>(paths.instance(instance.id));
      expect(stored?.id).toBe(instance.id);
    }

    // Each subscription pushes to its function on 127.0.0.1, at a path naming its topic.
    const pubsub = new PubSub({ projectId });
    try {
      for (const spec of SUBSCRIPTIONS) {
        const [metadata] = await pubsub.subscription(spec.name).getMetadata();
        expect(metadata.pushConfig?.pushEndpoint).toBe(`${stack.functionsUrl}/${spec.function}/projects/${projectId}/topics/${spec.topic}`);
        expect(metadata.deadLetterPolicy?.maxDeliveryAttempts).toBe(spec.deadLetter.maxDeliveryAttempts);
      }
    } finally {
      await pubsub.close();
    }
  });

  it('runs an upgrade published to mi-lifecycle to the end: push, backups, one Cloud Build with its notifications by push, the local reconcile clock', async () => {
    if (!stack) throw new Error('the stack did not start');
    const customer = stack.seeded?.created.concat(stack.seeded.existing).find((i) => i.tier === 'customer');
    if (!customer) throw new Error('no customer instance was seeded');
    // On emulators that outlived an earlier run the instance may already be upgraded.
    const before = await store.get<InstanceRecord>(paths.instance(customer.id));
    const targetVersion = semver.inc(before?.version ?? customer.version, 'minor') ?? '5.5.0';

    const envelope = makeEnvelope({
      type: 'instance.upgrade',
      instanceId: customer.id,
      payload: { targetVersion },
      actor: 'e2e@example.com',
      reason: 'the local stack end to end',
    });
    const bus = createPubSubBus({ pubsub: new PubSub({ projectId }) });
    const started = Date.now();
    try {
      await bus.publish(TOPICS.lifecycle, envelope);
    } finally {
      await bus.close();
    }

    const operationId = `op-${envelope.eventId}`;
    let operation: OperationRecord;
    try {
      operation = await until(
        `operation ${operationId} to end`,
        async () => {
          const op = await store.get<OperationRecord>(paths.operation(operationId));
          return op !== undefined && op.status !== 'running' && op.status !== 'accepted' ? op : undefined;
        },
        55_000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\nstack log:\n${lines.join('\n')}`, { cause: error });
    }
    const elapsedMs = Date.now() - started;
    console.info(`e2e upgrade of ${customer.id} to ${targetVersion}: ${operation.status} in ${elapsedMs} ms`);

    expect(operation.status, lines.join('\n')).toBe('succeeded');
    expect(operation.steps.map((s) => [s.name, s.status])).toEqual([
      ['health-before', 'succeeded'],
      ['sql-backup', 'succeeded'],
      ['gke-backup', 'succeeded'],
      ['upgrade-application', 'succeeded'],
      ['health-after', 'succeeded'],
    ]);
    // The gate after probed the simulated application over HTTP with the production probe.
    expect(operation.steps.find((s) => s.name === 'health-after')?.handles.lastProbe).toContain(`${stack.healthUrl.replace('{domain}', customer.domain)}/version → 200 version ${targetVersion}`);
    const after = await store.get<InstanceRecord>(paths.instance(customer.id));
    expect(after).toMatchObject({ version: targetVersion, status: 'active', lease: null });

    // One build ran the upgrade (however often its step was tried), with the upgrade's steps; its
    // notifications reached buildNotifications by push. The reconciler may have seen the build end
    // first (it asks Cloud Build too), so the notification is waited for rather than assumed.
    const runKey = `${operationId}:upgrade-application`;
    expect(stack.fleet.cloudBuild.buildsOf(runKey)).toBe(1);
    const build = stack.fleet.cloudBuild.list().find((b) => (b.substitutions as Record<string, string>)._MI_RUN_KEY === runKey);
    expect(build).toMatchObject({ status: 'SUCCESS', substitutions: { _VERSION: targetVersion, _INSTANCE: customer.id } });
    expect((build?.steps as Array<{ id: string; status: string }>).map((s) => `${s.id} ${s.status}`)).toEqual([
      'fetch-source SUCCESS',
      'cluster-credentials SUCCESS',
      'migrate-database SUCCESS',
      'deploy-workloads SUCCESS',
      'rollout-status SUCCESS',
    ]);
    expect(operation.steps.find((s) => s.name === 'upgrade-application')?.handles).toMatchObject({ build: build?.id, migrationsRan: 'false' });
    const stats = await until(
      'the notifications to be pushed to buildNotifications',
      () => {
        const s = stack?.functionStats();
        return s !== undefined && (s.buildNotifications?.succeeded ?? 0) >= 3 ? s : undefined;
      },
      10_000,
    );
    expect(stats.lifecycle?.succeeded).toBeGreaterThanOrEqual(1);
    expect(stats.reconcile?.succeeded).toBeGreaterThanOrEqual(1);

    // The repository follows: config.yaml now names the new version, in a commit of the control
    // plane's own, whose push the webhook was handed and did not act on again.
    const config = `environments/${customer.environment}/deployments/${customer.id}/config.yaml`;
    const message = await until('the write-back commit', () => {
      const head = git('log', '-1', '--format=%an%n%B', '--', config);
      return head.includes(`Mi-Write-Back: ${operationId}`) ? head : undefined;
    }, 15_000);
    expect(message.split('\n')[0]).toBe('mi-control-plane');
    expect(git('show', `main:${config}`)).toContain(`version: ${targetVersion}`);
    await until('the webhook to ignore the write-back push', () => lines.find((l) => l.includes('answered 202') && l.includes('a write-back by the control plane') && l.includes(operationId)), 15_000);
  }, 60_000);

  it('an upgrade whose new version fails its health gate leaves the instance degraded with its backups named; mi upgrade --rollback brings it back healthy', async () => {
    if (!stack?.identityFile) throw new Error('the stack left no identity file');
    const env = { FIRESTORE_EMULATOR_HOST: inject('firestoreHost'), PUBSUB_EMULATOR_HOST: inject('pubsubHost'), MI_DEV_IDENTITY_FILE: stack.identityFile };
    const mi = async (args: readonly string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(['--project', projectId, '--as', 'alice@example.com', ...args], { stdout: { write: (t) => out.push(t) }, stderr: { write: (t) => err.push(t) }, env });
      return { code, stdout: out.join(''), stderr: err.join('') };
    };
    const all = [...(stack.seeded?.existing ?? []), ...(stack.seeded?.created ?? [])];
    const target = all.find((i) => i.environment === 'dev');
    if (target === undefined) throw new Error('no dev instance was seeded');
    const before = await store.get<InstanceRecord>(paths.instance(target.id));
    if (before?.status !== 'active') throw new Error(`${target.id} is ${before?.status ?? 'missing'}`);
    const bad = semver.inc(before.version, 'minor') ?? '9.9.0';
    stack.fleet.applications.breakVersion(target.domain, bad, 'unhealthy');

    const sent = await mi(['upgrade', target.id, '--to', bad, '--json']);
    expect(sent.stderr, lines.join('\n')).toBe('');
    const { operationId } = JSON.parse(sent.stdout) as { operationId: string };
    const failed = await until('the upgrade to fail its gate', async () => {
      const op = await store.get<OperationRecord>(paths.operation(operationId));
      return op?.status === 'failed' ? op : undefined;
    }, 120_000, 500);
    expect(failed.failure?.step).toBe('health-after');
    const sqlRun = failed.steps.find((s) => s.name === 'sql-backup')?.handles.backupRunId ?? 'none';
    expect(failed.failure?.reason).toContain(`pre-upgrade backups: Cloud SQL backup run ${sqlRun}, GKE backup `);
    expect(failed.failure?.reason).toContain('→ 503');
    expect(await store.get<InstanceRecord>(paths.instance(target.id))).toMatchObject({ status: 'degraded', version: bad, lastUpgrade: { fromVersion: before.version, migrationsRan: false } });
    // What a person reads: the gate's probes, one line each.
    const shown = await mi(['op', 'get', operationId]);
    expect(shown.stdout).toMatch(/health-after: \d+ probe\(s\)/);

    const rolledBack = await mi(['upgrade', target.id, '--rollback', '--wait']);
    expect(rolledBack.code, `${rolledBack.stdout}${rolledBack.stderr}\n${lines.join('\n')}`).toBe(0);
    expect(await store.get<InstanceRecord>(paths.instance(target.id))).toMatchObject({ status: 'active', version: before.version, lastUpgrade: { rollback: true } });
    expect(stack.fleet.applications.versionOn(target.domain)).toBe(before.version);
  }, 240_000);

  it('mi workflow run plans a module across the dev instances two at a time, showing progress, then the plans grouped by identical output', async () => {
    if (!stack?.identityFile) throw new Error('the stack left no identity file');
    const env = { FIRESTORE_EMULATOR_HOST: inject('firestoreHost'), PUBSUB_EMULATOR_HOST: inject('pubsubHost'), MI_DEV_IDENTITY_FILE: stack.identityFile };
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['--project', projectId, '--as', 'alice@example.com', 'workflow', 'run', 'plan', '-e', 'dev', '--module', 'networking', '--concurrency', '2', '--interval', '200ms'], {
      stdout: { write: (t) => out.push(t) },
      stderr: { write: (t) => err.push(t) },
      env,
    });
    const stdout = out.join('');
    const stderr = err.join('');
    console.info(`mi workflow run plan -e dev --module networking --concurrency 2:\n${stderr}${stdout}`);
    expect(code, `${stderr}${stdout}\n${lines.join('\n')}`).toBe(0);
    const dev = [...(stack.seeded?.existing ?? []), ...(stack.seeded?.created ?? [])].filter((i) => i.environment === 'dev').map((i) => i.id).sort();
    expect(dev).toHaveLength(3);

    // Progress, a line each time it moved, ending with every member done.
    const id = /started workflow (wf-[a-z0-9-]+)/.exec(stderr)?.[1] ?? '';
    expect(stderr).toContain(`started workflow ${id} as alice@example.com: plan networking on dev 3 instance(s), 2 at once`);
    expect(stderr).toMatch(/\d\d:\d\d:\d\d running: dev 0\/3 done/);
    expect(stderr).toMatch(/\d\d:\d\d:\d\d completed: dev 3\/3 done \(ok 3, failed 0\), 0 running, 0 waiting/);
    // Then the outputs: one group (the three plans are the same but for each instance's names), its plan text once.
    expect(stdout).toContain(`=== group 1 of 1: 3 instance(s), the same plan, each with its own names (succeeded): ${dev.join(', ')}`);
    expect(stdout).toContain(`--- as planned for ${dev[0] ?? ''}:`);
    expect(stdout).toContain(`${dev[0] ?? ''}-networking`);
    expect(stdout).not.toContain(`${dev[1] ?? ''}-networking`);
    // Each plan ran once, as a Cloud Build of that instance's module; never more than two at once (the audit trail says).
    for (const instanceId of dev) {
      const builds = stack.fleet.cloudBuild.list().filter((b) => (b.substitutions as Record<string, string>)._MI_RUN_KEY?.startsWith(`op-`) && (b.substitutions as Record<string, string>)._INSTANCE === instanceId && (b.tags as string[] | undefined)?.includes('mi-module-networking'));
      expect(builds.map((b) => b.status)).toEqual(['SUCCESS']);
    }
    const started = await store.query<{ after: { inFlight: number; maxInFlight: number } }>({ collection: 'audit', where: [{ field: 'rolloutId', op: '==', value: id }, { field: 'action', op: '==', value: 'workflow.member-started' }] });
    expect(started).toHaveLength(3);
    expect(Math.max(...started.map((a) => a.data.after.inFlight))).toBeLessThanOrEqual(2);

    // Printed again on demand, each instance's in turn.
    const again: string[] = [];
    expect(await runCli(['--project', projectId, '--as', 'alice@example.com', 'workflow', 'output', id, '--together'], { stdout: { write: (t) => again.push(t) }, stderr: { write: () => undefined }, env })).toBe(0);
    for (const instanceId of dev) expect(again.join('')).toContain(`${instanceId}-networking`);
  }, 240_000);

  it('stops, and a second stack on the same emulators keeps the state and takes the pushes over', async () => {
    if (!stack) throw new Error('the stack did not start');
    const firstUrl = stack.functionsUrl;
    const upgraded = await store.get<InstanceRecord>(paths.instance('cus-acme'));
    await stack.stop();
    await stack.stop(); // twice is harmless
    stack = undefined;

    stack = await startLocalStack({ projectId, scheduleSpeedup: 3, log: (line) => lines.push(line) });
    expect(stack.functionsUrl).not.toBe(firstUrl);
    expect(stack.seeded?.created).toEqual([]);
    expect(stack.seeded?.existing).toHaveLength(10);
    // Seeding did not reset what the first stack's upgrade changed.
    expect(await store.get<InstanceRecord>(paths.instance('cus-acme'))).toEqual(upgraded);
    // The schedule's messages reach the new server: the subscriptions follow it.
    await until('a reconcile pushed to the second stack', () => ((stack?.functionStats().reconcile?.succeeded ?? 0) > 0 ? true : undefined), 15_000);
  }, 30_000);

  it("people act as themselves: a prod delete through the stack's commands function waits for a second person, and prod access through its access manager", async () => {
    if (!stack?.identityFile) throw new Error('the stack left no identity file');
    const env = { FIRESTORE_EMULATOR_HOST: inject('firestoreHost'), PUBSUB_EMULATOR_HOST: inject('pubsubHost'), MI_DEV_IDENTITY_FILE: stack.identityFile, MI_ACTOR: 'bob@example.com' };
    const mi = async (as: string, args: readonly string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(['--project', projectId, '--as', as, ...args], { stdout: { write: (t) => out.push(t) }, stderr: { write: (t) => err.push(t) }, env });
      return { code, stdout: out.join(''), stderr: err.join('') };
    };
    const doomed = [...(stack.seeded?.existing ?? []), ...(stack.seeded?.created ?? [])].find((i) => i.environment === 'prod' && i.tier === 'customer' && i.id !== 'cus-acme');
    if (doomed === undefined) throw new Error('no prod customer instance to delete');

    // alice asks (MI_ACTOR says bob: it decides nothing); the token is alice's.
    const sent = await mi('alice@example.com', ['delete', doomed.id, '--confirm', doomed.slug, '--json']);
    expect(sent.stderr).toBe('');
    const { operationId, by } = JSON.parse(sent.stdout) as { operationId: string; by: string };
    expect(by).toBe('alice@example.com');
    await until('the delete to wait for approval', async () => ((await store.get<OperationRecord>(paths.operation(operationId)))?.steps[0]?.status === 'running' ? true : undefined), 15_000);
    const own = await mi('alice@example.com', ['approve', operationId]);
    expect(own.code).toBe(2);
    expect(own.stderr).toContain('alice@example.com');
    expect((await mi('bob@example.com', ['approve', operationId])).code).toBe(0);
    expect(await store.get<OperationRecord>(paths.operation(operationId))).toMatchObject({ actor: 'alice@example.com', origin: 'commands', approval: { approvedBy: 'bob@example.com' } });

    const asked = await mi('alice@example.com', ['access', 'request', '--env', 'prod', '--role', 'operator', '--for', '1h', '--why', 'INC-1: check cus-acme', '--json']);
    const grant = (JSON.parse(asked.stdout) as { name: string }).name.split('/').at(-1) ?? '';
    expect((await mi('alice@example.com', ['access', 'approve', grant, '--reason', 'me'])).code).toBe(2);
    const approved = await mi('bob@example.com', ['access', 'approve', grant, '--reason', 'on call']);
    expect(approved.stdout).toContain('ACTIVE, approved by bob@example.com');
    stack.access.pam.policies.add({ resource: 'folders/100000000002', role: 'roles/editor', members: ['user:mallory@example.com'] });
    const sweep = await mi('bob@example.com', ['access', 'sweep']);
    expect([sweep.code, sweep.stdout]).toEqual([1, 'standing-human-access: user:mallory@example.com holds roles/editor on folders/100000000002 and no active grant explains it\n']);
  }, 60_000);

  it('mi dev prints how to use it and exits 0 on SIGINT, having closed everything it opened', async () => {
    const devProject = projectIdFor(import.meta.url, 'run-dev');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', `import { runDev } from './cli/dev/stack.ts'; await runDev({ projectId: '${devProject}' });`],
      { cwd: ROOT, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    try {
      await until('mi dev to be ready', () => (stdout.includes('Ctrl-C stops everything') ? true : undefined), 30_000);
      child.kill('SIGINT');
      const { code, signal } = await exited;
      expect({ code, signal, stderr }).toMatchObject({ code: 0, signal: null });
      // After stop() nothing may hold the event loop: runDev says so when something does
      // (and exits anyway, so the exit code alone would not tell).
      expect(stderr).not.toContain('still held the process open');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    expect(stdout).toContain(`export FIRESTORE_EMULATOR_HOST=${inject('firestoreHost')}`);
    expect(stdout).toContain(`export PUBSUB_EMULATOR_HOST=${inject('pubsubHost')}`);
    expect(stdout).toContain(`export GOOGLE_CLOUD_PROJECT=${devProject}`);
    expect(stdout).toMatch(/mi upgrade cus-[a-z-]+ --to 5\.5\.0 --wait/);
    expect(stdout).toContain('mi instance list');
    expect(stdout).toContain('mi dev: stopped');
  }, 45_000);
});

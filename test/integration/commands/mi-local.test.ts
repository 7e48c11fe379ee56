/**
 * `mi` in local mode against the commands function as `mi dev` serves it: tokens signed with the
 * key mi dev left, the caller the local operator or `--as`, the real services on the emulators.
 */
import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../cli/main.js';
import { readIdentityFile, removeIdentityFile, writeIdentityFile } from '../../../cli/dev/identity-file.js';
import { EXIT } from '../../../cli/config.js';
import type { RolloutRecord } from '../../../shared/domain/rollout/index.js';
import { serveCommands, type CommandsServer } from '../../support/commands-server.js';
import { createEngineFixture, TEST_TIMINGS, type EngineFixture } from '../../support/engine-fixture.js';
import { LifecycleTap, deliveryOf } from '../cli/support.js';
import { deliver } from '../../../shared/edge.js';
import { lifecycleRoute } from '../../../shared/routes.js';
import { deploymentPaths, rolloutPaths } from '../../../shared/store/collections.js';
import type { ModuleApplyRecord } from '../../../shared/domain/deployments/applies.js';
import { planObjectOf, planTextObjectOf } from '../../../shared/domain/executor/index.js';
import { createPlanFilesReader } from '../../../shared/gcp/plan-files.js';
import { serveStorage, type StorageServer } from '../../../shared/sim/storage-http.js';

const REQUESTER = 'requester@example.com';
const SECOND = 'second.person@example.com';

let f: EngineFixture;
let tap: LifecycleTap;
let commands: CommandsServer;
let plansBucket: StorageServer;

async function mi(args: readonly string[], env: Record<string, string | undefined> = {}, operator = REQUESTER) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['--project', f.projectId, ...args], {
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    env: { FIRESTORE_EMULATOR_HOST: process.env.FIRESTORE_EMULATOR_HOST, MI_DEV_IDENTITY_FILE: commands.identityFile, ...env },
    localOperator: () => operator,
    pollIntervalMs: 25,
  });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** A prod delete sent by REQUESTER with mi, taken up by the lifecycle function: waiting for a second person. */
async function waitingDelete(): Promise<string> {
  const doomed = await f.seedInstance();
  const run = await mi(['delete', doomed.id, '--confirm', doomed.slug, '--json']);
  expect(run.stderr).toBe('');
  const { eventId } = JSON.parse(run.stdout) as { eventId: string };
  await deliver(f.engine.deps, lifecycleRoute(f.engine), deliveryOf(await tap.next(eventId), f.projectId));
  const operationId = `op-${eventId}`;
  f.clock.advance(60_000);
  await f.engine.reconcile({ outboxGraceMs: 0 });
  expect((await f.operation(operationId))?.steps[0]).toMatchObject({ name: 'await-approval', status: 'running' });
  return operationId;
}

beforeAll(async () => {
  f = await createEngineFixture(import.meta.url);
  tap = await LifecycleTap.open(f);
  // The plans buckets read as in the cloud: the production reader on Cloud Storage's API paths.
  plansBucket = await serveStorage(f.fleet.plans);
  const plans = createPlanFilesReader({ endpoint: plansBucket.url, token: () => Promise.resolve('local') });
  commands = await serveCommands({ store: f.store, bus: f.bus, clock: f.clock, ...f.fleet.ports(), plans }, { timings: TEST_TIMINGS });
});

afterAll(async () => {
  await commands.close();
  await plansBucket.close();
  await tap.close();
  await f.close();
});

describe('mi approve in local mode', () => {
  it("leaves mi dev's key readable by its owner only", async () => {
    expect((await stat(commands.identityFile)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(commands.identityFile))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(commands.identityFile, 'utf8'))).toMatchObject({ version: 1, privateJwk: { kid: commands.signer.kid } });
  });

  it('refuses the requester (exit 2), whatever MI_ACTOR says, and approves as a second person', async () => {
    const operationId = await waitingDelete();
    // The spoof: the requester claims to be someone else. The token is the requester's.
    const spoofed = await mi(['approve', operationId], { MI_ACTOR: 'bob@example.com' });
    expect(spoofed.code).toBe(EXIT.refused);
    expect(spoofed.stderr).toMatch(new RegExp(`approving ${operationId} refused: .*${REQUESTER}`));
    expect((await f.operation(operationId))?.approval?.approvedBy ?? null).toBeNull();

    const run = await mi(['approve', operationId], {}, SECOND);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(EXIT.ok);
    expect(run.stdout).toContain(`approved ${operationId} as ${SECOND}`);
    expect(await f.operation(operationId)).toMatchObject({ actor: REQUESTER, approval: { approvedBy: SECOND } });
  });

  it('approves as --as on the local stack, and prints the answer with --json', async () => {
    const operationId = await waitingDelete();
    const run = await mi(['--as', SECOND, 'approve', operationId, '--json']);
    expect(run.code).toBe(EXIT.ok);
    expect(JSON.parse(run.stdout)).toEqual({ accepted: 'operation.approve', approved: operationId, by: SECOND });
  });

  it('refuses, exit 2, an unknown operation and an invalid id', async () => {
    const unknown = await mi(['approve', 'op-nope'], {}, SECOND);
    expect(unknown.code).toBe(EXIT.refused);
    expect(unknown.stderr).toContain('op-nope');
    const invalid = await mi(['approve', 'op/1'], {}, SECOND);
    expect(invalid.code).toBe(EXIT.refused);
    expect(invalid.stderr).toContain('<operation>');
  });

  it('says mi dev is not running, exit 3, when there is no identity file', async () => {
    const run = await mi(['approve', 'op-waiting'], { MI_DEV_IDENTITY_FILE: join(dirname(commands.identityFile), 'missing.json') });
    expect(run.code).toBe(EXIT.unreachable);
    expect(run.stderr).toMatch(/is `mi dev` running/);
  });

  it('outside local mode, asks for MI_COMMANDS_URL (exit 2)', async () => {
    const run = await mi(['approve', 'op-waiting'], { FIRESTORE_EMULATOR_HOST: undefined });
    expect(run.code).toBe(EXIT.refused);
    expect(run.stderr).toContain('MI_COMMANDS_URL');
  });

  it('removes the identity file only while it still holds the same key', async () => {
    const copy = join(dirname(dirname(commands.identityFile)), 'other', 'identity.json');
    const content = await readIdentityFile(commands.identityFile);
    if (content === undefined) throw new Error('the identity file is gone');
    await writeIdentityFile(copy, content);
    await removeIdentityFile(copy, 'some-other-kid');
    expect(await readIdentityFile(copy)).toBeDefined();
    await removeIdentityFile(copy, commands.signer.kid);
    expect(await readIdentityFile(copy)).toBeUndefined();
  });
});

describe('the other commands mi sends', () => {
  it('mi rollout start and pause: recorded as by the caller', async () => {
    const started = await mi(['rollout', 'start', '--to', '9.9.9', '--waves', 'dev:max=1', '--json'], {}, SECOND);
    expect(started.stderr).toBe('');
    const rollout = JSON.parse(started.stdout) as RolloutRecord;
    expect(await f.store.get<RolloutRecord>(rolloutPaths.rollout(rollout.id))).toMatchObject({ targetVersion: '9.9.9', actor: SECOND });
    const paused = await mi(['rollout', 'pause', rollout.id, '--reason', 'a page fired'], {}, REQUESTER);
    expect(paused.code).toBe(EXIT.ok);
    expect(paused.stdout).toContain(`(as ${REQUESTER})`);
    expect((await f.store.get<RolloutRecord>(rolloutPaths.rollout(rollout.id)))?.status).toBe('paused');
    await mi(['rollout', 'abort', rollout.id, '--reason', 'test over']);
  });

  it('mi compliance run: the run asked for by the caller', async () => {
    const run = await mi(['compliance', 'run', '--schedule', 'check-retention', '--json'], {}, SECOND);
    expect(run.code).toBe(EXIT.ok);
    expect(JSON.parse(run.stdout)).toMatchObject({ schedule: 'check-retention', by: SECOND, eventId: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown });
  });

  it("mi instance extend: a dev instance's expiry moved, as by the caller", async () => {
    const dev = await f.seedInstance({ environment: 'dev', tier: 'internal', expiresAt: '2026-11-27T10:00:00.000Z' });
    const run = await mi(['instance', 'extend', dev.id, '--hours', '48', '--reason', 'demo'], {}, SECOND);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(`${dev.id} now expires 2026-11-29T10:00:00.000Z (was 2026-11-27T10:00:00.000Z), recorded as by ${SECOND}\n`);
    const prod = await mi(['instance', 'extend', (await f.seedInstance()).id, '--hours', '1']);
    expect(prod.code).toBe(EXIT.refused);
  });

  it('mi backup list: the Cloud SQL backup runs and GKE backups, newest first, read through the commands function', async () => {
    const inst = await f.seedInstance();
    for (const n of [1, 2]) {
      await f.fleet.cloudSql.insertBackupRun(inst.resources.project, inst.resources.sqlInstance, { description: `before fix ${n}` });
      await f.fleet.gkeBackup.createBackup(inst.resources.backupPlan, `manual-${n}`, { description: `before fix ${n}` });
      f.clock.advance(60_000);
    }
    const run = await mi(['backup', 'list', inst.id, '--json']);
    expect(run.stderr).toBe('');
    const listed = JSON.parse(run.stdout) as { instanceId: string; sql: Array<{ id: string; enqueuedTime: string }>; gke: Array<{ name: string; createTime: string }> };
    const runs = (await f.fleet.cloudSql.listBackupRuns(inst.resources.project, inst.resources.sqlInstance)).items;
    const backups = (await f.fleet.gkeBackup.listBackups(inst.resources.backupPlan)).items;
    expect(listed.sql.map((r) => r.id).sort()).toEqual(runs.map((r) => r.id).slice(0, 20).sort());
    expect(listed.gke.map((b) => b.name).sort()).toEqual(backups.map((b) => b.name).slice(0, 20).sort());
    expect([listed.sql.length, listed.gke.length]).toEqual([2, 2]);
    expect(listed.gke[0]?.name).toMatch(/manual-2$/);
    expect([...listed.sql].sort((x, y) => y.enqueuedTime.localeCompare(x.enqueuedTime))).toEqual(listed.sql);
    const text = await mi(['backup', 'list', inst.id]);
    expect(text.stdout).toContain(`mi restore ${inst.id} --backup-run <ID> --gke-backup <NAME>`);
    const unknown = await mi(['backup', 'list', 'no-such-instance']);
    expect([unknown.code, unknown.stderr]).toEqual([2, "mi: listing no-such-instance's backups refused: no instance no-such-instance (mi instance list shows the fleet)\n"]);
  });

  it('mi apply show: the recorded plan facts, then the raw plan as terraform show printed it, read through the commands function', async () => {
    const inst = await f.seedInstance();
    const commit = randomUUID().replace(/-/g, '').padEnd(40, '0').slice(0, 40);
    const object = planObjectOf('mi-control-plans-prod', inst.id, 'networking', commit);
    const raw = `Terraform will perform the following actions:\n\n  # google_compute_network.main will be updated in-place\n  ~ resource "google_compute_network" "main" {\n        project = "${inst.resources.project}"\n    }\n\nPlan: 0 to add, 1 to change, 0 to destroy.\n`;
    f.fleet.plans.put(planTextObjectOf(object), raw);
    const id = `${inst.id}.networking.${commit.slice(0, 12)}`;
    const at = f.clock.now().toISOString();
    await f.store.set(deploymentPaths.moduleApply(id), {
      id, kind: 'module', instanceId: inst.id, environment: inst.environment, tier: inst.tier, module: 'networking', commit, committedAt: at, repository: 'acme/deployments', mode: 'confirm', wave: 1,
      status: 'awaiting-confirmation', request: null, operationId: null, planSummary: 'Plan: 0 to add, 1 to change, 0 to destroy.', plan: { digest: 'ab'.repeat(32), shape: 'cd'.repeat(32), object, add: 0, change: 1, destroy: 0 },
      confirmedBy: null, confirmedAt: null, supersededBy: null, failure: null, causeEventId: randomUUID(), mergedBy: 'octocat', createdAt: at, updatedAt: at,
    } satisfies ModuleApplyRecord);

    const shown = await mi(['apply', 'show', id]);
    expect(shown.stderr).toBe('');
    expect(shown.stdout).toContain(`saved plan   ${object}`);
    // The plan exactly as saved, between rules naming the object it was read from.
    expect(shown.stdout).toContain(`\n--- ${planTextObjectOf(object)}\n${raw}---\n`);
    const json = JSON.parse((await mi(['apply', 'show', id, '--json'])).stdout) as { planText: { text: string; object: string } };
    expect([json.planText.text, json.planText.object]).toEqual([raw, planTextObjectOf(object)]);
    const facts = await mi(['apply', 'show', id, '--no-plan']);
    expect([facts.stdout.includes('---'), facts.stdout.includes('sha256:' + 'ab'.repeat(32))]).toEqual([false, true]);
    // The diff prints each distinct plan once.
    const diff = await mi(['apply', 'diff', '--module', 'networking', '--commit', commit.slice(0, 12)]);
    expect(diff.stdout).toContain(`1 instance(s): ${inst.id}\n--- ${planTextObjectOf(object)}\n${raw}---\n`);

    // Gone after the bucket's 30 days: the facts are still shown, the plan's absence is the refusal.
    f.fleet.plans.remove(planTextObjectOf(object));
    const gone = await mi(['apply', 'show', id]);
    expect(gone.code).toBe(EXIT.refused);
    expect(gone.stdout).toContain(`saved plan   ${object}`);
    expect(gone.stderr).toBe(`mi: reading the saved plan of ${id} refused: ${id}: the saved plan ${planTextObjectOf(object)} is gone (plans are kept 30 days): a new plan needs a new commit of the module\n`);
  });

  it('mi apply confirm: an unknown apply is refused (exit 2), naming it', async () => {
    const run = await mi(['apply', 'confirm', `cus-none.networking.${randomUUID().replace(/-/g, '').slice(0, 12)}`], {}, SECOND);
    expect(run.code).toBe(EXIT.refused);
    expect(run.stderr).toMatch(/confirming cus-none\.networking\.\w+ refused: /);
  });
});

/**
 * The engine on the Cloud Build executor (the production adapter on the simulated Builds API):
 * an upgrade runs one build whose notification finishes its step; a build that never leaves
 * the queue ends EXPIRED and fails its operation as never started; a build cut off part-way
 * leaves its operation stuck, naming the Terraform lock a person must release, and abandoning
 * it says so. A plan build saves its plan and text; the commands function reads the text for
 * `mi apply show` with the production reader, on Cloud Storage's API paths.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftBehind } from '../../../cli/commands/op.js';
import { localBuildSettings } from '../../../cli/dev/services.js';
import { planFactsOf, type ModuleApplyRecord } from '../../../shared/domain/deployments/applies.js';
import { planObjectOf, planTextObjectOf, RUN_KEY_SUBSTITUTION, runNoticeKey } from '../../../shared/domain/executor/index.js';
import { ControlPlaneError } from '../../../shared/errors.js';
import { COLLECTIONS } from '../../../shared/store/collections.js';
import { createPlanFilesReader } from '../../../shared/gcp/plan-files.js';
import { serveStorage, type StorageServer } from '../../../shared/sim/storage-http.js';
import { deploymentPaths } from '../../../shared/store/collections.js';
import { servicesWith } from '../../support/services.js';
import { deliver } from '../../../shared/edge.js';
import type { Engine } from '../../../shared/engine/index.js';
import { createCloudBuildExecutor } from '../../../shared/gcp/cloud-build.js';
import { buildNotificationsRoute, lifecycleRoute } from '../../../shared/routes.js';
import { pubSubCloudEvent } from '../../../harness/cloud-event.js';
import { createEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';

let fx: EngineFixture;
let engine: Engine;
let bucket: StorageServer;

beforeAll(async () => {
  fx = await createEngineFixture(import.meta.url);
  engine = fx.engineWith({
    executor: createCloudBuildExecutor({ parent: `projects/${fx.projectId}/locations/us-central1`, settings: localBuildSettings(fx.projectId, 'acme/deployments'), clock: fx.clock, calls: fx.fleet.cloudBuild }),
  });
  bucket = await serveStorage(fx.fleet.plans);
});
afterAll(async () => {
  await bucket.close();
  await fx.close();
});

async function accept(type: Parameters<EngineFixture['command']>[0], instanceId: string, payload: Record<string, unknown>): Promise<string> {
  const command = fx.command(type, instanceId, payload);
  const outcome = await deliver(engine.deps, lifecycleRoute(engine), pubSubCloudEvent(command, { topic: 'mi-lifecycle' }));
  expect(outcome).toMatchObject({ kind: 'accepted' });
  return `op-${command.eventId}`;
}

/** Cloud Build's notifications so far, pushed to the buildNotifications function. */
async function notify(): Promise<void> {
  await fx.fleet.cloudBuild.notifyDue(async (n) => {
    await deliver(engine.deps, buildNotificationsRoute(engine), pubSubCloudEvent({ raw: n.data }, { topic: 'cloud-builds', message: { attributes: n.attributes } }));
  });
}

describe('the engine on Cloud Build', () => {
  it('an upgrade runs one build at its commit, and the build notification finishes its step', async () => {
    const instance = await fx.seedInstance({ version: '5.4.2' });
    const commit = 'a'.repeat(40);
    const id = await accept('instance.upgrade', instance.id, { targetVersion: '5.5.0', commit });
    for (let i = 0; i < 30 && (await fx.operation(id))?.steps.find((s) => s.name === 'upgrade-application')?.status !== 'running'; i += 1) {
      fx.clock.advance(10_000);
      await engine.reconcile({ outboxGraceMs: 0 });
    }
    // The build ends; its notification, not a poll, records it.
    fx.clock.advance(30_000);
    await notify();
    expect((await fx.operation(id))?.steps.find((s) => s.name === 'upgrade-application')?.status).toBe('succeeded');
    // What the build deployed is what the instance then reports: the gate after it passes.
    expect(fx.fleet.applications.versionOn(instance.domain)).toBe('5.5.0');
    const op = await fx.driveToEnd(id, { engine });
    expect(op.status).toBe('succeeded');
    const runKey = `${id}:upgrade-application`;
    expect(fx.fleet.cloudBuild.buildsOf(runKey)).toBe(1);
    const build = fx.fleet.cloudBuild.list().find((b) => (b.substitutions as Record<string, string>)[RUN_KEY_SUBSTITUTION] === runKey);
    expect(build).toMatchObject({ status: 'SUCCESS', substitutions: { _COMMIT: commit, _VERSION: '5.5.0' } });
    expect(op.steps.find((s) => s.name === 'upgrade-application')?.handles).toMatchObject({ build: build?.id, migrationsRan: 'false' });
  });

  it('a notification the Builds API refuses for good is recorded once, under its run\'s notice key, and the reconciler still finishes the step', async () => {
    const instance = await fx.seedInstance({ version: '5.4.2' });
    const id = await accept('instance.upgrade', instance.id, { targetVersion: '5.5.0', commit: 'c'.repeat(40) });
    for (let i = 0; i < 30 && (await fx.operation(id))?.steps.find((s) => s.name === 'upgrade-application')?.status !== 'running'; i += 1) {
      fx.clock.advance(10_000);
      await engine.reconcile({ outboxGraceMs: 0 });
    }
    fx.clock.advance(30_000);
    // The function reading the notifications is refused by the Builds API (HTTP 400): no answer will change by asking again.
    const refusing = fx.engineWith({
      executor: createCloudBuildExecutor({
        parent: `projects/${fx.projectId}/locations/us-central1`,
        settings: localBuildSettings(fx.projectId, 'acme/deployments'),
        clock: fx.clock,
        calls: { ...fx.fleet.cloudBuild, createBuild: (p, b) => fx.fleet.cloudBuild.createBuild(p, b), listBuilds: (p, r) => fx.fleet.cloudBuild.listBuilds(p, r), getBuild: () => Promise.reject(new ControlPlaneError('failed-precondition', 'cloudbuild.builds.get answered HTTP 400', { retryable: false })) },
      }),
    });
    const outcomes: unknown[] = [];
    const runKey = `${id}:upgrade-application`;
    await fx.fleet.cloudBuild.notifyDue(async (n) => {
      outcomes.push(await deliver(refusing.deps, buildNotificationsRoute(refusing), pubSubCloudEvent({ raw: n.data }, { topic: 'cloud-builds', message: { attributes: n.attributes } })));
    });
    const build = fx.fleet.cloudBuild.list().find((b) => (b.substitutions as Record<string, string>)[RUN_KEY_SUBSTITUTION] === runKey);
    const noticeKey = runNoticeKey(String(build?.id), 'succeeded');
    expect(outcomes).toContainEqual(expect.objectContaining({ kind: 'unprocessable', ledgerKey: noticeKey }));
    expect(await fx.store.get(`${COLLECTIONS.ledger}/${noticeKey}`)).toBeDefined();
    // The notice was only a wake-up: the reconciler asks the executor itself, and the upgrade ends.
    const op = await fx.driveToEnd(id, { engine });
    expect(op.status).toBe('succeeded');
    expect(fx.fleet.cloudBuild.buildsOf(runKey)).toBe(1);
  });

  it('a build that never leaves the queue ends EXPIRED: the operation fails, nothing left in flight', async () => {
    const instance = await fx.seedInstance();
    fx.fleet.cloudBuild.script({ instanceId: instance.id, action: 'apply' }, { kind: 'never-start' });
    const id = await accept('instance.module-apply', instance.id, { module: 'monitoring', commit: 'b'.repeat(40), action: 'apply', applyId: `${instance.id}.monitoring.bbbbbbbbbbbb` });
    const op = await fx.driveToEnd(id, { engine, stepMs: 60_000, rounds: 40 });
    expect(op.status).toBe('failed');
    // Monitoring holds no data: its apply takes no checkpoint.
    expect(op.steps.map((s) => s.name)).toEqual(['apply']);
    expect(op.steps[0]?.error).toContain('EXPIRED: never started');
    expect(op.steps[0]?.mayHaveStarted).toBe(false);
  });

  it('an apply of a data-bearing module takes a checkpoint of Cloud SQL and GKE first; its plan takes none', async () => {
    const instance = await fx.seedInstance();
    const id = await accept('instance.module-apply', instance.id, { module: 'database', commit: 'd'.repeat(40), action: 'apply', applyId: `${instance.id}.database.dddddddddddd` });
    const op = await fx.driveToEnd(id, { engine, stepMs: 10_000, rounds: 60 });
    expect(op.status).toBe('succeeded');
    const [sql, gke, apply] = ['checkpoint-sql-backup', 'checkpoint-gke-backup', 'apply'].map((name) => op.steps.find((s) => s.name === name));
    expect([sql?.status, gke?.status, apply?.status]).toEqual(['succeeded', 'succeeded', 'succeeded']);
    // The apply started only once both checkpoints had completed.
    for (const backup of [sql, gke]) expect(Date.parse(apply?.startedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(backup?.finishedAt ?? ''));
    expect(sql?.handles.backupRunId).toBeDefined();

    const plan = await accept('instance.module-apply', instance.id, { module: 'database', commit: 'd'.repeat(40), action: 'plan', applyId: `${instance.id}.database.dddddddddddd` });
    expect((await fx.operation(plan))?.steps.map((s) => s.name)).toEqual(['plan']);
    await fx.driveToEnd(plan, { engine, stepMs: 10_000, rounds: 60 });
  });

  it('a build cut off part-way leaves the operation stuck naming the state lock; abandoning it says how to release it', async () => {
    const instance = await fx.seedInstance();
    fx.fleet.cloudBuild.script({ instanceId: instance.id, action: 'apply' }, { kind: 'interrupt', status: 'TIMEOUT', step: 'terraform-apply' });
    const id = await accept('instance.module-apply', instance.id, { module: 'monitoring', commit: 'c'.repeat(40), action: 'apply', applyId: `${instance.id}.monitoring.cccccccccccc` });
    const op = await fx.driveToEnd(id, { engine, stepMs: 10 * 60_000, rounds: 60 });
    expect(op.status).toBe('stuck');
    expect((await fx.instance(instance.id))?.lease?.operationId).toBe(id);
    const lock = `gs://${fx.projectId}-tfstate-prod/instances/${instance.id}/monitoring/${instance.region}/default.tflock`;
    expect(op.steps[0]?.error).toContain(lock);
    await engine.abandon(id, 'oncall@example.com', 'checked: no build runs');
    const abandoned = await fx.operation(id);
    if (abandoned === undefined) throw new Error('the operation is gone');
    const advice = leftBehind(abandoned).join('\n');
    expect(advice).toContain(lock);
    expect(advice).toContain('terraform force-unlock');
  });
});

describe('a confirmed plan, applied exactly', () => {
  async function planned(instanceId: string, commit: string): Promise<Record<string, string>> {
    const id = await accept('instance.module-apply', instanceId, { module: 'monitoring', commit, action: 'plan', applyId: `${instanceId}.monitoring.${commit.slice(0, 12)}` });
    const op = await fx.driveToEnd(id, { engine });
    expect(op.status).toBe('succeeded');
    return op.steps.find((s) => s.name === 'plan')?.handles ?? {};
  }

  it('the plan run reports the saved file\'s digest and its shape; the apply of that digest applies it', async () => {
    const [one, two] = [await fx.seedInstance(), await fx.seedInstance()];
    const commit = 'c'.repeat(40);
    const first = await planned(one.id, commit);
    const second = await planned(two.id, commit);
    expect(first).toMatchObject({ planSummary: 'Plan: 0 to add, 1 to change, 0 to destroy.', planAdd: '0', planChange: '1', planDestroy: '0' });
    expect(first.planDigest).toMatch(/^[0-9a-f]{64}$/);
    // Each instance's plan is its own file; with their own names taken out, they are the same plan.
    expect(second.planDigest).not.toBe(first.planDigest);
    expect(second.planShape).toBe(first.planShape);

    const id = await accept('instance.module-apply', one.id, { module: 'monitoring', commit, action: 'apply', applyId: `${one.id}.monitoring.${commit.slice(0, 12)}`, planDigest: first.planDigest });
    const op = await fx.driveToEnd(id, { engine });
    expect(op.status).toBe('succeeded');
    const build = fx.fleet.cloudBuild.list().find((b) => (b.substitutions as Record<string, string>)[RUN_KEY_SUBSTITUTION] === `${id}:apply`);
    expect((build?.steps as Array<{ id: string }>).map((s) => s.id)).toEqual(['fetch-source', 'terraform-init', 'fetch-plan', 'verify-plan', 'terraform-apply']);
  });

  it('a confirmed plan whose saved file was replaced is refused by the apply, before anything is applied', async () => {
    const instance = await fx.seedInstance();
    const commit = 'd'.repeat(40);
    const { planDigest } = await planned(instance.id, commit);
    const [path] = [...fx.fleet.cloudBuild.plans().keys()].filter((p) => p.includes(`/instances/${instance.id}/monitoring/${commit}/`));
    fx.fleet.cloudBuild.replaceSavedPlan(path ?? '');
    const id = await accept('instance.module-apply', instance.id, { module: 'monitoring', commit, action: 'apply', applyId: `${instance.id}.monitoring.${commit.slice(0, 12)}`, planDigest });
    const op = await fx.driveToEnd(id, { engine });
    expect(op).toMatchObject({ status: 'failed', failure: { step: 'apply' } });
    expect(op.failure?.reason).toContain('at step verify-plan');
    expect(op.failure?.reason).toContain(`the saved plan is not the plan confirmed (sha256 ${planDigest ?? ''}): refused`);
    const build = fx.fleet.cloudBuild.list().find((b) => (b.substitutions as Record<string, string>)[RUN_KEY_SUBSTITUTION] === `${id}:apply`);
    expect((build?.steps as Array<{ id: string; status: string }>).map((s) => `${s.id} ${s.status}`).slice(3)).toEqual(['verify-plan FAILURE', 'terraform-apply CANCELLED']);
  });

  it("saves the plan's text beside it, naming the instance's own resources; the commands function reads it for a person, only from where that plan is saved", async () => {
    const [one, two] = [await fx.seedInstance(), await fx.seedInstance()];
    const commit = 'e'.repeat(40);
    const first = await planned(one.id, commit);
    const second = await planned(two.id, commit);
    const bucketName = `${fx.projectId}-plans-${one.environment}`;
    expect([first.planObject, second.planObject]).toEqual([planObjectOf(bucketName, one.id, 'monitoring', commit), planObjectOf(bucketName, two.id, 'monitoring', commit)]);
    // The file, its JSON and its text, as the upload step copies them.
    expect([...fx.fleet.plans.list().keys()].filter((k) => k.includes(`/instances/${one.id}/monitoring/${commit}/`)).map((k) => k.slice(k.lastIndexOf('/') + 1))).toEqual(['monitoring.tfplan', 'monitoring.tfplan.json', 'monitoring.tfplan.txt']);

    const plans = createPlanFilesReader({ endpoint: bucket.url, token: () => Promise.resolve('local') });
    const commands = servicesWith({}, { store: fx.store, bus: fx.bus, clock: fx.clock, plans }).commands.commands;
    const record = async (instance: typeof one, handles: Record<string, string>, over: Partial<ModuleApplyRecord> = {}): Promise<string> => {
      const id = `${instance.id}.monitoring.${commit.slice(0, 12)}`;
      const plan = planFactsOf(handles);
      await fx.store.set(deploymentPaths.moduleApply(id), {
        id, kind: 'module', instanceId: instance.id, environment: instance.environment, tier: instance.tier, module: 'monitoring', commit, committedAt: fx.clock.now().toISOString(), repository: 'acme/deployments',
        mode: 'confirm', wave: 0, status: 'awaiting-confirmation', request: null, operationId: null, planSummary: handles.planSummary ?? null, ...(plan === undefined ? {} : { plan }),
        confirmedBy: null, confirmedAt: null, supersededBy: null, failure: null, causeEventId: 'e', mergedBy: 'octocat', createdAt: fx.clock.now().toISOString(), updatedAt: fx.clock.now().toISOString(), ...over,
      } satisfies ModuleApplyRecord);
      return id;
    };
    const caller = { email: 'carol@example.com', subject: 'carol' };
    const read = async (applyId: string) => commands.run({ command: 'apply.plan', applyId }, caller);
    const textOf = (outcome: Awaited<ReturnType<typeof read>>) => (outcome.kind === 'accepted' ? String(outcome.answer.text) : `refused: ${outcome.message}`);

    const shown = await read(await record(one, first));
    expect(shown).toMatchObject({ kind: 'accepted', answer: { object: planTextObjectOf(first.planObject ?? ''), digest: first.planDigest, truncated: false } });
    const text = textOf(shown);
    expect(text).toContain('Plan: 0 to add, 1 to change, 0 to destroy.');
    expect(text).toContain(`project = "${one.resources.project}"`);
    const other = textOf(await read(await record(two, second)));
    // Two plans that differ only by each instance's names: their texts differ, their shapes agree.
    expect(other).not.toBe(text);
    expect(other.split(two.resources.project).join('<project>').split(two.id).join('<instance>')).toBe(text.split(one.resources.project).join('<project>').split(one.id).join('<instance>'));

    // A record naming another instance's plan is not read; a plan that is gone says so; so does a run that saved none.
    const forged = await read(await record(one, { ...first, planObject: second.planObject ?? '' }));
    expect(forged).toMatchObject({ kind: 'refused', code: 'conflict' });
    expect((forged as { message: string }).message).toContain(`is not where a plan of ${one.id}'s monitoring at ${commit} is saved`);
    fx.fleet.plans.remove(planTextObjectOf(second.planObject ?? ''));
    expect(await read(await record(two, second))).toMatchObject({ kind: 'refused', code: 'not-found', message: expect.stringContaining('is gone (plans are kept 30 days)') as unknown });
    const unsaved = Object.fromEntries(Object.entries(first).filter(([key]) => key !== 'planObject'));
    expect(await read(await record(one, unsaved))).toMatchObject({ kind: 'refused', code: 'not-found', message: expect.stringContaining('its plan run reported no saved plan') as unknown });
    // Cloud Storage failing is a fault to retry, not a refusal.
    fx.fleet.plans.faults.inject({ method: 'getObject', error: { httpStatus: 503 } });
    await expect(read(await record(one, first))).rejects.toMatchObject({ retryable: true });
  });
});

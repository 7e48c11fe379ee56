/**
 * Drives every function of the topology through its real service code, on the Firestore and
 * Pub/Sub emulators and the simulated fleet, each function with its own bus and ports wrapped
 * by one UsageRecorder: afterwards the recorder knows, per function, every topic it published to
 * and every simulated API (Cloud SQL, Backup for GKE, Cloud Scheduler, executor, deployment
 * repository) method it called.
 *
 * Each function is built as its wiring builds it (functions/*.ts, functions/*-production.ts,
 * cli/dev/stack.ts): the engine functions (lifecycle, reconcile, executorResults, commands)
 * each run an engine of their own whose executor is the production adapter requesting runs
 * through the outbox on that function's bus (status from the simulator, as `mi dev` reads it);
 * the compliance functions each their own createCompliance; rollout and rolloutEvents each
 * their own rollouts service; githubWebhook, deployments and commands their own webhook deps
 * and deployments consumers; commands also the rollouts service and the engine of its own. The HTTP functions are called through the functions
 * framework (a signed GitHub delivery, verified ID tokens); the Pub/Sub ones get the CloudEvent
 * their push subscription would deliver. What a function publishes on the live bus is
 * published on the emulator and delivered from there (in process, as the rollout driver does)
 * to the function its topic feeds; the executor's requests reach the simulated runner through
 * the emulator itself.
 *
 * Some first publishes go to a bus on a dead port, so that what they decided stays in the
 * outbox and the reconcile function must republish it: a rollout's upgrade commands, a webhook
 * delivery's push, the deployments consumer's commands, the engine's facts and an executor run
 * request. Every step checks what it did, so the recorded usage comes from paths that ran.
 *
 * Where the exercise differs from production, on purpose: the simulated clock (test timings,
 * rollouts whose deferred ticks move it on), a restore-drill sample of one, and the commands
 * function's deployments consumer given a recorded repository rather than one that refuses: a read would then show as
 * a use to grant instead of failing the path.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { PubSub } from '@google-cloud/pubsub';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import request from 'supertest';
import { expect } from 'vitest';
import { freePort } from '../../../cli/dev/emulators.js';
import { localBuildSettings } from '../../../cli/dev/services.js';
import { useServices } from '../../../functions/wiring.js';
import { servicesWith } from '../../support/services.js';
import { createCompliance, type Compliance, type Finding } from '../../../shared/compliance/index.js';
import { createDeploymentsConsumer, type DeploymentsConsumer } from '../../../shared/deployments/index.js';
import { MemoryDeploymentRepo } from '../../../shared/deployments/memory-repo.js';
import { checkWebhookConfig, type WebhookDeps } from '../../../shared/webhook/index.js';
import type { ModuleApplyRecord } from '../../../shared/domain/deployments/applies.js';
import { planObjectOf, planTextObjectOf } from '../../../shared/domain/executor/index.js';
import { DEFAULT_POLICY } from '../../../shared/domain/lifecycle/acceptance.js';
import type { OperationRecord } from '../../../shared/domain/lifecycle/operations.js';
import { finalBackupPlanFor } from '../../../shared/domain/lifecycle/resource-names.js';
import type { RolloutRecord } from '../../../shared/domain/rollout/index.js';
import type { Engine, OutboxEntry } from '../../../shared/engine/index.js';
import { makeEnvelope, type AnyEnvelope, type ExecutorAction, type InstanceSpec } from '../../../shared/events/index.js';
import { createPubSubBus, type ClosableEventBus } from '../../../shared/gcp/pubsub-bus.js';
import { createLocalSigner, localIdentity, type LocalSigner } from '../../../shared/identity/index.js';
import { silentLogger } from '../../../shared/log.js';
import type { Clock, EventBus, ExecutorPort, FirestoreAdminPort } from '../../../shared/ports.js';
import { createFirestoreAdmin } from '../../../shared/gcp/firestore-admin.js';
import { createFirestore, createFirestoreStore } from '../../../shared/gcp/firestore-store.js';
import { SimulatedFirestoreAdmin } from '../../../shared/sim/firestore-admin.js';
import { serveFirestoreAdmin } from '../../../shared/sim/firestore-admin-http.js';
import { createRollouts, type Rollouts } from '../../../shared/rollout/index.js';
import { moduleChangeId } from '../../../shared/domain/rollout/index.js';
import { createCommands } from '../../../shared/commands/index.js';
import { defaultEntitlements } from '../../../shared/domain/access/entitlements.js';
import { createIamPolicyReader } from '../../../shared/gcp/iam-policies.js';
import { createNotifier } from '../../../shared/notify/index.js';
import { createDashboard } from '../../../shared/dashboard/index.js';
import { createOpsGeniePager } from '../../../shared/gcp/opsgenie.js';
import { createSlackWebhookPoster } from '../../../shared/gcp/slack-webhook.js';
import { serveOpsGenieStandIn } from '../../../shared/sim/opsgenie.js';
import { serveSlackStandIn } from '../../../shared/sim/slack.js';
import { createPamClient } from '../../../shared/gcp/pam.js';
import { servePam } from '../../../shared/sim/pam-http.js';
import { SimulatedPam } from '../../../shared/sim/pam.js';
import { createCloudBuildExecutor } from '../../../shared/gcp/cloud-build.js';
import { buildNotificationsRoute, executorResultsRoute } from '../../../shared/routes.js';
import { SCHEDULES, TOPICS } from '../../../shared/topology.js';
import { pubSubCloudEvent } from '../../../harness/cloud-event.js';
import { createEngineFixture, uniqueId, type EngineFixture } from '../../support/engine-fixture.js';
import type { UsageRecorder } from '../../support/usage.js';
import { scheduleDelivery, seedWithFault } from '../compliance/support.js';
import { ALWAYS_OPEN } from '../rollout/support.js';
import { GITHUB_IDENTITIES, REPOSITORY, SECRET, instanceConfig, instanceRoot, pushPayload, recordingBus, sha, signedHeaders } from '../webhook/support.js';
// Registers the HTTP functions with the functions framework, for getTestServer.
import '../../../functions/commands.js';
import '../../../functions/github-webhook.js';
import '../../../functions/dashboard.js';
import { compliancePaths, deploymentPaths, paths, rolloutPaths, sealPaths } from '../../../shared/store/collections.js';
import { evidenceBucketName } from '../../../shared/domain/compliance/anchor.js';
import { ManualClock } from '../../../shared/sim/clock.js';
import { deliver } from '../../../shared/edge.js';
import { complianceCheckRoute, complianceScheduleRoute, deploymentsRoute, lifecycleRoute, notifyRoute, rolloutEventsRoute, rolloutRoute } from '../../../shared/routes.js';

const HOUR = 3_600_000;
const COMMANDS_AUDIENCE = 'https://commands-rights.example.run.app';

/** What every part of the exercise shares: one project, one clock, the simulated fleet, the live and the dead bus. */
interface World {
  fx: EngineFixture;
  recorder: UsageRecorder;
  /** The emulator's bus, remembering what was published on it (the functions' live buses wrap it). */
  live: EventBus;
  /** A bus on a port where nothing listens: every publish fails after its deadline. */
  dead: ClosableEventBus;
  signer: LocalSigner;
  /** The simulated PAM, served over HTTP (its grants on the world's clock). */
  pam: { sim: SimulatedPam; url: string; entitlements: string[]; close(): Promise<void> };
  /** Envelopes published on the live bus to `topic` since the last take of that topic. */
  take(topic: string): AnyEnvelope[];
  /** A function's engine, with its own recorded bus (live unless told) and ports. */
  engineOf(fn: string, bus?: EventBus): Engine;
  /** The executor as the test reads it (nothing recorded): what the builds say. */
  builds: ExecutorPort;
  /** The executor port of a function: the Cloud Build adapter on the simulated Builds API, its calls recorded. */
  executorOf(fn: string, bus: EventBus): ExecutorPort;
  /** The engines of the functions that deliver commands, advance operations and record results. */
  engines: { lifecycle: Engine; reconcile: Engine; executorResults: Engine; buildNotifications: Engine };
}

function delivery(w: World, envelope: AnyEnvelope, topic: string) {
  return pubSubCloudEvent(envelope, { project: w.fx.projectId, topic });
}

/** Delivers what was published on mi-lifecycle to the lifecycle function (or a cut-off copy of it); the operations it accepted. */
async function deliverCommands(w: World, engine: Engine = w.engines.lifecycle): Promise<Array<{ envelope: AnyEnvelope; operationId: string | null; outcome: string }>> {
  const handled = [];
  for (const envelope of w.take(TOPICS.lifecycle)) {
    const outcome = await deliver(engine.deps, lifecycleRoute(engine), delivery(w, envelope, TOPICS.lifecycle));
    handled.push({ envelope, operationId: outcome.kind === 'accepted' ? outcome.operationId : null, outcome: outcome.kind === 'rejected' ? `rejected ${outcome.code}` : outcome.kind });
  }
  return handled;
}

/** The ticks on mi-rollout so far, each delivered to the rollout function (a module change's, here). */
async function deliverTicks(w: World): Promise<number> {
  const rollout = rolloutsOf(w, w.recorder.bus('rollout', w.live));
  const ticks = w.take(TOPICS.rollout);
  for (const tick of ticks) await deliver(rollout.deps, rolloutRoute(rollout), delivery(w, tick, TOPICS.rollout));
  return ticks.length;
}

/** Cloud Build's notifications so far, each delivered to the buildNotifications function as Pub/Sub pushes it. */
async function deliverBuildNotifications(w: World): Promise<number> {
  const engine = w.engines.buildNotifications;
  return w.fx.fleet.cloudBuild.notifyDue(async (n) => {
    await deliver(engine.deps, buildNotificationsRoute(engine), pubSubCloudEvent({ raw: n.data }, { project: w.fx.projectId, topic: TOPICS.buildNotifications, message: { attributes: n.attributes } }));
  });
}

/** Drives operations to their end: the reconcile function advances them, the buildNotifications function records the builds that ended. */
async function settle(w: World, operationIds: ReadonlyArray<string | null>, stepMs = 10_000): Promise<OperationRecord[]> {
  const ended: OperationRecord[] = [];
  for (const id of operationIds) {
    if (id === null) continue;
    let op: OperationRecord | undefined;
    for (let round = 0; round < 120; round += 1) {
      op = await w.fx.operation(id);
      if (op && op.status !== 'running' && op.status !== 'stuck') break;
      w.fx.clock.advance(stepMs);
      await deliverBuildNotifications(w);
      await w.engines.reconcile.reconcile({ outboxGraceMs: 0 });
    }
    if (op === undefined) throw new Error(`operation ${id} does not exist`);
    ended.push(op);
  }
  return ended;
}

/**
 * Moves the clock until the step's build has ended, and has that reach the engine first by `via`
 * (before the reconciler polls it): a build notification, or an external runner's report.
 */
async function endFirst(w: World, operationId: string, step: string, via: 'notification' | 'runner'): Promise<void> {
  for (let round = 0; round < 600; round += 1) {
    // The clock moves first, so a build that has just ended is told of before the reconciler polls it.
    w.fx.clock.advance(1_000);
    const op = await w.fx.operation(operationId);
    const running = op?.steps.find((s) => s.name === step)?.status === 'running';
    const state = running ? (await w.builds.getRunStatus(`${operationId}:${step}`)).state : 'unknown';
    if (state === 'succeeded' || state === 'failed') {
      const before = op?.steps.find((s) => s.name === step)?.status;
      if (via === 'runner') expect(await reportAsRunner(w, `${operationId}:${step}`, (op?.steps.find((s) => s.name === step)?.params.action ?? 'verify') as ExecutorAction)).toBe('recorded');
      else await deliverBuildNotifications(w);
      const after = (await w.fx.operation(operationId))?.steps.find((s) => s.name === step)?.status;
      expect([before, after], `${step} of ${operationId} recorded by the ${via}`).toEqual(['running', state]);
      return;
    }
    await w.engines.reconcile.reconcile({ outboxGraceMs: 0 });
  }
  throw new Error(`${step} of ${operationId} never ended`);
}

/**
 * The external runner's contract, still served by the executorResults function: the outcome of a
 * run, reported on mi-executor-results (here for a build that has ended), recorded on its step.
 */
async function reportAsRunner(w: World, runKey: string, action: ExecutorAction): Promise<string> {
  const status = await w.builds.getRunStatus(runKey);
  if (status.state !== 'succeeded' && status.state !== 'failed') throw new Error(`run ${runKey} has not ended (${status.state})`);
  const envelope = makeEnvelope({ type: 'executor.run-finished', actor: 'system:runner', reason: 'run finished', payload: { runKey, action, outcome: status.state, detail: status.detail ?? status.state } });
  const outcome = await deliver(w.engines.executorResults.deps, executorResultsRoute(w.engines.executorResults), pubSubCloudEvent(envelope, { project: w.fx.projectId, topic: TOPICS.executorResults }));
  return (outcome as { kind: string }).kind;
}

/**
 * The reconcile function republishes what other functions left in the outbox: every entry
 * there now (which must name `topics`) is published by it and gone afterwards.
 */
async function reconcileDrains(w: World, what: string, topics: readonly string[]): Promise<void> {
  const left = (await w.fx.store.query<OutboxEntry>({ collection: 'outbox' })).map((d) => d.data);
  expect([...new Set(left.map((e) => e.topic))].sort(), `outbox entries left by ${what}`).toEqual(expect.arrayContaining([...topics]) as unknown);
  const summary = await w.engines.reconcile.reconcile({ outboxGraceMs: 0 });
  expect(summary.outbox.published, `reconcile republishing ${what}`).toBe(summary.outbox.found);
  expect(summary.outbox.found).toBeGreaterThanOrEqual(left.length);
  const remaining = new Set((await w.fx.store.query<OutboxEntry>({ collection: 'outbox' })).map((d) => d.data.envelope.eventId));
  expect(left.filter((e) => remaining.has(e.envelope.eventId)).map((e) => `${e.topic} ${e.envelope.type}`), `left in the outbox after reconcile (${what})`).toEqual([]);
}

/** Posts to an HTTP function through the functions framework. */
function post(name: string, body: string | object, headers: Record<string, string>) {
  return request(getTestServer(name)).post('/').set(headers).send(body);
}

/** The commands function, as `mi` calls it: a verified token of `email`, in both headers. */
async function command(w: World, email: string, body: object) {
  const token = await w.signer.sign({ email, audience: COMMANDS_AUDIENCE });
  return post('commands', body, { authorization: `Bearer ${token}`, 'x-serverless-authorization': `Bearer ${token}` });
}

/** The commands function's own services: its engine, deployments consumer and rollouts, on its recorded bus. */
function useCommands(w: World, r: RepositoryFunctions, on: EventBus = w.live): void {
  const bus = w.recorder.bus('commands', on);
  const commands = createCommands({
    store: w.fx.store,
    bus,
    clock: w.fx.clock,
    log: silentLogger,
    engine: w.engineOf('commands'),
    deployments: r.consumerOf('commands', w.live),
    rollouts: rolloutsOf(w, bus),
    cloudSql: w.recorder.port('commands', 'cloudSql', w.fx.fleet.cloudSql),
    gkeBackup: w.recorder.port('commands', 'gkeBackup', w.fx.fleet.gkeBackup),
    plans: w.recorder.port('commands', 'plans', w.fx.fleet.plans),
    // A command whose builds run the repository is accepted at its branch head.
    repo: w.recorder.port('commands', 'repo', r.repo),
    branch: 'main',
  });
  useServices(servicesWith({ commands: { identity: localIdentity(w.signer), audiences: [COMMANDS_AUDIENCE], commands } }));
}

// ------------------------------------------------------------------------------------------ engine

/** lifecycle, reconcile, executorResults: an upgrade, a backup and a create accepted, advanced and finished. */
async function exerciseOperations(w: World): Promise<void> {
  const upgraded = await w.fx.seedInstance();
  const backedUp = await w.fx.seedInstance();
  const specOf = (id: string): InstanceSpec => ({ id, slug: id, environment: 'dev', tier: 'internal', domain: `${id}.example.com`, region: 'us-central1', version: '5.4.2', owner: 'dana@example.com' });
  const [first, second] = [uniqueId('new'), uniqueId('new')];
  const commands = [
    w.fx.command('instance.upgrade', upgraded.id, { targetVersion: '5.5.0' }),
    w.fx.command('instance.backup', backedUp.id, {}),
    // Its first step is the executor's provision run: the lifecycle function itself asks for it.
    w.fx.command('instance.create', first, { spec: specOf(first) }),
    w.fx.command('instance.create', second, { spec: specOf(second) }),
  ];
  const accepted = [];
  for (const envelope of commands) {
    const outcome = await deliver(w.engines.lifecycle.deps, lifecycleRoute(w.engines.lifecycle), delivery(w, envelope, TOPICS.lifecycle));
    expect(outcome.kind, `lifecycle accepting ${envelope.type}`).toBe('accepted');
    accepted.push(`op-${envelope.eventId}`);
  }
  // A provision run's end, told by an external runner (executorResults) and by a build notification
  // (buildNotifications): each records it and starts the steps after it (backup configuration, GKE backup plan).
  await endFirst(w, accepted[2] ?? '', 'provision', 'runner');
  await endFirst(w, accepted[3] ?? '', 'provision', 'notification');
  // The upgrade's run (after its backups) too, recorded by executorResults; the gate after it, polled by reconcile, ends it and asks for its version to be written back.
  await endFirst(w, accepted[0] ?? '', 'upgrade-application', 'runner');
  const ended = await settle(w, accepted);
  expect(ended.map((op) => [op.type, op.status])).toEqual([
    ['upgrade', 'succeeded'],
    ['backup', 'succeeded'],
    ['create', 'succeeded'],
    ['create', 'succeeded'],
  ]);

  // Point-in-time restores: a clone, then the switch-over run, whose end asks for the verify run,
  // which ends the operation. Told once by a notification then a runner, once the other way round.
  w.fx.clock.advance(HOUR);
  const restoredToo = await w.fx.seedInstance();
  w.fx.clock.advance(HOUR);
  for (const [instance, first, then] of [
    [backedUp, 'notification', 'runner'],
    [restoredToo, 'runner', 'notification'],
  ] as const) {
    const restore = w.fx.command('instance.restore', instance.id, { source: { kind: 'point-in-time', time: new Date(w.fx.clock.now().getTime() - 30 * 60_000).toISOString() } });
    expect((await deliver(w.engines.lifecycle.deps, lifecycleRoute(w.engines.lifecycle), delivery(w, restore, TOPICS.lifecycle))).kind).toBe('accepted');
    const restoreId = `op-${restore.eventId}`;
    await endFirst(w, restoreId, 'switch-over', first);
    await endFirst(w, restoreId, 'verify-application', then);
    const [restored] = await settle(w, [restoreId]);
    expect(restored?.steps.map((step) => [step.name, step.status])).toEqual(
      expect.arrayContaining([
        ['switch-over', 'succeeded'],
        ['verify-application', 'succeeded'],
      ]),
    );
    expect(restored?.status).toBe('succeeded');
  }

  // Steps the reconcile function itself starts: a GKE backup whose first create answered 503
  // (before taking effect) is created again by it, and so is a dev delete's final backup plan
  // in the central backup project.
  const retried = await w.fx.seedInstance();
  w.fx.fleet.gkeBackup.faults.inject({ method: 'createBackup', target: retried.resources.backupPlan, error: { httpStatus: 503 } });
  const backup = w.fx.command('instance.backup', retried.id, {});
  expect((await deliver(w.engines.lifecycle.deps, lifecycleRoute(w.engines.lifecycle), delivery(w, backup, TOPICS.lifecycle))).kind).toBe('accepted');
  const doomed = await w.fx.seedInstance({ environment: 'dev', tier: 'internal', expiresAt: '2026-12-30T00:00:00Z' });
  await w.fx.store.set(paths.slug('dev', doomed.slug), { instanceId: doomed.id });
  const finalPlan = finalBackupPlanFor(doomed.id, doomed.region, DEFAULT_POLICY.centralBackupProject);
  w.fx.fleet.gkeBackup.faults.inject({ method: 'createBackupPlan', target: finalPlan.name, error: { httpStatus: 503 } });
  const deletion = w.fx.command('instance.delete', doomed.id, {});
  expect((await deliver(w.engines.lifecycle.deps, lifecycleRoute(w.engines.lifecycle), delivery(w, deletion, TOPICS.lifecycle))).kind).toBe('accepted');
  expect(w.fx.fleet.gkeBackup.faults.pending(), 'the injected 503s were answered to the lifecycle function').toBe(0);
  const retriedEnds = await settle(w, [`op-${backup.eventId}`, `op-${deletion.eventId}`], 30_000);
  expect(retriedEnds.map((op) => [op.type, op.status, op.steps.find((s) => s.kind === 'gke-backup' || s.kind === 'gke-ensure-backup-plan')?.attempts])).toEqual([
    ['backup', 'succeeded', 2],
    ['delete', 'succeeded', 2],
  ]);
}

/**
 * commands: a prod delete sent by alice (on mi-lifecycle) waits for a second person; alice's own
 * approval is refused, bob's moves it on, and it runs to its end.
 */
async function exerciseApprovals(w: World): Promise<void> {
  const doomed = await w.fx.seedInstance();
  // `mi backup list`: the backups an incident needs, read with the function's own account.
  const listed = await command(w, 'alice@example.com', { command: 'backup.list', instanceId: doomed.id });
  expect([listed.status, (listed.body as { instanceId: string }).instanceId]).toEqual([200, doomed.id]);
  const sent = await command(w, 'alice@example.com', { command: 'instance.delete', eventId: randomUUID(), instanceId: doomed.id, reason: 'customer left', payload: { confirmSlug: doomed.slug } });
  expect(sent.status, JSON.stringify(sent.body)).toBe(200);
  const [accepted] = await deliverCommands(w);
  const operationId = accepted?.operationId ?? '';
  expect(accepted).toMatchObject({ operationId: `op-${String((sent.body as { eventId: string }).eventId)}`, envelope: { actor: 'alice@example.com', origin: 'commands' } });
  for (let i = 0; i < 3; i += 1) {
    w.fx.clock.advance(60_000);
    await w.engines.reconcile.reconcile({ outboxGraceMs: 0 });
  }
  expect((await w.fx.operation(operationId))?.steps[0]).toMatchObject({ name: 'await-approval', status: 'running' });
  const own = await command(w, 'alice@example.com', { command: 'operation.approve', operationId });
  expect(own.status).toBe(403);
  const res = await command(w, 'bob@example.com', { command: 'operation.approve', operationId });
  expect([res.status, res.body]).toEqual([200, { accepted: 'operation.approve', approved: operationId, by: 'bob@example.com' }]);
  const [ended] = await settle(w, [operationId], 30_000);
  expect(ended).toMatchObject({ status: 'succeeded', approval: { approvedBy: 'bob@example.com' } });

  // Another, whose final GKE backup is refused as it starts: the operation the approval moves on fails, and its facts go out.
  const refused = await w.fx.seedInstance();
  w.fx.fleet.gkeBackup.faults.inject({ method: 'createBackup', target: finalBackupPlanFor(refused.id, refused.region, DEFAULT_POLICY.centralBackupProject).name, error: { httpStatus: 400, message: 'backup plan not ready' } });
  const second = w.fx.command('instance.delete', refused.id, { confirmSlug: refused.slug });
  expect((await deliver(w.engines.lifecycle.deps, lifecycleRoute(w.engines.lifecycle), delivery(w, second, TOPICS.lifecycle))).kind).toBe('accepted');
  expect((await command(w, 'bob@example.com', { command: 'operation.approve', operationId: `op-${second.eventId}` })).status).toBe(200);
  expect(await w.fx.operation(`op-${second.eventId}`)).toMatchObject({ status: 'failed', failure: { step: 'final-gke-backup' } });
  expect((await w.fx.instance(refused.id))?.lease).toBeNull();
}

// ------------------------------------------------------------------------------------------ compliance

function complianceOf(w: World, fn: 'complianceSchedule' | 'complianceCheck', schedulerParent: string, clock: Clock = w.fx.clock, firestoreAdmin?: FirestoreAdminPort): Compliance {
  const { fx, recorder } = w;
  const token = () => w.signer.sign({ email: `mi-fn-${fn}@p.iam.gserviceaccount.com`, audience: w.pam.url });
  return createCompliance({
    store: fx.store,
    bus: recorder.bus(fn, w.live),
    cloudSql: recorder.port(fn, 'cloudSql', fx.fleet.cloudSql),
    gkeBackup: recorder.port(fn, 'gkeBackup', fx.fleet.gkeBackup),
    scheduler: recorder.port(fn, 'scheduler', fx.fleet.scheduler),
    evidence: recorder.port(fn, 'evidence', fx.fleet.plans.bucketPort(evidenceBucketName(fx.projectId))),
    ...(firestoreAdmin === undefined ? {} : { firestoreAdmin: recorder.port(fn, 'firestoreAdmin', firestoreAdmin) }),
    clock,
    schedulerParent,
    drillSampleSize: 1,
    // The manual clock never lets a restore end while a run waits: each tick takes one step.
    drillFollowMs: 0,
    access: {
      pam: recorder.port(fn, 'access', createPamClient({ endpoint: w.pam.url, token })),
      policies: recorder.port(fn, 'iamPolicies', createIamPolicyReader({ endpoint: w.pam.url, token })),
      entitlements: w.pam.entitlements,
    },
  });
}

/**
 * complianceSchedule: verify-backups fanned out, check-retention deleting an expired dev instance,
 * the daily report alerting on failures, a restore drill. complianceCheck: every instance's check
 * (drift remediated on mi-lifecycle, failures recorded) and the schedules' own check.
 */
async function exerciseCompliance(w: World): Promise<void> {
  const { fx } = w;
  const location = 'us-central1';
  const schedulerParent = `projects/${fx.projectId}/locations/${location}`;
  fx.fleet.scheduler.seedTopology(fx.projectId, location);
  for (const s of SCHEDULES) fx.fleet.scheduler.setLastAttempt(`${schedulerParent}/jobs/${s.name}`, { code: 0 }, new Date(fx.clock.now().getTime() - 30_000));
  const schedule = complianceOf(w, 'complianceSchedule', schedulerParent);
  const check = complianceOf(w, 'complianceCheck', schedulerParent);

  const drifted = await seedWithFault(fx, uniqueId('drift'), 'backups-off');
  const stale = await seedWithFault(fx, uniqueId('stale'), 'stale-backup');
  await seedWithFault(fx, uniqueId('ok'), 'healthy');
  const now = fx.clock.now().getTime();
  const expired = await fx.seedInstance({ environment: 'dev', tier: 'internal', maintenanceWindow: undefined, expiresAt: new Date(now - 30 * HOUR).toISOString() });
  const expiring = await fx.seedInstance({ environment: 'dev', tier: 'internal', maintenanceWindow: undefined, expiresAt: new Date(now + 10 * HOUR).toISOString() });

  // verify-backups: one check per instance and one for the schedules, each delivered to complianceCheck.
  const verify = await deliver(schedule.deps, complianceScheduleRoute(schedule), scheduleDelivery(fx, 'verify-backups', fx.clock.now()));
  if (verify.kind !== 'fanned-out') throw new Error(`verify-backups did not fan out: ${JSON.stringify(verify)}`);
  const checks = w.take(TOPICS.checks);
  expect(checks.length).toBe(verify.result.published + 1);
  for (const envelope of checks) expect((await deliver(check.deps, complianceCheckRoute(check), delivery(w, envelope, TOPICS.checks))).kind).toBe('written');
  const runId = verify.result.runId;
  const findingOf = (id: string) => fx.store.get<Finding>(compliancePaths.finding(runId, id));
  expect((await findingOf(drifted.id))?.remediation).not.toBeNull();
  expect((await findingOf(stale.id))?.failedControls).toEqual(['sql.recent-backup']);
  // The remediation complianceCheck asked for on mi-lifecycle runs as a leased operation.
  const remediations = await deliverCommands(w);
  expect(remediations.map((r) => [r.envelope.type, r.envelope.instanceId, r.outcome])).toEqual([['instance.remediate', drifted.id, 'accepted']]);
  expect((await settle(w, remediations.map((r) => r.operationId))).map((op) => op.status)).toEqual(['succeeded']);

  // check-retention: a notice for the dev instance expiring soon, a delete for the one past grace.
  const retention = await deliver(schedule.deps, complianceScheduleRoute(schedule), scheduleDelivery(fx, 'check-retention', fx.clock.now()));
  expect(retention).toMatchObject({ kind: 'retention', result: { notified: [expiring.id], deleteRequested: [{ instanceId: expired.id }] } });
  const deletes = await deliverCommands(w);
  expect(deletes.map((d) => [d.envelope.type, d.envelope.instanceId, d.outcome])).toEqual([['instance.delete', expired.id, 'accepted']]);
  expect((await settle(w, deletes.map((d) => d.operationId), 30_000)).map((op) => op.status)).toEqual(['succeeded']);

  // compliance-report: the verify run has failures, so an alert goes out on mi-events.
  const report = await deliver(schedule.deps, complianceScheduleRoute(schedule), scheduleDelivery(fx, 'compliance-report', fx.clock.now()));
  expect(report).toMatchObject({ kind: 'report', reportOf: runId });
  const alerts = w.take(TOPICS.events).filter((e) => e.type === 'alert' && e.actor === 'system:compliance-report');
  expect(alerts.length).toBe(1);

  // restore-drill: a sampled instance's latest backup restored into a throwaway, as a leased operation.
  const drill = await deliver(schedule.deps, complianceScheduleRoute(schedule), scheduleDelivery(fx, 'restore-drill', fx.clock.now()));
  expect(drill).toMatchObject({ kind: 'drill', result: { sample: [expect.anything()] } });
  const drills = await deliverCommands(w);
  expect(drills.map((d) => [d.envelope.type, d.outcome])).toEqual([['instance.restore-drill', 'accepted']]);
  const [drilled] = await settle(w, drills.map((d) => d.operationId), 60_000);
  expect(drilled?.status).toBe('succeeded');

  // access-review: PAM's grants read into the audit trail, the prod folder's policy swept.
  w.pam.sim.create('dana@example.com', w.pam.entitlements.find((e) => e.endsWith('/dev-operator')) ?? '', { requestedDuration: '3600s', justification: { unstructuredJustification: 'debugging' } });
  const reviewed = await deliver(schedule.deps, complianceScheduleRoute(schedule), scheduleDelivery(fx, 'access-review', fx.clock.now()));
  expect(reviewed).toMatchObject({ kind: 'access-review', result: { newEvents: 3, findings: [] } });

  // anchor-records, the next night: the day's records linked and anchored in the evidence bucket.
  // A crash between the anchor's write and the cursor's leaves the day to anchor again: the object
  // is there, so it is read back and kept.
  const tonight = new ManualClock(new Date(Date.parse(`${fx.clock.now().toISOString().slice(0, 10)}T00:30:00.000Z`) + 86_400_000));
  const anchoring = complianceOf(w, 'complianceSchedule', schedulerParent, tonight);
  const anchored = await deliver(anchoring.deps, complianceScheduleRoute(anchoring), scheduleDelivery(fx, 'anchor-records', tonight.now()));
  expect(anchored).toMatchObject({ kind: 'anchoring', result: { anchored: [expect.objectContaining({ day: fx.clock.now().toISOString().slice(0, 10) })] } });
  await fx.store.set(sealPaths.cursor, { ...(await fx.store.get(sealPaths.cursor)), anchoredThrough: null });
  tonight.advance(10 * 60_000);
  const again = await deliver(anchoring.deps, complianceScheduleRoute(anchoring), scheduleDelivery(fx, 'anchor-records', tonight.now()));
  expect(again).toMatchObject({ kind: 'anchoring', result: { anchored: [expect.anything()] } });

  // drill-database: the newest backup of the control plane's database restored into a scratch database, compared, and the scratch database deleted.
  const databases = new SimulatedFirestoreAdmin({ emulatorHost: process.env.FIRESTORE_EMULATOR_HOST ?? '', project: fx.projectId, clock: tonight, readyAfterMs: 0, restoreMs: 60_000 });
  const databasesApi = await serveFirestoreAdmin(databases);
  try {
    const admin = createFirestoreAdmin({ project: fx.projectId, endpoint: databasesApi.url, token: () => Promise.resolve('test'), open: (databaseId) => createFirestoreStore({ firestore: createFirestore(fx.projectId, { databaseId }) }) });
    const drilling = complianceOf(w, 'complianceSchedule', schedulerParent, tonight, admin);
    tonight.advance(15 * 60_000);
    expect(await deliver(drilling.deps, complianceScheduleRoute(drilling), scheduleDelivery(fx, 'drill-database', tonight.now()))).toMatchObject({ kind: 'database-drill', result: { phase: 'restoring' } });
    tonight.advance(15 * 60_000);
    expect(await deliver(drilling.deps, complianceScheduleRoute(drilling), scheduleDelivery(fx, 'drill-database', tonight.now()))).toMatchObject({ kind: 'database-drill', result: { phase: 'done' } });
    expect(databases.databaseIds()).toEqual([]);
  } finally {
    await databasesApi.close();
  }

  // `mi compliance run`: a person's run, through the commands function, on mi-compliance.
  w.take(TOPICS.compliance);
  const asked = await command(w, 'alice@example.com', { command: 'compliance.run', eventId: randomUUID(), schedule: 'check-retention' });
  expect(asked.status, JSON.stringify(asked.body)).toBe(200);
  expect(w.take(TOPICS.compliance)).toEqual([expect.objectContaining({ type: 'compliance.run-requested', actor: 'alice@example.com', origin: 'commands' })]);
}

// ------------------------------------------------------------------------------------------ rollout

function rolloutsOf(w: World, bus: EventBus): Rollouts {
  return createRollouts({
    store: w.fx.store,
    bus,
    clock: w.fx.clock,
    // A deferred tick waits on the simulated clock, which then moves on.
    sleep: (ms) => {
      w.fx.clock.advance(ms);
      return Promise.resolve();
    },
  });
}

/**
 * rollout: a rollout's first tick (on a dead bus: its upgrades wait in the outbox until the
 * reconcile function republishes them), then, after one upgrade failed, the tick that halts it
 * and alerts. rolloutEvents: the upgrades' outcomes recorded, each ticking the rollout.
 */
async function exerciseRollout(w: World): Promise<void> {
  const { fx, recorder } = w;
  const dev = { environment: 'dev' as const, tier: 'internal' as const, maintenanceWindow: undefined };
  const good = await fx.seedInstance(dev);
  const bad = await fx.seedInstance(dev);
  // Keep the other waves out of reach: their instances are not touched once dev halts.
  await fx.seedInstance({ environment: 'prod', tier: 'customer', maintenanceWindow: ALWAYS_OPEN });
  fx.fleet.cloudBuild.script({ instanceId: bad.id, action: 'upgrade' }, { kind: 'fail-step', step: 'rollout-status', detail: 'deployment "app" exceeded its progress deadline' });
  // Facts published so far are not the rollout's.
  w.take(TOPICS.events);

  // `mi rollout start`, through the commands function, which publishes the first tick.
  const started = await command(w, 'alice@example.com', { command: 'rollout.start', targetVersion: '5.6.0', waves: 'dev:max=10:budget=0:soak=0,internal:max=10:soak=0,canary:budget=0:max=5:soak=0,customers:max=10', reason: 'monthly release' });
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  const rolloutId = (started.body as { rollout: RolloutRecord }).rollout.id;

  const cutOff = rolloutsOf(w, recorder.bus('rollout', w.dead));
  const [firstTick] = w.take(TOPICS.rollout);
  if (firstTick === undefined) throw new Error('the rollout start published no tick');
  const ticked = await deliver(cutOff.deps, rolloutRoute(cutOff), delivery(w, firstTick, TOPICS.rollout));
  expect(ticked).toMatchObject({ [rolloutId]: { kind: 'ticked', started: expect.arrayContaining([good.id, bad.id]) as unknown } });
  await reconcileDrains(w, "the rollout's upgrade commands", [TOPICS.lifecycle]);

  const upgrades = await deliverCommands(w);
  expect(upgrades.filter((u) => u.envelope.type === 'instance.upgrade' && u.outcome === 'accepted').map((u) => u.envelope.instanceId)).toEqual(expect.arrayContaining([good.id, bad.id]));
  const ended = await settle(w, upgrades.map((u) => u.operationId));
  expect(ended.filter((op) => op.instanceId === bad.id).map((op) => op.status)).toEqual(['failed']);

  // rolloutEvents sees every fact on mi-events; it records the upgrades' outcomes and ticks the rollout.
  const rolloutEvents = rolloutsOf(w, recorder.bus('rolloutEvents', w.live));
  const recorded: string[] = [];
  for (const envelope of w.take(TOPICS.events)) {
    const outcome = await deliver(rolloutEvents.deps, rolloutEventsRoute(rolloutEvents), delivery(w, envelope, TOPICS.events));
    if (outcome.kind === 'recorded') recorded.push(outcome.instanceId);
  }
  expect(recorded).toEqual(expect.arrayContaining([good.id, bad.id]));

  const rollout = rolloutsOf(w, recorder.bus('rollout', w.live));
  const ticks = w.take(TOPICS.rollout);
  expect(ticks.length).toBeGreaterThanOrEqual(1);
  for (const tick of ticks) {
    fx.clock.advance(2_000);
    await deliver(rollout.deps, rolloutRoute(rollout), delivery(w, tick, TOPICS.rollout));
  }
  // The schedule's tick too: a halted rollout is not running, so it starts nothing.
  await deliver(rollout.deps, rolloutRoute(rollout), pubSubCloudEvent({ schedule: 'rollout-tick' }, { project: fx.projectId, topic: TOPICS.rollout }));
  const halted = await fx.store.get<RolloutRecord>(rolloutPaths.rollout(rolloutId));
  expect(halted).toMatchObject({ status: 'halted', halt: { wave: 'dev', failed: [bad.id] } });
  const alerts = w.take(TOPICS.events).filter((e) => e.type === 'alert' && JSON.stringify(e.payload).includes(rolloutId));
  expect(alerts.length).toBe(1);
}

// ------------------------------------------------------------------------------------------ deployment repository

interface RepositoryFunctions {
  repo: MemoryDeploymentRepo;
  webhook: WebhookDeps;
  deployments: DeploymentsConsumer;
  consumerOf(fn: 'deployments' | 'commands', bus: EventBus): DeploymentsConsumer;
}

function repositoryFunctions(w: World): RepositoryFunctions {
  const { fx, recorder } = w;
  const repo = new MemoryDeploymentRepo();
  // The protected branch has history before the merges the exercise makes.
  repo.commit(sha(0x0fff), {}, { branch: 'main' });
  const consumerOf = (fn: 'deployments' | 'commands', bus: EventBus): DeploymentsConsumer => {
    const recorded = recorder.bus(fn, bus);
    return createDeploymentsConsumer({
      store: fx.store,
      githubIdentities: GITHUB_IDENTITIES,
      bus: recorded,
      repo: recorder.port(fn, 'repo', repo),
      executor: w.executorOf(fn, recorded),
      clock: fx.clock,
      fanOuts: rolloutsOf(w, recorded),
    });
  };
  const webhook: WebhookDeps = {
    store: fx.store,
    bus: recorder.bus('githubWebhook', w.live),
    clock: fx.clock,
    log: silentLogger,
    config: checkWebhookConfig({ secret: SECRET, repository: REPOSITORY, branch: 'main' }),
  };
  return { repo, webhook, deployments: consumerOf('deployments', w.live), consumerOf };
}

/** A signed push delivered to the githubWebhook function; its answer. */
async function deliverPush(before: string, after: string, files: { modified?: string[]; added?: string[] }) {
  const body = JSON.stringify(pushPayload({ before, after, commits: [files] }));
  const res = await post('githubWebhook', body, await signedHeaders(body, 'push', randomUUID()));
  expect([res.status, res.body]).toMatchObject([202, { accepted: after }]);
}

function deploymentsTick(w: World) {
  return pubSubCloudEvent({ schedule: 'deployments' }, { project: w.fx.projectId, topic: TOPICS.deployments, message: { attributes: { schedule: 'deployments' } } });
}

async function applyStatus(w: World, id: string): Promise<string | undefined> {
  return (await w.fx.store.get<ModuleApplyRecord>(deploymentPaths.moduleApply(id)))?.status;
}

/**
 * githubWebhook: a signed push. deployments: that push, a config.yaml version change (an upgrade
 * on mi-lifecycle) and a module change that needs a plan, then its tick. commands: the plan
 * confirmed by a verified caller, which asks for the apply.
 */
async function exerciseMerge(w: World, r: RepositoryFunctions): Promise<void> {
  const { fx } = w;
  const changed = await fx.seedInstance();
  const planned = await fx.seedInstance({ environment: 'prod', tier: 'internal', maintenanceWindow: undefined });
  const config = `${instanceRoot('prod', changed.id)}/config.yaml`;
  const networking = `${instanceRoot('prod', planned.id)}/terraform/stacks/networking/vpc.tf`;
  const before = sha(0x1000);
  const after = sha(0x1001);
  r.repo.commit(before, { [config]: instanceConfig(changed.id, 'prod', 'customer', '5.4.2'), [networking]: 'v1' });
  r.repo.commit(after, { [config]: instanceConfig(changed.id, 'prod', 'customer', '5.5.0'), [networking]: 'v2' }, { parents: [before], branch: 'main' });

  useServices(servicesWith({ webhook: () => r.webhook }));
  await deliverPush(before, after, { modified: [config, networking] });
  // Earlier operations' write-back requests are on mi-deployments too: the deployments function writes each.
  const onDeployments = w.take(TOPICS.deployments);
  for (const request of onDeployments.filter((e) => e.type === 'deployment.write-back')) {
    expect(await deliver(r.deployments.deps, deploymentsRoute(r.deployments), delivery(w, request, TOPICS.deployments))).toMatchObject({ kind: 'write-back' });
  }
  const [push] = onDeployments.filter((e) => e.type === 'deployment.pushed');
  if (push === undefined) throw new Error('the webhook published no push');
  const handled = await deliver(r.deployments.deps, deploymentsRoute(r.deployments), delivery(w, push, TOPICS.deployments));
  expect(handled).toMatchObject({ kind: 'push', detail: { kind: 'handled', commands: [{ instanceId: changed.id, type: 'instance.upgrade' }] } });
  const asked = await deliverCommands(w);
  expect(asked.map((a) => [a.envelope.type, a.envelope.instanceId, a.outcome]).sort()).toEqual(
    [
      ['instance.module-apply', planned.id, 'accepted'],
      ['instance.upgrade', changed.id, 'accepted'],
    ].sort(),
  );
  expect((await settle(w, asked.map((a) => a.operationId))).map((op) => op.status)).toEqual(['succeeded', 'succeeded']);
  const applyId = `${planned.id}.networking.${after.slice(0, 12)}`;
  // The module change's first tick (from the push): its member waits for a confirmation, nothing starts.
  expect(await deliverTicks(w)).toBeGreaterThanOrEqual(1);
  expect(w.take(TOPICS.lifecycle)).toEqual([]);
  expect((await deliver(r.deployments.deps, deploymentsRoute(r.deployments), deploymentsTick(w))).kind).toBe('tick');
  expect(await applyStatus(w, applyId)).toBe('awaiting-confirmation');

  useCommands(w, r);
  // The plan build saved its plan in the environment's plans bucket; `mi apply show` reads its text through the commands function.
  const planObject = planObjectOf(`${fx.projectId}-plans-prod`, planned.id, 'networking', after);
  const shown = await command(w, 'carol@example.com', { command: 'apply.plan', applyId });
  expect([shown.status, (shown.body as { object?: string }).object, (shown.body as { text?: string }).text?.endsWith('Plan: 0 to add, 1 to change, 0 to destroy.\n')]).toEqual([200, planTextObjectOf(planObject), true]);
  const res = await command(w, 'carol@example.com', { command: 'apply.confirm', applyId });
  expect([res.status, res.body]).toEqual([200, { accepted: 'apply.confirm', confirmed: [applyId], by: 'carol@example.com' }]);
  // The confirmation ticks the module change; the rollout function's tick asks for the apply.
  expect(await deliverTicks(w)).toBeGreaterThanOrEqual(1);
  const applies = await deliverCommands(w);
  expect(applies.map((a) => [a.envelope.type, a.outcome])).toEqual([['instance.module-apply', 'accepted']]);
  expect((await settle(w, applies.map((a) => a.operationId))).map((op) => op.status)).toEqual(['succeeded']);
  await deliver(r.deployments.deps, deploymentsRoute(r.deployments), deploymentsTick(w));
  expect(await applyStatus(w, applyId)).toBe('applied');
  // Its module change, ticked once more on its last apply, completes.
  await deliverTicks(w);
  expect(await fx.store.get<RolloutRecord>(rolloutPaths.rollout(moduleChangeId('networking', after)))).toMatchObject({ kind: 'module-change', status: 'completed' });
}

/**
 * The case issue 21 says breaks: each feature's first publish is lost (a dead port), so the
 * reconcile function republishes a webhook's push (mi-deployments), the deployments consumer's
 * module apply (mi-lifecycle), the commands function's compliance run (mi-compliance), and the
 * lifecycle function's fact (mi-events).
 */
async function exerciseOutboxDrain(w: World, r: RepositoryFunctions): Promise<void> {
  const { fx, recorder } = w;
  const target = await fx.seedInstance({ environment: 'prod', tier: 'internal', maintenanceWindow: undefined });
  // A module that plans first: the deployments consumer asks for the plan itself, through its outbox.
  const networking = `${instanceRoot('prod', target.id)}/terraform/stacks/networking/vpc.tf`;
  const before = sha(0x1001);
  const after = sha(0x1002);
  r.repo.commit(after, { [networking]: 'v1' }, { parents: [before], branch: 'main' });

  useServices(servicesWith({ webhook: () => ({ ...r.webhook, bus: recorder.bus('githubWebhook', w.dead) }) }));
  await deliverPush(before, after, { added: [networking] });
  await reconcileDrains(w, "the webhook's push", [TOPICS.deployments]);

  const deploymentsCut = r.consumerOf('deployments', w.dead);
  const pushes = w.take(TOPICS.deployments).filter((e) => e.type === 'deployment.pushed');
  expect(pushes.map((p) => p.type)).toEqual(['deployment.pushed']);
  for (const push of pushes) expect(await deliver(deploymentsCut.deps, deploymentsRoute(deploymentsCut), delivery(w, push, TOPICS.deployments))).toMatchObject({ kind: 'push', detail: { kind: 'handled' } });
  await reconcileDrains(w, "the deployments consumer's module apply", [TOPICS.lifecycle]);

  // A person's compliance run, its first publish lost: the reconcile function sends it on.
  useCommands(w, r, w.dead);
  const asked = await command(w, 'alice@example.com', { command: 'compliance.run', eventId: randomUUID(), schedule: 'check-retention' });
  expect(asked.status, JSON.stringify(asked.body)).toBe(200);
  await reconcileDrains(w, "the commands function's compliance run", [TOPICS.compliance]);
  expect(w.take(TOPICS.compliance).map((e) => e.type)).toEqual(['compliance.run-requested']);

  const lifecycleCut = w.engineOf('lifecycle', w.dead);
  const accepted = await deliverCommands(w, lifecycleCut);
  expect(accepted.map((a) => [a.envelope.type, a.outcome])).toEqual([['instance.module-apply', 'accepted']]);
  await reconcileDrains(w, "the lifecycle function's fact", [TOPICS.events]);

  expect((await settle(w, accepted.map((a) => a.operationId))).map((op) => op.status)).toEqual(['succeeded']);
  await deliver(r.deployments.deps, deploymentsRoute(r.deployments), deploymentsTick(w));
  expect(await applyStatus(w, `${target.id}.networking.${after.slice(0, 12)}`)).toBe('awaiting-confirmation');
  // Its module change's ticks (the deployments consumer's, on a live bus or not) start nothing: it waits for a person.
  w.take(TOPICS.rollout);
}

// ------------------------------------------------------------------------------------------ the world

async function createWorld(recorder: UsageRecorder, fileUrl: string): Promise<World> {
  // A project of its own each time: nothing left by an earlier run (on a reused emulator) is drained here.
  const fx = await createEngineFixture(fileUrl, { suffix: `rights-${randomBytes(4).toString('hex')}` });
  const wire = recordingBus(fx.bus);
  const dead = createPubSubBus({ pubsub: new PubSub({ projectId: fx.projectId, apiEndpoint: `127.0.0.1:${await freePort()}` }), deadlineMs: 300 });
  const cursors = new Map<string, number>();

  // The deployed executor: the Cloud Build adapter, its calls to the Builds API recorded as the function's.
  const executorOf = (fn: string, _bus: EventBus): ExecutorPort =>
    createCloudBuildExecutor({
      parent: `projects/${fx.projectId}/locations/us-central1`,
      settings: localBuildSettings(fx.projectId, REPOSITORY),
      clock: fx.clock,
      calls: recorder.port(fn, 'builds', fx.fleet.cloudBuild),
    });

  const engineOf = (fn: string, bus: EventBus = wire.bus): Engine => {
    const recorded = recorder.bus(fn, bus);
    return fx.engineWith({
      bus: recorded,
      cloudSql: recorder.port(fn, 'cloudSql', fx.fleet.cloudSql),
      gkeBackup: recorder.port(fn, 'gkeBackup', fx.fleet.gkeBackup),
      executor: executorOf(fn, recorded),
    });
  };

  const signer = await createLocalSigner();
  const sim = new SimulatedPam({ clock: fx.clock, entitlements: defaultEntitlements(['group:oncall-approvers@example.com']).map((spec) => ({ spec, parent: `folders/${spec.environment === 'prod' ? '400000000002' : '400000000001'}` })) });
  const pamServer = await servePam(sim, localIdentity(signer));
  return {
    fx,
    recorder,
    live: wire.bus,
    dead,
    signer,
    pam: { sim, url: pamServer.url, entitlements: sim.entitlementNames(), close: () => pamServer.close() },
    take(topic) {
      const from = cursors.get(topic) ?? 0;
      cursors.set(topic, wire.published.length);
      return wire.published.slice(from).filter((p) => p.topic === topic).map((p) => p.envelope);
    },
    engineOf,
    executorOf,
    builds: createCloudBuildExecutor({ parent: `projects/${fx.projectId}/locations/us-central1`, settings: localBuildSettings(fx.projectId, REPOSITORY), clock: fx.clock, calls: fx.fleet.cloudBuild }),
    engines: { lifecycle: engineOf('lifecycle'), reconcile: engineOf('reconcile'), executorResults: engineOf('executorResults'), buildNotifications: engineOf('buildNotifications') },
  };
}

/**
 * Drives all eleven functions of the topology, recording into `recorder` what each published
 * and called; fails (naming the step) when any path did not do what it should.
 */
/**
 * The dashboard: every page read by an operator with a verified token, on what the exercise
 * left (instances, operations, the compliance run with its failures, rollouts), and the
 * evidence of a failed control; its store recorded, since it may only read it.
 */
async function exerciseDashboard(w: World): Promise<void> {
  const audience = 'https://dashboard-rights.example.run.app';
  const store = w.recorder.port('dashboard', 'firestore', w.fx.store);
  useServices(servicesWith({ dashboard: { identity: localIdentity(w.signer), audiences: [audience], dashboard: createDashboard({ store, clock: w.fx.clock }) } }));
  const token = await w.signer.sign({ email: 'alice@example.com', audience });
  const get = (path: string) => request(getTestServer('dashboard')).get(path).set({ authorization: `Bearer ${token}`, 'x-serverless-authorization': `Bearer ${token}` });
  for (const path of ['/', '/operations', '/rollouts', '/compliance']) {
    const page = await get(path);
    expect(page.status, `${path}: ${page.text.slice(0, 300)}`).toBe(200);
  }
  const failing = await get('/compliance?failing=1');
  const evidence = /href="(\/evidence\?[^"]+)"/.exec(failing.text)?.[1]?.replaceAll('&amp;', '&');
  expect(evidence, 'a failed control linking to its evidence').toBeDefined();
  const shown = await get(evidence ?? '/evidence');
  expect(shown.status).toBe(200);
  expect(shown.text).toContain(new URLSearchParams(evidence?.split('?')[1]).get('control') ?? 'a control');
}

/**
 * The notifier: a stuck prod operation (posted to Slack and paged through OpsGenie, both
 * outside Google Cloud: no grant), through the production adapters to the local stand-ins.
 */
async function exerciseNotify(w: World): Promise<void> {
  const slack = await serveSlackStandIn({ channels: ['oncall'] });
  const opsgenie = await serveOpsGenieStandIn({ apiKey: 'k' });
  try {
    const notifier = createNotifier({
      store: w.fx.store,
      clock: w.fx.clock,
      log: silentLogger,
      slack: w.recorder.port('notify', 'slack', createSlackWebhookPoster()),
      pager: w.recorder.port('notify', 'pager', createOpsGeniePager({ apiKey: 'k', endpoint: opsgenie.url })),
      routes: { channels: { oncall: slack.webhookOf('oncall') }, routes: [], fallback: 'oncall', owners: {}, rate: { messages: 5, seconds: 60 } },
    });
    const inst = await w.fx.seedInstance();
    const stuck = makeEnvelope({ type: 'operation.stuck', instanceId: inst.id, payload: { operationId: `op-${inst.id}`, operationType: 'upgrade', deadline: '2026-12-02T09:00:00Z', stillRunning: [] }, actor: 'system:reconcile', reason: 'deadline' }) as unknown as AnyEnvelope;
    const edge = { store: w.fx.store, bus: w.recorder.bus('notify', w.live), clock: w.fx.clock, log: silentLogger };
    expect(await deliver(edge, notifyRoute(notifier), delivery(w, stuck, TOPICS.events))).toMatchObject({ kind: 'sent', paged: 'paged' });
    expect([slack.received().length, opsgenie.pages().length]).toEqual([1, 1]);
  } finally {
    await slack.close();
    await opsgenie.close();
  }
}

export async function exerciseEveryFunction(recorder: UsageRecorder, fileUrl: string): Promise<void> {
  const w = await createWorld(recorder, fileUrl);
  try {
    const repository = repositoryFunctions(w);
    await exerciseOperations(w);
    useCommands(w, repository);
    await exerciseApprovals(w);
    await exerciseCompliance(w);
    useCommands(w, repository);
    await exerciseRollout(w);
    await exerciseMerge(w, repository);
    await exerciseOutboxDrain(w, repository);
    await exerciseNotify(w);
    await exerciseDashboard(w);
  } finally {
    await w.pam.close();
    await w.dead.close().catch(() => undefined);
    await w.fx.close();
  }
}

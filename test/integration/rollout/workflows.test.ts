/**
 * Fleet workflows on the emulator, through the engine and the rollout handlers as Pub/Sub
 * delivers to them: a plan across prod runs at its concurrency and records each instance's
 * saved plan; an apply of those plans waits for a second person (its starter is refused), then
 * applies each instance's own saved plan, internal prod before customers; a failure past the
 * budget halts a workflow and nothing more starts until it is resumed; a workflow runs beside a
 * rollout; a malformed or empty one is refused before anything is written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWaves, type InstanceProgress, type RolloutRecord } from '../../../shared/domain/rollout/index.js';
import type { AuditRecord } from '../../../shared/engine/index.js';
import { readWorkflowOutputs } from '../../../shared/rollout/workflow-output.js';
import { COLLECTIONS, rolloutPaths } from '../../../shared/store/collections.js';
import { createRolloutWorld, type RolloutWorld } from './support.js';

const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
const COMMIT = 'c'.repeat(40);

let world: RolloutWorld;
beforeAll(async () => {
  world = await createRolloutWorld(import.meta.url, 'wf', { dev: 3, internal: 1, customers: 3 });
});
afterAll(async () => {
  await world.close();
});

const digestOf = (instanceId: string) => Buffer.from(instanceId.padEnd(32, '-')).toString('hex').slice(0, 64);

async function members(id: string): Promise<InstanceProgress[]> {
  return (await world.fixture.store.query<InstanceProgress>({ collection: rolloutPaths.progressCollection(id) })).map((d) => d.data);
}
async function auditOf(id: string, action: string): Promise<AuditRecord[]> {
  const all = await world.fixture.store.query<AuditRecord>({ collection: COLLECTIONS.audit, where: [{ field: 'rolloutId', op: '==', value: id }] });
  return all.map((d) => d.data).filter((a) => a.action === action);
}
function refusal(outcome: Awaited<ReturnType<RolloutWorld['driver']['rollouts']['startWorkflow']>>): string {
  return outcome.kind === 'refused' ? outcome.message : `started ${outcome.rollout.id}`;
}
function started(outcome: Awaited<ReturnType<RolloutWorld['driver']['rollouts']['startWorkflow']>>): RolloutRecord {
  if (outcome.kind !== 'started') throw new Error(outcome.message);
  return outcome.rollout;
}

describe('fleet workflows', () => {
  it('plans prod two at a time, then applies each saved plan only after a second person approved, internal prod before customers', async () => {
    const { executor } = world.fixture.fleet;
    const prod = world.instances.filter((i) => i.environment === 'prod');
    for (const instance of prod) executor.scriptOutputs({ action: 'plan', instanceId: instance.id }, { planDigest: digestOf(instance.id), planShape: 'same-shape', planAdd: '0', planChange: '1', planDestroy: '0' });

    const plan = started(await world.driver.rollouts.startWorkflow({ action: 'plan', environment: 'prod', filter: [], module: 'networking', commit: COMMIT, concurrency: 2, budget: 0, actor: ALICE, reason: 'what would change' }));
    expect(plan).toMatchObject({ kind: 'workflow', status: 'running', membership: { sizes: { internal: 1, customers: 3 } } });
    const planned = await world.driveUntil(plan.id, (r) => r.status !== 'running');
    expect(planned.status).toBe('completed');
    const planStarts = await auditOf(plan.id, 'workflow.member-started');
    expect(planStarts).toHaveLength(4);
    expect(Math.max(...planStarts.map((a) => (a.after as { inFlight: number }).inFlight))).toBeLessThanOrEqual(2);
    expect((await members(plan.id)).map((m) => m.state)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);

    const commandsBefore = world.driver.published.commands;
    const apply = started(await world.driver.rollouts.startWorkflow({ action: 'apply', environment: 'prod', filter: [], plansOf: plan.id, concurrency: 2, budget: 0, actor: ALICE, reason: 'apply what we read' }));
    expect(apply).toMatchObject({ status: 'awaiting-approval', workflow: { module: 'networking', commit: COMMIT, plansOf: plan.id, approval: { required: true, approvedBy: null } } });
    // Waiting: ticks start nothing.
    await world.driver.rollouts.tickAll();
    await world.driver.pump();
    expect(world.driver.published.commands).toBe(commandsBefore);
    expect(await world.driver.rollouts.approve(apply.id, ALICE, 'mine')).toMatchObject({ kind: 'self-approval' });
    expect(await world.driver.rollouts.approve(apply.id, BOB, 'read the plans')).toMatchObject({ kind: 'changed', rollout: { status: 'running', workflow: { approval: { approvedBy: BOB } } } });
    const applied = await world.driveUntil(apply.id, (r) => r.status !== 'running');
    expect(applied.status).toBe('completed');

    // Each instance applied its own saved plan, under the apply's id.
    const runs = executor.runs().filter((r) => r.request.action === 'apply' && String(r.request.params.applyId).startsWith(apply.id));
    expect(runs.map((r) => [r.request.instanceId, r.request.params.planDigest]).sort()).toEqual(prod.map((i) => [i.id, digestOf(i.id)]).sort());
    // Internal prod finished before any customer started.
    const starts = await auditOf(apply.id, 'workflow.member-started');
    const finished = await auditOf(apply.id, 'workflow.member-finished');
    const internalDone = Math.max(...finished.filter((a) => a.instanceId?.startsWith('int-')).map((a) => Date.parse(a.at)));
    const firstCustomer = Math.min(...starts.filter((a) => a.instanceId?.startsWith('cus-')).map((a) => Date.parse(a.at)));
    expect(internalDone).toBeLessThanOrEqual(firstCustomer);
    expect((await auditOf(apply.id, 'workflow.approved'))[0]).toMatchObject({ actor: BOB, requestedBy: ALICE });
  }, 120_000);

  it('halts past its budget and starts nothing more; resumed, it accepts the failure and finishes', async () => {
    const { executor } = world.fixture.fleet;
    const dev = world.instances.filter((i) => i.environment === 'dev').map((i) => i.id).sort();
    executor.scriptOutcome({ action: 'plan', instanceId: dev[0] }, 'failed', 'terraform plan exited 1: module networking has no provider block');
    const wf = started(await world.driver.rollouts.startWorkflow({ action: 'plan', environment: 'dev', filter: [], module: 'networking', commit: COMMIT, concurrency: 1, budget: 0, actor: ALICE, reason: 'budget' }));
    const halted = await world.driveUntil(wf.id, (r) => r.status !== 'running');
    expect(halted.status).toBe('halted');
    expect(halted.halt?.reason).toMatch(/^wave dev: 1 plan\(s\) failed, more than its failure budget of 0: dev-wf-0 \(step plan: .*terraform plan exited 1/);
    expect((await members(wf.id)).map((m) => [m.instanceId, m.state])).toEqual([
      [dev[0], 'failed'],
      [dev[1], 'pending'],
      [dev[2], 'pending'],
    ]);
    // Halted: the schedule starts nothing.
    await world.driver.rollouts.tickAll();
    await world.driver.pump();
    expect((await auditOf(wf.id, 'workflow.member-started'))).toHaveLength(1);

    expect(await world.driver.rollouts.control(wf.id, 'resume', BOB, 'the provider block is a known gap')).toMatchObject({ kind: 'changed' });
    const done = await world.driveUntil(wf.id, (r) => r.status !== 'running');
    expect(done.status).toBe('completed');
    expect((await members(wf.id)).map((m) => m.state)).toEqual(['failed', 'succeeded', 'succeeded']);
  }, 120_000);

  it('runs beside a rollout (one release at a time, workflows besides): an instance busy with its upgrade is backed up after it, never failed for it', async () => {
    const rollout = await world.driver.rollouts.start({ targetVersion: '9.0.0', waves: parseWaves('customers'), actor: ALICE, reason: 'release' });
    if (rollout.kind !== 'started') throw new Error(rollout.message);
    // The upgrades are accepted: each customer is leased to one.
    await world.driver.pump();
    const backup = started(await world.driver.rollouts.startWorkflow({ action: 'backup', environment: 'prod', filter: ['tier=customer'], concurrency: 3, budget: 0, actor: ALICE, reason: 'before the release' }));
    const done = await world.driveUntil(backup.id, (r) => r.status !== 'running');
    expect(done.status).toBe('completed');
    const backedUp = await members(backup.id);
    expect(backedUp.map((m) => m.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    // Each was refused busy first (the rollout held it) and tried again, as often as it was busy.
    for (const m of backedUp) expect(m.attempts).toBeGreaterThanOrEqual(2);
    const waited = (await auditOf(backup.id, 'workflow.member-finished')).filter((a) => (a.after as { state: string }).state === 'waiting');
    expect(waited).toHaveLength(backedUp.reduce((n, m) => n + m.attempts - 1, 0));
    expect((await world.driveUntil(rollout.rollout.id, (r) => r.status !== 'running')).status).toBe('completed');
  }, 120_000);

  it('a backup runs through a change freeze (it changes nothing), where a release would wait', async () => {
    const now = world.fixture.clock.now().getTime();
    await world.fixture.store.set(rolloutPaths.calendar, { freezes: [{ from: new Date(now - 60_000).toISOString(), to: new Date(now + 86_400_000).toISOString(), reason: 'year-end freeze' }] });
    try {
      const backup = started(await world.driver.rollouts.startWorkflow({ action: 'backup', environment: 'dev', filter: [], concurrency: 3, budget: 0, actor: ALICE, reason: 'during the freeze' }));
      expect((await world.driveUntil(backup.id, (r) => r.status !== 'running', 40)).status).toBe('completed');
      const release = await world.driver.rollouts.start({ targetVersion: '9.1.0', waves: parseWaves('dev:soak=0'), actor: ALICE, reason: 'release' });
      if (release.kind !== 'started') throw new Error(release.message);
      await world.driveUntil(release.rollout.id, () => false, 5);
      expect((await members(release.rollout.id)).map((m) => m.state)).toEqual(['pending', 'pending', 'pending']);
      await world.driver.rollouts.control(release.rollout.id, 'abort', ALICE, 'test over');
    } finally {
      await world.fixture.store.set(rolloutPaths.calendar, { freezes: [] });
    }
  }, 120_000);

  it('checks every prod instance read-only: an unhealthy one and one whose backups drifted are findings, the rest pass alike, nothing is changed', async () => {
    const { executor, applications, cloudSql } = world.fixture.fleet;
    const prod = world.instances.filter((i) => i.environment === 'prod').map((i) => i.id).sort();
    const [unhealthy, drifted] = [prod[1], prod[2]];
    const byId = new Map(world.instances.map((i) => [i.id, i]));
    applications.failNow(byId.get(unhealthy)?.domain ?? '', 'unhealthy');
    cloudSql.setBackupConfiguration(byId.get(drifted)?.resources.project ?? '', byId.get(drifted)?.resources.sqlInstance ?? '', { pointInTimeRecoveryEnabled: false });
    const runsBefore = executor.runs().length;
    const backupsBefore = cloudSql.calls('insertBackupRun');
    try {
      // No budget given: a check tolerates every failure, so one finding does not hide the rest.
      const check = started(await world.driver.rollouts.startWorkflow({ action: 'check', environment: 'prod', filter: [], concurrency: 2, actor: ALICE, reason: 'after the pager fired' }));
      expect(check.waves.map((w) => [w.name, w.failureBudget.min])).toEqual([['internal', 1], ['customers', 3]]);
      const done = await world.driveUntil(check.id, (r) => r.status !== 'running');
      expect(done.status).toBe('completed');
      const states = new Map((await members(check.id)).map((m) => [m.instanceId, m]));
      expect([...states.values()].filter((m) => m.state === 'failed').map((m) => m.instanceId).sort()).toEqual([unhealthy, drifted].sort());
      expect(states.get(unhealthy)?.detail).toMatch(/health gate of the running instance \(recorded on .*\) did not see 1 passing probe.*nothing was changed/);
      expect(states.get(drifted)?.detail).toMatch(/backup configuration does not meet the policy: .*point-in-time/i);

      // The plans bucket is never read for a check.
      const { outputs } = await readWorkflowOutputs({ store: world.fixture.store, plans: { readText: () => Promise.reject(new Error('a check reads no plan')) } }, done, { limit: 200 });
      const passed = outputs.filter((o) => o.state === 'succeeded');
      expect(passed.map((o) => o.instanceId).sort()).toEqual(prod.filter((id) => id !== unhealthy && id !== drifted));
      // On the version each is recorded on now (the customers took the release above).
      for (const o of passed) expect(o.summary).toBe(`healthy on ${(await world.fixture.instance(o.instanceId))?.version ?? '?'}; backup configuration meets the policy`);
      // Read-only: no build ran, no backup was taken, and every instance is back as it was.
      expect(executor.runs().length).toBe(runsBefore);
      expect(cloudSql.calls('insertBackupRun')).toBe(backupsBefore);
      for (const id of prod) expect((await world.fixture.instance(id))?.status).toBe('active');
      // Each check is an operation on the trail, under the workflow's name.
      const finished = await auditOf(check.id, 'workflow.member-finished');
      expect(finished.map((a) => a.instanceId).sort()).toEqual(prod);
    } finally {
      applications.clearFaults(byId.get(unhealthy)?.domain ?? '');
      cloudSql.setBackupConfiguration(byId.get(drifted)?.resources.project ?? '', byId.get(drifted)?.resources.sqlInstance ?? '', { pointInTimeRecoveryEnabled: true });
    }
  }, 120_000);

  it('a health workflow probes only: given a budget of 0 it halts on the first unhealthy instance', async () => {
    const { applications } = world.fixture.fleet;
    const dev = world.instances.filter((i) => i.environment === 'dev').sort((a, b) => a.id.localeCompare(b.id));
    applications.failNow(dev[0]?.domain ?? '', 'timeout');
    try {
      const health = started(await world.driver.rollouts.startWorkflow({ action: 'health', environment: 'dev', filter: [], concurrency: 1, budget: 0, actor: ALICE, reason: 'probe' }));
      const halted = await world.driveUntil(health.id, (r) => r.status !== 'running');
      expect(halted.status).toBe('halted');
      expect(halted.halt?.failed).toEqual([dev[0]?.id]);
      const operations = await Promise.all((await members(health.id)).filter((m) => m.operationId !== null).map((m) => world.fixture.operation(m.operationId ?? '')));
      expect(operations.map((o) => o?.steps.map((s) => s.kind))).toEqual([['health-check']]);
      await world.driver.rollouts.control(health.id, 'abort', ALICE, 'seen enough');
    } finally {
      applications.clearFaults(dev[0]?.domain ?? '');
    }
  }, 120_000);

  it('refuses a malformed filter, a filter nobody matches, and an apply of plans not made, before writing anything', async () => {
    const before = (await world.fixture.store.query({ collection: COLLECTIONS.rollouts })).length;
    const start = world.driver.rollouts.startWorkflow;
    const base = { environment: 'dev' as const, concurrency: 1, budget: 0, actor: ALICE, reason: 'r' };
    expect(refusal(await start({ ...base, action: 'backup', filter: ['owner=bob'] }))).toContain('owner=bob');
    expect(refusal(await start({ ...base, action: 'backup', filter: ['id=nobody-*'] }))).toContain('no dev instance matches id=nobody-*');
    expect(refusal(await start({ ...base, action: 'plan', filter: [] }))).toContain('--module');
    expect(refusal(await start({ ...base, action: 'apply', filter: [], plansOf: 'wf-nothing' }))).toContain('no plan workflow wf-nothing');
    expect(refusal(await start({ ...base, action: 'check', filter: [], module: 'networking' }))).toBe('a check workflow takes no module (--module is for plan and apply)');
    expect((await world.fixture.store.query({ collection: COLLECTIONS.rollouts })).length).toBe(before);
  });
});

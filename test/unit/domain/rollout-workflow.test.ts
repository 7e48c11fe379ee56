/**
 * Fleet workflows as pure decisions: who a workflow covers (environment, filter, status, saved
 * plans), its waves, when it needs a second person, what each member's start asks of the
 * engine, how a member's output is read from its operation and grouped, and that the planner
 * drives a workflow like a rollout (its concurrency never exceeded, its budget halting it).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  approveWorkflow,
  groupOutputs,
  memberCommand,
  memberOutputOf,
  needsApproval,
  newRollout,
  OPEN_STATES,
  parseFilter,
  planTick,
  upgradeOutcomeOf,
  WorkflowSpecError,
  workflowMembersOf,
  workflowWaves,
  type FleetInstance,
  type InstanceProgress,
  type MemberOutput,
  type OperationOutputView,
  type RolloutRecord,
  type WaveName,
  type WaveReader,
  type WorkflowTask,
} from '../../../shared/domain/rollout/index.js';
import { makeEnvelope, type AnyEnvelope, type MaintenanceWindow } from '../../../shared/events/index.js';
import { LIFECYCLE_PAYLOAD_SCHEMAS } from '../../../shared/events/commands.js';

const T0 = new Date('2026-11-26T10:00:00Z'); // a Thursday, 10:00 UTC
const NIGHTS: MaintenanceWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '22:00', hours: 4, timeZone: 'Etc/UTC' };
const COMMIT = 'a'.repeat(40);

const fleet: FleetInstance[] = [
  { id: 'dev-a', slug: 'a', environment: 'dev', tier: 'internal', version: '5.4.2', status: 'active', lease: null },
  { id: 'dev-b', slug: 'b', environment: 'dev', tier: 'internal', version: '5.4.2', status: 'active', lease: null },
  { id: 'dev-c', slug: 'c', environment: 'dev', tier: 'internal', version: '5.4.2', status: 'deleted', lease: null },
  { id: 'int-x', slug: 'x', environment: 'prod', tier: 'internal', version: '5.4.2', status: 'active', lease: null },
  { id: 'cus-acme', slug: 'acme', environment: 'prod', tier: 'customer', version: '5.4.2', status: 'active', lease: null, maintenanceWindow: NIGHTS },
  { id: 'cus-beta', slug: 'beta', environment: 'prod', tier: 'customer', version: '5.5.0', status: 'upgrading', lease: null, maintenanceWindow: NIGHTS },
];

function task(over: Partial<WorkflowTask> = {}): WorkflowTask {
  return { action: 'plan', environment: 'dev', filter: [], module: 'networking', commit: COMMIT, approval: { required: false, approvedBy: null, approvedAt: null, reason: null }, ...over };
}

function workflowOf(t: WorkflowTask, members: InstanceProgress[], concurrency: number, budget = 0): RolloutRecord {
  const sizes: Partial<Record<WaveName, number>> = {};
  for (const m of members) sizes[m.wave] = (sizes[m.wave] ?? 0) + 1;
  return newRollout({ id: 'wf-20261126-100000-ab12', targetVersion: '', waves: workflowWaves(sizes, concurrency, budget), actor: 'alice@example.com', reason: 'test', now: T0, membership: { sizes }, workflow: t });
}

describe('who a workflow covers', () => {
  it("takes the environment's instances but the deleted, in id order, each in its wave", () => {
    expect(workflowMembersOf(task(), fleet, T0).members.map((m) => [m.instanceId, m.wave])).toEqual([
      ['dev-a', 'dev'],
      ['dev-b', 'dev'],
    ]);
    const prod = workflowMembersOf(task({ environment: 'prod' }), fleet, T0);
    // cus-beta is upgrading: a member all the same (the engine answers busy and it is tried again).
    expect(prod.members.map((m) => [m.instanceId, m.wave])).toEqual([
      ['cus-acme', 'customers'],
      ['cus-beta', 'customers'],
      ['int-x', 'internal'],
    ]);
    expect(prod.sizes).toEqual({ customers: 2, internal: 1 });
  });

  it('narrows by every --filter term, globs included', () => {
    expect(workflowMembersOf(task({ environment: 'prod', filter: ['tier=customer', 'status=active'] }), fleet, T0).members.map((m) => m.instanceId)).toEqual(['cus-acme']);
    expect(workflowMembersOf(task({ environment: 'prod', filter: ['id=*-*', 'slug=x'] }), fleet, T0).members.map((m) => m.instanceId)).toEqual(['int-x']);
    expect(workflowMembersOf(task({ filter: ['id=dev-[ab]'] }), fleet, T0).members).toHaveLength(2);
    expect(workflowMembersOf(task({ filter: ['version=9.*'] }), fleet, T0).members).toHaveLength(0);
  });

  it('refuses a malformed filter, naming the term and the keys it knows', () => {
    expect(() => parseFilter(['owner=bob'])).toThrow(WorkflowSpecError);
    expect(() => parseFilter(['owner=bob'])).toThrow(/owner=bob.*id, slug, tier, version, region, status/);
    expect(() => parseFilter(['tier='])).toThrow(/expected a value/);
    expect(() => parseFilter(['=x'])).toThrow(/key=value/);
  });

  it('keeps customers to their windows only for an action that changes them', () => {
    const plan = workflowMembersOf(task({ environment: 'prod', action: 'plan' }), fleet, T0).members.find((m) => m.instanceId === 'cus-acme');
    expect(plan).toMatchObject({ state: 'pending', eligibleAt: T0.toISOString() });
    expect(plan?.window).toBeUndefined();
    const plans = new Map([['cus-acme', 'd'.repeat(64)], ['int-x', 'e'.repeat(64)]]);
    const apply = workflowMembersOf(task({ environment: 'prod', action: 'apply' }), fleet, T0, plans).members.find((m) => m.instanceId === 'cus-acme');
    expect(apply).toMatchObject({ eligibleAt: '2026-11-26T22:00:00.000Z', window: NIGHTS, planDigest: 'd'.repeat(64) });
  });

  it('an apply covers only the instances whose plan was saved', () => {
    const members = workflowMembersOf(task({ environment: 'prod', action: 'apply' }), fleet, T0, new Map([['int-x', 'e'.repeat(64)]])).members;
    expect(members.map((m) => [m.instanceId, m.planDigest])).toEqual([['int-x', 'e'.repeat(64)]]);
  });
});

describe('waves and approval', () => {
  it('runs the waves its members fall in, each at the concurrency, halting past the budget, with no soak', () => {
    expect(workflowWaves({ dev: 3 }, 2, 1)).toEqual([{ name: 'dev', maxInFlight: 2, failureBudget: { percent: 0, min: 1 }, soakMs: 0, manualGate: false }]);
    expect(workflowWaves({ customers: 4, internal: 1 }, 5, 0).map((w) => w.name)).toEqual(['internal', 'customers']);
  });

  it('without a budget, a wave of checks tolerates every failure (each is a finding) and any other action none', () => {
    const budgets = (action: WorkflowTask['action']) => workflowWaves({ internal: 2, customers: 7 }, 5, undefined, action).map((w) => w.failureBudget.min);
    expect(budgets('check')).toEqual([2, 7]);
    expect(budgets('health')).toEqual([2, 7]);
    expect(budgets('backup')).toEqual([0, 0]);
    expect(budgets('plan')).toEqual([0, 0]);
    expect(workflowWaves({ customers: 7 }, 5, 1, 'check').map((w) => w.failureBudget.min)).toEqual([1]);
  });

  it('needs a second person only to change prod', () => {
    expect(needsApproval('apply', 'prod')).toBe(true);
    expect(needsApproval('apply', 'dev')).toBe(false);
    expect(needsApproval('plan', 'prod')).toBe(false);
    expect(needsApproval('backup', 'prod')).toBe(false);
    expect(needsApproval('check', 'prod')).toBe(false);
    expect(needsApproval('health', 'prod')).toBe(false);
  });

  it('waits for the approval, refuses its starter, and runs once someone else gives it', () => {
    const waiting = workflowOf(task({ environment: 'prod', action: 'apply', approval: { required: true, approvedBy: null, approvedAt: null, reason: null } }), [], 2);
    expect(waiting.status).toBe('awaiting-approval');
    expect(approveWorkflow(waiting, { approver: 'Alice@Example.com', now: T0, reason: 'r' })).toMatchObject({ kind: 'self-approval' });
    const approved = approveWorkflow(waiting, { approver: 'bob@example.com', now: T0, reason: 'looked at the plans' });
    expect(approved).toMatchObject({ kind: 'changed', rollout: { status: 'running', workflow: { approval: { approvedBy: 'bob@example.com', reason: 'looked at the plans' } } } });
    if (approved.kind !== 'changed') return;
    expect(approveWorkflow(approved.rollout, { approver: 'carol@example.com', now: T0, reason: 'r' })).toMatchObject({ kind: 'refused' });
  });
});

describe("what a member's start asks of the engine", () => {
  const member = { instanceId: 'dev-a', wave: 'dev' as const };
  const parse = (command: ReturnType<typeof memberCommand>) => LIFECYCLE_PAYLOAD_SCHEMAS[command.type].parse(command.payload);

  it('an upgrade for a rollout, the action for a workflow, each naming its fan-out and valid by its schema', () => {
    const rollout = newRollout({ id: 'ro-x', targetVersion: '5.5.0', waves: [], actor: 'a@example.com', reason: 'r', now: T0, commit: COMMIT });
    expect(parse(memberCommand(rollout, member))).toEqual({ targetVersion: '5.5.0', rolloutId: 'ro-x', commit: COMMIT });
    const plan = workflowOf(task(), [], 2);
    const command = memberCommand(plan, member);
    expect(command.type).toBe('instance.module-apply');
    expect(parse(command)).toEqual({ module: 'networking', commit: COMMIT, action: 'plan', applyId: `${plan.id}.dev-a`, rolloutId: plan.id });
    const backup = memberCommand(workflowOf(task({ action: 'backup' }), [], 2), member);
    expect(backup.type).toBe('instance.backup');
    expect(parse(backup)).toMatchObject({ rolloutId: plan.id });
    const health = memberCommand(workflowOf(task({ action: 'health', module: undefined, commit: undefined }), [], 2), member);
    expect([health.type, parse(health)]).toEqual(['instance.check', { checks: ['health'], rolloutId: plan.id, note: `workflow ${plan.id}` }]);
    const check = memberCommand(workflowOf(task({ action: 'check', module: undefined, commit: undefined }), [], 2), member);
    expect(parse(check)).toMatchObject({ checks: ['health', 'backup-policy'], rolloutId: plan.id });
    const apply = memberCommand(workflowOf(task({ action: 'apply' }), [], 2), { ...member, planDigest: 'f'.repeat(64) });
    expect(parse(apply)).toMatchObject({ action: 'apply', planDigest: 'f'.repeat(64) });
  });

  it('never applies without the digest of a saved plan', () => {
    expect(() => memberCommand(workflowOf(task({ action: 'apply' }), [], 2), member)).toThrow(/no saved plan/);
  });

  it("records a workflow member's facts whatever it ran, and an older fact only of an upgrade", () => {
    const fact = (payload: Record<string, unknown>) =>
      makeEnvelope({ type: 'operation.succeeded', instanceId: 'dev-a', payload: { operationId: 'op-e1', operationType: 'module-apply', result: {}, ...payload }, actor: 'system:engine', reason: 'done' }) as unknown as AnyEnvelope;
    expect(upgradeOutcomeOf(fact({ rolloutId: 'wf-1' }))).toMatchObject({ kind: 'outcome', eventId: 'e1', state: 'succeeded', rolloutId: 'wf-1' });
    expect(upgradeOutcomeOf(fact({}))).toMatchObject({ kind: 'ignored' });
  });
});

describe("a member's output", () => {
  const done = (instanceId: string): InstanceProgress => ({ instanceId, wave: 'dev', state: 'succeeded', eventId: 'e', operationId: `op-${instanceId}`, attempts: 1, startedAt: null, finishedAt: null, eligibleAt: null, detail: null, updatedAt: T0.toISOString() });

  it("is a plan's counts and saved file, a backup's ids, or what failed", () => {
    const planOp: OperationOutputView = { status: 'succeeded', failure: null, steps: [{ kind: 'executor-run', handles: { planAdd: '1', planChange: '2', planDestroy: '0', planObject: 'gs://b/instances/dev-a/networking/c/networking.tfplan', planShape: 's1', planDigest: 'd1' } }] };
    expect(memberOutputOf('plan', done('dev-a'), planOp)).toMatchObject({ summary: 'Plan: 1 to add, 2 to change, 0 to destroy.', planObject: 'gs://b/instances/dev-a/networking/c/networking.tfplan', shape: 's1', digest: 'd1' });
    const backupOp: OperationOutputView = { status: 'succeeded', failure: null, steps: [{ kind: 'sql-backup', handles: { backupRunId: '123' } }, { kind: 'gke-backup', handles: { gkeBackup: 'projects/p/locations/l/backupPlans/b/backups/g' } }] };
    expect(memberOutputOf('backup', done('dev-a'), backupOp).summary).toBe('Cloud SQL backup run 123; GKE backup projects/p/locations/l/backupPlans/b/backups/g');
    expect(memberOutputOf('plan', { ...done('dev-b'), state: 'failed', detail: 'step plan: terraform exited 1' }, undefined)).toMatchObject({ state: 'failed', summary: 'step plan: terraform exited 1' });
  });

  it("is a passed check's findings in the same words for every instance that passed alike, whatever its probe's URL and time", () => {
    const checked = (domain: string, version: string): OperationOutputView => ({
      status: 'succeeded',
      failure: null,
      steps: [
        { kind: 'health-check', handles: { probes: '1', probeLog: JSON.stringify([{ at: T0.toISOString(), healthUrl: `https://${domain}/healthz`, version, passed: true }]) } },
        { kind: 'verify-backup-policy', handles: { verified: 'sql and gke backup policy' } },
      ],
    });
    const a = memberOutputOf('check', done('dev-a'), checked('a.example.com', '5.4.2'));
    const b = memberOutputOf('check', done('dev-b'), checked('b.example.com', '5.4.2'));
    expect(a.summary).toBe('healthy on 5.4.2; backup configuration meets the policy');
    expect(groupOutputs([a, b, memberOutputOf('check', done('dev-c'), checked('c.example.com', '5.5.0'))]).map((g) => g.instances)).toEqual([['dev-a', 'dev-b'], ['dev-c']]);
    expect(memberOutputOf('health', done('dev-a'), checked('a.example.com', '5.4.2')).summary).toBe('healthy on 5.4.2');
  });

  it('groups plans by shape and the rest by identical output, largest group first', () => {
    const out = (instanceId: string, over: Partial<MemberOutput>): MemberOutput => ({ instanceId, wave: 'dev', state: 'succeeded', operationId: null, summary: 'Plan: 1 to add', ...over });
    const groups = groupOutputs([out('d', { shape: 'B', text: 'plan d' }), out('a', { shape: 'A', text: 'plan a' }), out('c', { shape: 'A', text: 'plan c' }), out('e', { state: 'failed', summary: 'boom' }), out('f', { state: 'failed', summary: 'boom' })]);
    expect(groups.map((g) => g.instances)).toEqual([['a', 'c'], ['e', 'f'], ['d']]);
    expect(groups[0]?.sample.text).toBe('plan a');
  });

  it('puts every member in exactly one group, and members of one group have the same output (property)', () => {
    const outputArb = fc.record({ id: fc.uuid(), shape: fc.option(fc.constantFrom('A', 'B', 'C'), { nil: undefined }), summary: fc.constantFrom('x', 'y'), failed: fc.boolean() });
    fc.assert(
      fc.property(fc.uniqueArray(outputArb, { selector: (o) => o.id, maxLength: 30 }), (raw) => {
        const outputs = raw.map((o): MemberOutput => ({ instanceId: o.id, wave: 'dev', state: o.failed ? 'failed' : 'succeeded', operationId: null, summary: o.summary, ...(o.shape === undefined ? {} : { shape: o.shape }) }));
        const groups = groupOutputs(outputs);
        expect(groups.flatMap((g) => g.instances).sort()).toEqual(outputs.map((o) => o.instanceId).sort());
        const byId = new Map(outputs.map((o) => [o.instanceId, o]));
        for (const g of groups) {
          const keys = new Set(g.instances.map((id) => { const o = byId.get(id); return o?.shape ?? `${o?.state}:${o?.summary}`; }));
          expect(keys.size).toBe(1);
        }
      }),
    );
  });
});

describe('the planner drives a workflow like a rollout', () => {
  function memoryReader(members: InstanceProgress[]): WaveReader {
    const of = (wave: WaveName) => members.filter((m) => m.wave === wave);
    return {
      counts: (wave) => Promise.resolve({ inFlight: of(wave).filter((m) => m.state === 'in-flight').length, failed: of(wave).filter((m) => m.state === 'failed').length }),
      eligible: (wave, now, limit) => Promise.resolve(of(wave).filter((m) => OPEN_STATES.includes(m.state) && Date.parse(m.eligibleAt ?? '') <= now.getTime()).slice(0, limit)),
      anyOpen: (wave) => Promise.resolve(of(wave).some((m) => OPEN_STATES.includes(m.state))),
      stateCounts: (wave) => Promise.resolve(Object.fromEntries(['succeeded', 'failed', 'skipped'].map((st) => [st, of(wave).filter((m) => m.state === st).length]))),
      failures: (wave, limit) => Promise.resolve(of(wave).filter((m) => m.state === 'failed').slice(0, limit)),
    };
  }

  it('never runs more than --concurrency at once and halts past --budget, whatever the outcomes (property)', async () => {
    const devFleet = (n: number): FleetInstance[] => Array.from({ length: n }, (_, i) => ({ id: `dev-${String(i).padStart(2, '0')}`, environment: 'dev', tier: 'internal', version: '5.4.2', status: 'active', lease: null }));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 2 }), fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }), async (n, concurrency, budget, fails) => {
        const { members } = workflowMembersOf(task(), devFleet(n), T0);
        let workflow = workflowOf(task(), members, concurrency, budget);
        for (let round = 0; round < 3 * n + 3 && workflow.status === 'running'; round += 1) {
          const plan = await planTick(workflow, memoryReader(members), T0, { freezes: [] });
          workflow = plan.rollout;
          for (const s of plan.start) {
            const m = members.find((x) => x.instanceId === s.instanceId);
            if (m !== undefined) m.state = 'in-flight';
          }
          expect(members.filter((m) => m.state === 'in-flight').length).toBeLessThanOrEqual(concurrency);
          // The oldest in flight finishes, as its fact would record.
          const finishing = members.find((m) => m.state === 'in-flight');
          if (finishing !== undefined) finishing.state = fails[members.indexOf(finishing)] === true ? 'failed' : 'succeeded';
        }
        const failed = members.filter((m) => m.state === 'failed').length;
        if (workflow.status === 'completed') expect(failed).toBeLessThanOrEqual(budget);
        if (workflow.status === 'halted') expect(failed).toBeGreaterThan(budget);
        expect(['completed', 'halted']).toContain(workflow.status);
      }),
    );
  });
});

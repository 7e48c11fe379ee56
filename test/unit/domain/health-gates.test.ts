import { describe, expect, it } from 'vitest';
import {
  DEFAULT_HEALTH_GATES,
  afterProbe,
  claimStep,
  decideAcceptance,
  endOperation,
  finishStep,
  gateOf,
  gateStateOf,
  gateHandles,
  markStepRunning,
  probeDue,
  probeUrls,
  readProbe,
  recordProgress,
  verdictOf,
  versionInBody,
  type GateState,
  type HealthGate,
  type OperationRecord,
  type Step,
} from '../../../shared/domain/lifecycle/index.js';
import { makeEnvelope, type AnyEnvelope, type InstanceRecord, type UpgradeRecord } from '../../../shared/events/index.js';
import type { HttpAnswer } from '../../../shared/ports.js';
import { NOW, acmeInstance } from './instance-fixture.js';

const now = NOW;
const at = (seconds: number) => new Date(now.getTime() + seconds * 1000);

const instance = acmeInstance;

const envelope = (payload: { targetVersion: string } | { rollback: true }, type: 'instance.upgrade' = 'instance.upgrade'): AnyEnvelope =>
  makeEnvelope({ type, instanceId: 'acme-prod', actor: 'alice@example.com', reason: 'release', payload });
const other = (type: 'instance.backup' | 'instance.restore' | 'instance.delete' | 'instance.module-apply', payload: Record<string, unknown>): AnyEnvelope =>
  makeEnvelope({ type, instanceId: 'acme-prod', actor: 'alice@example.com', reason: 'person', payload }) as AnyEnvelope;

const answer = (url: string, status: number | null, body = '', error: string | null = null): HttpAnswer => ({ url, status, body, latencyMs: 12, error });
const healthy = (version: string) => ({ health: answer('https://acme.example.com/healthz', 200, '{"status":"ok"}'), version: answer('https://acme.example.com/version', 200, JSON.stringify({ version })) });

const afterGate: HealthGate = { phase: 'after', expectVersion: '5.5.0', consecutive: 3, windowSeconds: 600, intervalSeconds: 15 };
const gateStep = (gate: HealthGate): Step => ({
  name: `health-${gate.phase}`,
  kind: 'health-check',
  after: [],
  params: { ...gate },
  destructive: false,
  status: 'running',
  attempts: 1,
  claim: null,
  handles: {},
  notBefore: null,
  startedAt: now.toISOString(),
  finishedAt: null,
  error: null,
});

describe('what a probe finds', () => {
  it.each([
    ['JSON with a version', '{"version":"5.5.0","commit":"abc"}', '5.5.0'],
    ['a JSON string', '"5.5.0"', '5.5.0'],
    ['plain text', '5.5.0\n', '5.5.0'],
    ['an HTML error page', '<html><body>Bad gateway</body></html>', null],
    ['JSON without a version', '{"status":"ok"}', null],
    ['nothing', '', null],
  ])('reads the version from %s', (_label, body, expected) => {
    expect(versionInBody(body)).toBe(expected);
  });

  it('passes only when healthy and on the target version', () => {
    expect(readProbe(afterGate, healthy('5.5.0'), now)).toMatchObject({ healthy: true, version: '5.5.0', versionMatches: true, passed: true });
    expect(readProbe(afterGate, healthy('5.4.2'), now)).toMatchObject({ healthy: true, version: '5.4.2', versionMatches: false, passed: false });
    const unhealthy = { ...healthy('5.5.0'), health: answer('https://acme.example.com/healthz', 503, '{"status":"failing"}') };
    expect(readProbe(afterGate, unhealthy, now)).toMatchObject({ healthStatus: 503, healthy: false, passed: false });
    const timedOut = { health: answer('https://acme.example.com/healthz', null, '', 'timed out after 10000 ms'), version: answer('https://acme.example.com/version', null, '', 'timed out after 10000 ms') };
    expect(readProbe(afterGate, timedOut, now)).toMatchObject({ healthStatus: null, version: null, healthy: false, passed: false, error: 'health: timed out after 10000 ms; version: timed out after 10000 ms' });
  });

  it('before the upgrade, any version passes: only health is asked', () => {
    const before: HealthGate = { phase: 'before', consecutive: 1, windowSeconds: 120, intervalSeconds: 15 };
    expect(readProbe(before, healthy('5.4.2'), now)).toMatchObject({ versionMatches: null, passed: true });
  });

  it('builds the URLs from the template and paths, for https in the cloud and a local stand-in', () => {
    expect(probeUrls(DEFAULT_HEALTH_GATES, 'acme.example.com')).toEqual({ health: 'https://acme.example.com/healthz', version: 'https://acme.example.com/version' });
    expect(probeUrls({ urlTemplate: 'http://127.0.0.1:9000/{domain}/', healthPath: '/-/ready', versionPath: '/api/version' }, 'acme.example.com')).toEqual({
      health: 'http://127.0.0.1:9000/acme.example.com/-/ready',
      version: 'http://127.0.0.1:9000/acme.example.com/api/version',
    });
  });
});

describe('a gate, probe by probe', () => {
  const fold = (gate: HealthGate, probes: Array<[number, ReturnType<typeof healthy>]>) => {
    const step = gateStep(gate);
    let state: GateState = gateStateOf({});
    let verdict: ReturnType<typeof afterProbe>['verdict'] = { kind: 'continue' };
    for (const [seconds, answers] of probes) ({ state, verdict } = afterProbe(gate, step, state, readProbe(gate, answers, at(seconds))));
    return { state, verdict };
  };

  it('passes on the Nth passing probe in a row', () => {
    const two = fold(afterGate, [[0, healthy('5.5.0')], [15, healthy('5.5.0')]]);
    expect(two.verdict).toEqual({ kind: 'continue' });
    expect(fold(afterGate, [[0, healthy('5.5.0')], [15, healthy('5.5.0')], [30, healthy('5.5.0')]]).verdict).toEqual({ kind: 'passed' });
  });

  it('starts counting again after a failing probe', () => {
    const { state, verdict } = fold(afterGate, [[0, healthy('5.5.0')], [15, healthy('5.5.0')], [30, healthy('5.4.2')], [45, healthy('5.5.0')], [60, healthy('5.5.0')]]);
    expect(verdict).toEqual({ kind: 'continue' });
    expect(state).toMatchObject({ probes: 5, streak: 2 });
  });

  it('fails once its window closed without the streak, with the last probe as evidence', () => {
    const { state, verdict } = fold(afterGate, [[0, healthy('5.4.2')], [300, healthy('5.4.2')], [600, healthy('5.4.2')]]);
    expect(verdict.kind).toBe('failed');
    expect(verdict.kind === 'failed' && verdict.reason).toBe(
      'the health gate after the rollout of 5.5.0 did not see 3 passing probe(s) in a row within 600 s (3 probes; last: 2026-11-26T10:10:00.000Z GET https://acme.example.com/healthz → 200, GET https://acme.example.com/version → 200 version 5.4.2, not the target version (12 ms): failed)',
    );
    expect(state.recent).toHaveLength(3);
  });

  it('keeps its evidence in the step handles and reads it back', () => {
    const { state } = fold(afterGate, [[0, healthy('5.4.2')], [15, healthy('5.5.0')]]);
    const handles = gateHandles(state);
    expect(handles).toMatchObject({ probes: '2', healthyStreak: '1', lastProbeAt: at(15).toISOString() });
    expect(handles.lastProbe).toContain('version 5.5.0');
    expect(gateStateOf(handles)).toEqual(state);
  });

  it('probes at most once per interval', () => {
    const { state } = fold(afterGate, [[0, healthy('5.5.0')]]);
    expect(probeDue(afterGate, state, at(14))).toBe(false);
    expect(probeDue(afterGate, state, at(15))).toBe(true);
  });

  it('of two racing observers only one probe is recorded', () => {
    const op = { id: 'op-1', steps: [gateStep(afterGate)], updatedAt: now.toISOString() } as unknown as OperationRecord;
    const first = recordProgress(op, 'health-after', { probes: '1', healthyStreak: '1' }, { probes: '0' }, now);
    expect(first.steps[0]?.handles.probes).toBe('1');
    // The second folded its probe into the same state the first did: dropped, not counted twice.
    expect(recordProgress(first, 'health-after', { probes: '1', healthyStreak: '1' }, { probes: '0' }, now)).toBe(first);
  });
});

/** Drives an accepted operation's steps to the given outcomes, then ends it. */
function run(envelopeToRun: AnyEnvelope, inst: InstanceRecord, outcomes: Record<string, true | string>, handles: Record<string, Record<string, string>> = {}) {
  const decision = decideAcceptance({ envelope: envelopeToRun, instance: inst, now });
  if (decision.kind !== 'accept') throw new Error(`refused: ${decision.message}`);
  let op = decision.operation;
  for (const [name, outcome] of Object.entries(outcomes)) {
    op = claimStep(op, name, 't', now)!;
    op = markStepRunning(op, name, {}, now);
    op = finishStep(op, name, outcome === true ? { ok: true, handles: handles[name] ?? {} } : { ok: false, error: outcome, handles: handles[name] ?? {} }, now);
  }
  const verdict = verdictOf(op);
  if (verdict.kind === 'continue') throw new Error('not over');
  return endOperation(op, decision.instanceAfter, verdict, now);
}

const BACKUPS = { 'sql-backup': { backupRunId: '1764151200000' }, 'gke-backup': { gkeBackup: 'projects/mi-acme-prod/locations/us-east1/backupPlans/plan/backups/op-1-gke' } };
const NO_MIGRATIONS = { ...BACKUPS, 'upgrade-application': { migrationsRan: 'false', migrationsApplied: '0' } };

describe('an upgrade whose gate failed', () => {
  it('after the rollout: the instance is degraded (it runs the new version) and the upgrade is recorded for a rollback', () => {
    const { operation, instance: after } = run(envelope({ targetVersion: '5.5.0' }), instance(), { 'health-before': true, 'sql-backup': true, 'gke-backup': true, 'upgrade-application': true, 'health-after': 'unhealthy' }, NO_MIGRATIONS);
    expect(operation).toMatchObject({ status: 'failed', failure: { step: 'health-after', reason: 'unhealthy' } });
    expect(after).toMatchObject({ status: 'degraded', version: '5.5.0', lease: null });
    expect(after.lastUpgrade).toEqual({
      operationId: operation.id,
      fromVersion: '5.4.2',
      toVersion: '5.5.0',
      migrationsRan: false,
      rollback: false,
      sqlBackupRunId: '1764151200000',
      gkeBackup: 'projects/mi-acme-prod/locations/us-east1/backupPlans/plan/backups/op-1-gke',
      at: now.toISOString(),
    });
  });

  it('before the upgrade: nothing changed, the instance stays active on its version', () => {
    const { operation, instance: after } = run(envelope({ targetVersion: '5.5.0' }), instance(), { 'health-before': 'unhealthy' });
    expect(operation.failure?.step).toBe('health-before');
    expect(after).toMatchObject({ status: 'active', version: '5.4.2' });
    expect(after.lastUpgrade).toBeUndefined();
  });

  it('a failed rollout run (not the gate) still leaves the instance failed for a person', () => {
    const { instance: after } = run(envelope({ targetVersion: '5.5.0' }), instance(), { 'health-before': true, 'sql-backup': true, 'gke-backup': true, 'upgrade-application': 'kubectl rollout status: timed out' });
    expect(after).toMatchObject({ status: 'failed', version: '5.4.2' });
  });
});

describe('a degraded instance', () => {
  const last: UpgradeRecord = { operationId: 'op-up', fromVersion: '5.4.2', toVersion: '5.5.0', migrationsRan: false, rollback: false, sqlBackupRunId: '17', gkeBackup: 'projects/p/locations/l/backupPlans/b/backups/g', at: now.toISOString() };
  const degraded = (over: Partial<UpgradeRecord> = {}) => instance({ status: 'degraded', version: '5.5.0', lastUpgrade: { ...last, ...over } });
  const decide = (e: AnyEnvelope, inst: InstanceRecord) => decideAcceptance({ envelope: e, instance: inst, now });

  it('takes a rollback: the previous version, with backups and the gate after, without the gate before', () => {
    const decision = decide(envelope({ rollback: true }), degraded());
    expect(decision.kind).toBe('accept');
    if (decision.kind !== 'accept') return;
    expect(decision.operation.steps.map((s) => s.name)).toEqual(['sql-backup', 'gke-backup', 'upgrade-application', 'health-after']);
    expect(decision.operation.params).toMatchObject({ fromVersion: '5.5.0', targetVersion: '5.4.2', rollbackOf: 'op-up' });
    expect(gateOf(decision.operation.steps[3])).toMatchObject({ phase: 'after', expectVersion: '5.4.2' });
  });

  it('a rollback that passes its gate brings it back active on the previous version, recorded as a rollback', () => {
    const { instance: after } = run(envelope({ rollback: true }), degraded(), { 'sql-backup': true, 'gke-backup': true, 'upgrade-application': true, 'health-after': true }, NO_MIGRATIONS);
    expect(after).toMatchObject({ status: 'active', version: '5.4.2', lastUpgrade: { fromVersion: '5.5.0', toVersion: '5.4.2', rollback: true } });
    // And there is nothing further back to roll to.
    expect(decide(envelope({ rollback: true }), after)).toMatchObject({ kind: 'reject', code: 'no-rollback' });
  });

  it('refuses a rollback when the upgrade ran migrations, pointing to the restore with the backup ids', () => {
    expect(decide(envelope({ rollback: true }), degraded({ migrationsRan: true }))).toEqual({
      kind: 'reject',
      code: 'no-rollback',
      message:
        'the upgrade of acme-prod to 5.5.0 (op-up) ran database migrations, so 5.4.2 cannot simply be redeployed: restore the pre-upgrade backups instead: mi restore acme-prod --backup-run 17 --gke-backup projects/p/locations/l/backupPlans/b/backups/g',
    });
    expect(decide(envelope({ rollback: true }), degraded({ migrationsRan: null }))).toMatchObject({ code: 'no-rollback', message: expect.stringContaining('may have run database migrations') as string });
  });

  it('refuses a rollback with nothing recorded to roll back', () => {
    expect(decide(envelope({ rollback: true }), instance())).toMatchObject({ kind: 'reject', code: 'no-rollback', message: 'instance acme-prod has no recorded upgrade to roll back' });
  });

  it('refuses an upgrade to a newer version, and the module applies and drills of an active instance', () => {
    expect(decide(envelope({ targetVersion: '5.6.0' }), degraded())).toMatchObject({ kind: 'reject', code: 'not-active', message: expect.stringContaining('mi upgrade acme-prod --rollback') as string });
    expect(decide(other('instance.module-apply', { module: 'database', commit: 'a'.repeat(40), applyId: 'ap-1', action: 'apply' }), degraded())).toMatchObject({ kind: 'reject', code: 'not-active' });
  });

  it('takes a restore and a delete, and a backup that leaves it degraded', () => {
    const restore = decideAcceptance({ envelope: other('instance.restore', { source: { kind: 'backup', cloudSqlBackupRunId: '17' } }), instance: degraded(), now, facts: { namedSqlRun: { id: '17', status: 'SUCCESSFUL', instance: 'acme-prod-db' } } });
    expect(restore.kind).toBe('accept');
    expect(decide(other('instance.delete', {}), instance({ status: 'degraded', environment: 'dev', tier: 'internal' })).kind).toBe('accept');
    expect(run(other('instance.backup', {}), degraded(), { 'sql-backup': true, 'gke-backup': true }).instance.status).toBe('degraded');
    expect(run(other('instance.backup', {}), degraded(), { 'sql-backup': true, 'gke-backup': 'FAILED' }).instance.status).toBe('degraded');
  });
});

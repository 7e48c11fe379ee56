import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TIMINGS,
  claimStep,
  claimableSteps,
  confirmIdle,
  endOperation,
  failUnconfirmed,
  finishStep,
  holdsClaim,
  isPastDeadline,
  markStepRunning,
  markStuck,
  releaseStuck,
  retryStep,
  scheduleNextRun,
  stepsInFlight,
  stepsToConfirm,
  verdictOf,
  type OperationRecord,
} from '../../../shared/domain/lifecycle/operations.js';
import { makeEnvelope, type AnyEnvelope, type InstanceRecord } from '../../../shared/events/index.js';
import { decideAcceptance as decide } from '../../../shared/domain/lifecycle/acceptance.js';
import { NOW, acmeInstance } from './instance-fixture.js';

const decideAcceptance = (envelope: AnyEnvelope, instance: InstanceRecord | undefined, at: Date) => decide({ envelope, instance, now: at });

const now = NOW;
const later = (ms: number) => new Date(now.getTime() + ms);

const instance = acmeInstance;

const upgrade = (targetVersion: string): AnyEnvelope =>
  makeEnvelope({ type: 'instance.upgrade', instanceId: 'acme-prod', actor: 'alice@example.com', reason: 'monthly release', payload: { targetVersion } });
const backup = (): AnyEnvelope =>
  makeEnvelope({ type: 'instance.backup', instanceId: 'acme-prod', actor: 'alice@example.com', reason: 'before a migration', payload: {} });

function accepted(envelope: AnyEnvelope, inst = instance()): { operation: OperationRecord; instanceAfter: InstanceRecord } {
  const decision = decideAcceptance(envelope, inst, now);
  if (decision.kind !== 'accept') throw new Error(`expected acceptance, got ${decision.code}: ${decision.message}`);
  return decision;
}

describe('accepting a lifecycle command', () => {
  it.each([
    ['an unknown instance', upgrade('5.5.0'), undefined, 'unknown-instance'],
    ['a deleted instance', upgrade('5.5.0'), instance({ status: 'deleted' }), 'unknown-instance'],
    ['a leased instance', upgrade('5.5.0'), instance({ lease: { operationId: 'op-x', operationType: 'backup', acquiredAt: now.toISOString() } }), 'busy'],
    ['an instance that is not active', backup(), instance({ status: 'failed' }), 'not-active'],
    ['the same version', upgrade('5.4.2'), instance(), 'not-newer'],
    ['an older version', upgrade('5.3.9'), instance(), 'not-newer'],
    ['a prerelease of the running version', upgrade('5.4.2-rc.1'), instance(), 'not-newer'],
  ] as const)('refuses %s with code %s', (_label, envelope, inst, code) => {
    const decision = decideAcceptance(envelope, inst, now);
    expect(decision.kind).toBe('reject');
    expect(decision.kind === 'reject' && decision.code).toBe(code);
  });

  it('says busy before anything else, so automated sources try again later', () => {
    const decision = decideAcceptance(upgrade('5.4.0'), instance({ status: 'upgrading', lease: { operationId: 'op-1', operationType: 'upgrade', acquiredAt: '' } }), now);
    expect(decision).toMatchObject({ kind: 'reject', code: 'busy', message: 'instance acme-prod is busy with upgrade operation op-1' });
  });

  it('accepts a newer version: the operation id derives from the event id and the instance is leased to it', () => {
    const envelope = upgrade('5.5.0');
    const { operation, instanceAfter } = accepted(envelope);
    expect(operation.id).toBe(`op-${envelope.eventId}`);
    expect(operation.params).toMatchObject({ project: 'mi-acme-prod', sqlInstance: 'acme-prod-db', backupPlan: 'plan', fromVersion: '5.4.2', targetVersion: '5.5.0' });
    expect(operation.onSuccess).toEqual({ version: '5.5.0' });
    expect(operation.steps.map((s) => [s.name, s.after])).toEqual([
      ['health-before', []],
      ['sql-backup', ['health-before']],
      ['gke-backup', ['health-before']],
      ['upgrade-application', ['sql-backup', 'gke-backup']],
      ['health-after', ['upgrade-application']],
    ]);
    // The gates the operation ran under are on its record: what was asked of the instance.
    expect(operation.steps.find((s) => s.name === 'health-after')?.params).toEqual({ phase: 'after', expectVersion: '5.5.0', consecutive: 3, windowSeconds: 600, intervalSeconds: 15 });
    expect(operation.deadline).toBe(later(DEFAULT_TIMINGS.deadlineMs.upgrade).toISOString());
    expect(instanceAfter).toMatchObject({ status: 'upgrading', lease: { operationId: operation.id, operationType: 'upgrade' }, generation: 4, version: '5.4.2' });
  });

  it('a backup takes a Cloud SQL and a GKE backup side by side', () => {
    const { operation, instanceAfter } = accepted(backup());
    expect(operation.steps.map((s) => s.name)).toEqual(['sql-backup', 'gke-backup']);
    expect(claimableSteps(operation, now).map((s) => s.name)).toEqual(['sql-backup', 'gke-backup']);
    expect(instanceAfter.status).toBe('backing-up');
  });
});

describe('steps', () => {
  it('a step waits for the steps it comes after', () => {
    let { operation } = accepted(upgrade('5.5.0'));
    expect(claimableSteps(operation, now).map((s) => s.name)).toEqual(['health-before']);
    for (const name of ['health-before', 'sql-backup', 'gke-backup']) {
      operation = claimStep(operation, name, `t-${name}`, now)!;
      operation = markStepRunning(operation, name, { id: name }, now);
      operation = finishStep(operation, name, { ok: true }, now);
    }
    expect(claimableSteps(operation, now).map((s) => s.name)).toEqual(['upgrade-application']);
  });

  it('only one claimant gets a step; a claim left by a crash expires and can be taken over', () => {
    const { operation } = accepted(backup());
    const first = claimStep(operation, 'sql-backup', 'a', now)!;
    expect(first.steps[0]).toMatchObject({ status: 'starting', attempts: 1, claim: { token: 'a' } });
    expect(claimStep(first, 'sql-backup', 'b', later(1000))).toBeUndefined();
    const takenOver = claimStep(first, 'sql-backup', 'b', later(DEFAULT_TIMINGS.claimMs))!;
    expect(takenOver.steps[0]).toMatchObject({ status: 'starting', attempts: 2, claim: { token: 'b' } });
    expect(holdsClaim(takenOver, 'sql-backup', 'a')).toBe(false);
    expect(holdsClaim(takenOver, 'sql-backup', 'b')).toBe(true);
  });

  it('a retryable failure backs off exponentially and fails for good after the last attempt', () => {
    let { operation } = accepted(backup());
    const timings = { ...DEFAULT_TIMINGS, maxAttempts: 3, backoffMs: 1000 };
    let at = now;
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      operation = claimStep(operation, 'sql-backup', `t${attempt}`, at, timings)!;
      // A 409 is a refusal: the call cannot have taken effect.
      operation = retryStep(operation, 'sql-backup', 'HTTP 409: operation in progress', at, timings, false);
      const s = operation.steps[0];
      if (s.status === 'pending') {
        delays.push(Date.parse(s.notBefore!) - at.getTime());
        expect(claimableSteps(operation, at).map((x) => x.name)).not.toContain('sql-backup');
        at = new Date(Date.parse(s.notBefore!));
      }
    }
    expect(delays).toEqual([1000, 2000]);
    expect(operation.steps[0]).toMatchObject({ status: 'failed', error: 'gave up after 3 attempts: HTTP 409: operation in progress' });
    expect(verdictOf(operation)).toEqual({ kind: 'failed', step: 'sql-backup', reason: 'gave up after 3 attempts: HTTP 409: operation in progress' });
  });

  it('a finished step cannot be finished again', () => {
    let { operation } = accepted(backup());
    operation = claimStep(operation, 'sql-backup', 't', now)!;
    operation = markStepRunning(operation, 'sql-backup', { backupRunId: '1' }, now);
    operation = finishStep(operation, 'sql-backup', { ok: true }, now);
    expect(finishStep(operation, 'sql-backup', { ok: false, error: 'late' }, now)).toBe(operation);
  });

  it('the next look is now when a step can start, else at the next poll', () => {
    const { operation } = accepted(backup());
    expect(scheduleNextRun(operation, now).nextRunAt).toBe(now.toISOString());
    let running = claimStep(operation, 'sql-backup', 't', now)!;
    running = markStepRunning(running, 'sql-backup', {}, now);
    running = claimStep(running, 'gke-backup', 't', now)!;
    running = markStepRunning(running, 'gke-backup', {}, now);
    expect(scheduleNextRun(running, now).nextRunAt).toBe(later(DEFAULT_TIMINGS.pollMs).toISOString());
  });
});

describe('ending an operation', () => {
  function finished(envelope: AnyEnvelope, outcomes: Record<string, true | string>) {
    const start = accepted(envelope);
    const instanceAfter = start.instanceAfter;
    let operation = start.operation;
    for (const [name, outcome] of Object.entries(outcomes)) {
      operation = claimStep(operation, name, 't', now)!;
      operation = markStepRunning(operation, name, { handle: `${name}-1` }, now);
      operation = finishStep(operation, name, outcome === true ? { ok: true } : { ok: false, error: outcome }, now);
    }
    const verdict = verdictOf(operation);
    if (verdict.kind === 'continue') throw new Error('operation not over');
    return endOperation(operation, instanceAfter, verdict, now);
  }

  it('a successful upgrade records the new version and frees the instance', () => {
    const { operation, instance: inst } = finished(upgrade('5.5.0'), { 'health-before': true, 'sql-backup': true, 'gke-backup': true, 'upgrade-application': true, 'health-after': true });
    expect(operation).toMatchObject({ status: 'succeeded', failure: null });
    expect(operation.result).toMatchObject({ fromVersion: '5.4.2', version: '5.5.0', 'sql-backup.handle': 'sql-backup-1' });
    expect(inst).toMatchObject({ status: 'active', version: '5.5.0', lease: null, generation: 5 });
  });

  it('a failed backup stops the upgrade before the application: active on the old version', () => {
    const { operation, instance: inst } = finished(upgrade('5.5.0'), { 'health-before': true, 'sql-backup': true, 'gke-backup': 'GKE backup ended FAILED' });
    expect(operation.steps.find((s) => s.name === 'upgrade-application')?.status).toBe('pending');
    expect(operation).toMatchObject({ status: 'failed', failure: { step: 'gke-backup', reason: 'GKE backup ended FAILED' } });
    expect(inst).toMatchObject({ status: 'active', version: '5.4.2', lease: null });
  });

  it('a failed application upgrade leaves the instance failed for a person to act on', () => {
    const { operation, instance: inst } = finished(upgrade('5.5.0'), { 'health-before': true, 'sql-backup': true, 'gke-backup': true, 'upgrade-application': 'migration failed' });
    expect(operation.status).toBe('failed');
    expect(inst).toMatchObject({ status: 'failed', version: '5.4.2', lease: null });
  });

  it('an operation does not release a lease it does not hold', () => {
    const { operation } = accepted(backup());
    const other = instance({ lease: { operationId: 'op-other', operationType: 'upgrade', acquiredAt: '' }, status: 'upgrading' });
    const ended = endOperation(operation, other, { kind: 'failed', step: 'x', reason: 'y' }, now);
    expect(ended.instance.lease?.operationId).toBe('op-other');
    expect(ended.instance.status).toBe('upgrading');
  });
});

describe('stuck operations', () => {
  it('past its deadline an operation is stuck and keeps its lease', () => {
    const { operation } = accepted(backup());
    const deadline = new Date(operation.deadline);
    expect(isPastDeadline(operation, new Date(deadline.getTime() - 1))).toBe(false);
    expect(isPastDeadline(operation, deadline)).toBe(true);
    expect(markStuck(operation, deadline)).toMatchObject({ status: 'stuck', stuckSince: deadline.toISOString() });
  });

  it('abandoning records who and why and frees the instance', () => {
    const { operation, instanceAfter } = accepted(backup());
    const stuck = markStuck(operation, now);
    const released = releaseStuck(stuck, instanceAfter, { kind: 'abandoned', by: 'bob@example.com', why: 'GKE backup hung, opened a support case' }, now);
    expect(released.operation).toMatchObject({ status: 'abandoned', abandoned: { by: 'bob@example.com', why: 'GKE backup hung, opened a support case' } });
    expect(released.instance).toMatchObject({ lease: null, status: 'active' });
  });
});

describe('a failure while other steps run', () => {
  it('the operation waits for the work in flight before it ends, and starts nothing new', () => {
    const { operation: start } = accepted(backup());
    let operation = claimStep(start, 'sql-backup', 'a', now)!;
    operation = claimStep(operation, 'gke-backup', 'b', now)!;
    operation = markStepRunning(operation, 'sql-backup', {}, now);
    operation = markStepRunning(operation, 'gke-backup', {}, now);
    operation = finishStep(operation, 'sql-backup', { ok: false, error: 'disk full' }, now);
    expect(verdictOf(operation)).toEqual({ kind: 'continue' });
    operation = finishStep(operation, 'gke-backup', { ok: true }, now);
    expect(claimableSteps(operation, now)).toEqual([]);
    expect(verdictOf(operation)).toEqual({ kind: 'failed', step: 'sql-backup', reason: 'disk full' });
  });
});

describe('a step whose call may have landed stays in flight until its service says otherwise', () => {
  const restoreish = () => {
    const { operation: start } = accepted(backup());
    let operation = claimStep(start, 'sql-backup', 'a', now)!;
    operation = claimStep(operation, 'gke-backup', 'b', now)!;
    return operation;
  };

  it('a retryable answer (a 504: the call may have taken effect) keeps the step in flight when a sibling fails', () => {
    let operation = restoreish();
    operation = retryStep(operation, 'sql-backup', 'HTTP 504', now, DEFAULT_TIMINGS, true);
    operation = markStepRunning(operation, 'gke-backup', {}, now);
    operation = finishStep(operation, 'gke-backup', { ok: false, error: 'GKE backup FAILED' }, now);
    expect(operation.steps[0]).toMatchObject({ status: 'pending', mayHaveStarted: true });
    // The operation may not end, and nothing may start the step again: its service is asked instead.
    expect(verdictOf(operation)).toEqual({ kind: 'continue' });
    expect(claimableSteps(operation, later(DEFAULT_TIMINGS.maxBackoffMs))).toEqual([]);
    expect(stepsToConfirm(operation, now).map((s) => s.name)).toEqual(['sql-backup']);
    operation = confirmIdle(operation, 'sql-backup', now);
    expect(stepsInFlight(operation)).toEqual([]);
    expect(verdictOf(operation)).toEqual({ kind: 'failed', step: 'gke-backup', reason: 'GKE backup FAILED' });
  });

  it('a refusal (409, 429) of a step never sent before leaves nothing in flight', () => {
    let operation = restoreish();
    operation = retryStep(operation, 'sql-backup', 'HTTP 409', now, DEFAULT_TIMINGS, false);
    expect(stepsInFlight(operation).map((s) => s.name)).toEqual(['gke-backup']);
  });

  it('a refusal after an earlier attempt that may have landed does not settle the step', () => {
    let operation = restoreish();
    operation = retryStep(operation, 'sql-backup', 'HTTP 504', now, DEFAULT_TIMINGS, true);
    operation = claimStep(operation, 'sql-backup', 'c', later(DEFAULT_TIMINGS.maxBackoffMs))!;
    operation = retryStep(operation, 'sql-backup', 'HTTP 409: the restore of the first attempt runs', now, DEFAULT_TIMINGS, false);
    expect(operation.steps[0]?.mayHaveStarted).toBe(true);
  });

  it('taking over a claim left by a crash counts the crashed attempt as possibly sent', () => {
    let operation = restoreish();
    operation = claimStep(operation, 'sql-backup', 'c', later(DEFAULT_TIMINGS.claimMs))!;
    operation = retryStep(operation, 'sql-backup', 'HTTP 409', later(DEFAULT_TIMINGS.claimMs), DEFAULT_TIMINGS, false);
    expect(operation.steps[0]).toMatchObject({ status: 'pending', mayHaveStarted: true });
  });

  it('giving up, or a permanent error, after an attempt that may have landed fails the step but keeps it in flight', () => {
    const timings = { ...DEFAULT_TIMINGS, maxAttempts: 1 };
    let operation = restoreish();
    operation = retryStep(operation, 'sql-backup', 'HTTP 504', now, timings, true);
    expect(operation.steps[0]).toMatchObject({ status: 'failed', mayHaveStarted: true });
    operation = failUnconfirmed(operation, 'gke-backup', 'HTTP 400: bad request', now, false);
    expect(operation.steps[1]).toMatchObject({ status: 'failed', mayHaveStarted: false });
    expect(verdictOf(operation)).toEqual({ kind: 'continue' });
    operation = confirmIdle(operation, 'sql-backup', now);
    expect(verdictOf(operation)).toMatchObject({ kind: 'failed', step: 'sql-backup' });
  });

  it('a step left starting by a crash is confirmed, not started again, once the operation is failing', () => {
    let operation = restoreish();
    operation = markStepRunning(operation, 'gke-backup', {}, now);
    operation = finishStep(operation, 'gke-backup', { ok: false, error: 'FAILED' }, now);
    expect(stepsToConfirm(operation, now)).toEqual([]);
    const expired = later(DEFAULT_TIMINGS.claimMs);
    expect(claimableSteps(operation, expired)).toEqual([]);
    expect(stepsToConfirm(operation, expired).map((s) => s.name)).toEqual(['sql-backup']);
    operation = confirmIdle(operation, 'sql-backup', expired);
    expect(operation.steps[0]).toMatchObject({ status: 'pending', claim: null, mayHaveStarted: false });
    expect(verdictOf(operation)).toMatchObject({ kind: 'failed', step: 'gke-backup' });
  });

  it('a running step whose poll is refused (a permission lost) fails but stays in flight: its work may still run', () => {
    let operation = restoreish();
    operation = markStepRunning(operation, 'gke-backup', { gkeBackup: 'b' }, now);
    operation = failUnconfirmed(operation, 'gke-backup', 'its outcome could not be read: HTTP 403', now, false);
    expect(operation.steps[1]).toMatchObject({ status: 'failed', mayHaveStarted: true });
    expect(stepsToConfirm(operation, now).map((s) => s.name)).toContain('gke-backup');
  });

  it('a poll outcome settles the step: its service said how it ended', () => {
    let operation = restoreish();
    operation = markStepRunning(operation, 'sql-backup', { backupRunId: '1' }, now);
    expect(operation.steps[0]?.mayHaveStarted).toBe(true);
    operation = finishStep(operation, 'sql-backup', { ok: false, error: 'run FAILED' }, now);
    expect(operation.steps[0]?.mayHaveStarted).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, decideAcceptance, type PreflightFacts } from '../../../shared/domain/lifecycle/acceptance.js';
import { approveOperation } from '../../../shared/domain/lifecycle/approval.js';
import type { OperationRecord } from '../../../shared/domain/lifecycle/operations.js';
import { makeEnvelope, type AnyEnvelope, type EventPayloads, type InstanceRecord, type InstanceSpec, type LifecycleCommandType } from '../../../shared/events/index.js';
import { resourceNamesFor } from '../../../shared/domain/lifecycle/resource-names.js';

const now = new Date('2026-11-26T10:00:00.000Z');

const prodSpec: InstanceSpec = {
  id: 'cus-acme',
  slug: 'acme',
  environment: 'prod',
  tier: 'customer',
  domain: 'acme.example.com',
  region: 'us-central1',
  version: '5.4.2',
  maintenanceWindow: { days: ['sat'], start: '02:00', hours: 4, timeZone: 'America/New_York' },
};
const devSpec: InstanceSpec = { id: 'dev-alice', slug: 'alice', environment: 'dev', tier: 'internal', domain: 'alice.dev.example.com', region: 'europe-west1', version: '5.4.2', owner: 'alice@example.com' };

function record(spec: InstanceSpec, overrides: Partial<InstanceRecord> = {}): InstanceRecord {
  return { ...spec, status: 'active', resources: resourceNamesFor(spec.id, spec.region), lease: null, generation: 2, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z', ...overrides };
}

function command<T extends LifecycleCommandType>(type: T, instanceId: string, payload: EventPayloads[T], actor = 'alice@example.com'): AnyEnvelope {
  return makeEnvelope({ type, instanceId, payload, actor, reason: 'test' }) as unknown as AnyEnvelope;
}

function accepted(envelope: AnyEnvelope, instance: InstanceRecord | undefined, facts: PreflightFacts = {}, slugOwner?: string) {
  const decision = decideAcceptance({ envelope, instance, now, facts, ...(slugOwner ? { slugOwner } : {}) });
  if (decision.kind !== 'accept') throw new Error(`rejected ${decision.code}: ${decision.message}`);
  return decision;
}

function rejected(envelope: AnyEnvelope, instance: InstanceRecord | undefined, facts: PreflightFacts = {}, slugOwner?: string) {
  const decision = decideAcceptance({ envelope, instance, now, facts, ...(slugOwner ? { slugOwner } : {}) });
  if (decision.kind !== 'reject') throw new Error('expected a rejection');
  return decision;
}

describe('create', () => {
  it('registers the instance as provisioning, leased to the create, with its resources and slug', () => {
    const { operation, instanceAfter, claimSlug } = accepted(command('instance.create', prodSpec.id, { spec: prodSpec }), undefined);
    expect(instanceAfter).toMatchObject({ id: 'cus-acme', status: 'provisioning', lease: { operationId: operation.id, operationType: 'create' } });
    expect(instanceAfter.resources.backupPlanRegion).not.toBe('us-central1');
    expect(instanceAfter.expiresAt).toBeUndefined();
    expect(claimSlug).toEqual({ environment: 'prod', slug: 'acme' });
    expect(operation.steps.map((s) => s.name)).toEqual(['provision', 'configure-sql-backups', 'create-gke-backup-plan', 'create-backup-channel', 'verify-backup-policy']);
    // The channel its final GKE backup will need, from its project and region to the central backup project.
    expect(operation.steps.find((s) => s.name === 'create-backup-channel')?.params).toEqual({
      backupChannel: `projects/${operation.params.project}/locations/${operation.params.region}/backupChannels/mi-final-backups`,
      destinationProject: 'projects/mi-central-backups',
    });
  });

  it.each([
    ['a dev instance gets 7 days by default', undefined, '2026-12-03T10:00:00.000Z'],
    ['ttlHours sets another lifetime', 48, '2026-11-28T10:00:00.000Z'],
  ])('%s', (_label, ttlHours, expiresAt) => {
    const payload = ttlHours === undefined ? { spec: devSpec } : { spec: devSpec, ttlHours };
    expect(accepted(command('instance.create', devSpec.id, payload), undefined).instanceAfter.expiresAt).toBe(expiresAt);
  });

  it.each([
    ['an id in use', command('instance.create', prodSpec.id, { spec: prodSpec }), record(prodSpec), undefined, 'already-exists', 'instance id cus-acme is in use (active)'],
    ['a slug in use', command('instance.create', prodSpec.id, { spec: prodSpec }), undefined, 'cus-other', 'already-exists', 'slug acme is in use in prod by cus-other'],
    ['a region we do not support', command('instance.create', 'cus-x', { spec: { ...prodSpec, id: 'cus-x', region: 'mars-north1' } }), undefined, undefined, 'invalid', 'region mars-north1 is not one the control plane supports'],
    ['a prod instance with a lifetime', command('instance.create', prodSpec.id, { spec: prodSpec, ttlHours: 10 }), undefined, undefined, 'invalid', 'a prod instance has no expiry: drop ttlHours'],
  ])('refuses %s', (_label, envelope, existing, slugOwner, code, message) => {
    expect(rejected(envelope, existing, {}, slugOwner)).toEqual({ kind: 'reject', code, message });
  });

  it('refuses to create, or delete, without a central backup project to keep final backups in', () => {
    const policy = { ...DEFAULT_POLICY, centralBackupProject: '' };
    expect(decideAcceptance({ envelope: command('instance.create', prodSpec.id, { spec: prodSpec }), instance: undefined, now, policy })).toMatchObject({ kind: 'reject', code: 'not-configured', message: expect.stringContaining('no central backup project is configured') as unknown });
    expect(decideAcceptance({ envelope: command('instance.delete', devSpec.id, {}), instance: record(devSpec), now, policy })).toMatchObject({ kind: 'reject', code: 'not-configured' });
  });
});

describe('restore', () => {
  const inst = record(prodSpec);
  const window = { earliest: '2026-11-19T10:00:00.000Z', latest: '2026-11-26T09:59:00.000Z' };

  it('refuses a time outside the recovery window before anything runs, giving the window', () => {
    const envelope = command('instance.restore', inst.id, { source: { kind: 'point-in-time', time: '2026-11-18T00:00:00Z' } });
    expect(rejected(envelope, inst, { recoveryWindow: window })).toEqual({
      kind: 'reject',
      code: 'outside-recovery-window',
      message: '2026-11-18T00:00:00Z is outside the recovery window of cus-acme: 2026-11-19T10:00:00.000Z to 2026-11-26T09:59:00.000Z',
    });
    expect(rejected(command('instance.restore', inst.id, { source: { kind: 'point-in-time', time: '2026-11-26T09:59:30Z' } }), inst, { recoveryWindow: window }).code).toBe('outside-recovery-window');
    expect(rejected(envelope, inst, { recoveryWindow: null }).message).toBe('point-in-time recovery is off for cus-acme: there is no window to restore into');
  });

  it('a point in time inside the window: safety backups, a clone into a new instance, switch-over, verification', () => {
    const envelope = command('instance.restore', inst.id, { source: { kind: 'point-in-time', time: '2026-11-25T12:00:00Z' } });
    const { operation } = accepted(envelope, inst, { recoveryWindow: window });
    expect(operation.steps.map((s) => [s.name, s.after])).toEqual([
      ['safety-sql-backup', []],
      ['safety-gke-backup', []],
      ['clone-sql', ['safety-sql-backup', 'safety-gke-backup']],
      ['switch-over', ['clone-sql']],
      ['verify-application', ['switch-over']],
    ]);
    const clone = operation.steps[2]?.params.destinationInstanceName;
    expect(clone).not.toBe(inst.resources.sqlInstance);
    expect(operation.onSuccess.resources?.sqlInstance).toBe(clone);
  });

  it('refuses named backups that do not exist or did not succeed, naming each', () => {
    const envelope = command('instance.restore', inst.id, { source: { kind: 'backup', cloudSqlBackupRunId: '42', gkeBackup: `${inst.resources.backupPlan}/backups/b1` } });
    expect(rejected(envelope, inst, { namedSqlRun: null, namedGkeBackup: { name: `${inst.resources.backupPlan}/backups/b1`, state: 'FAILED' } }).message).toBe(
      `cannot restore cus-acme: Cloud SQL backup run 42 of cus-acme-db does not exist; GKE backup ${inst.resources.backupPlan}/backups/b1 is FAILED, not SUCCEEDED`,
    );
  });

  it('restores from a failed instance too: that is how a failed upgrade is repaired', () => {
    const envelope = command('instance.restore', inst.id, { source: { kind: 'backup', cloudSqlBackupRunId: '42' } });
    const decision = decideAcceptance({ envelope, instance: record(prodSpec, { status: 'failed' }), now, facts: { namedSqlRun: { id: '42', status: 'SUCCESSFUL', instance: 'cus-acme-db' } } });
    expect(decision.kind).toBe('accept');
    if (decision.kind === 'accept') expect(decision.operation.steps.map((s) => s.name)).toEqual(['safety-sql-backup', 'safety-gke-backup', 'restore-sql', 'verify-application']);
  });
});

describe('delete', () => {
  it('a prod delete must repeat the slug', () => {
    const inst = record(prodSpec);
    expect(rejected(command('instance.delete', inst.id, {}), inst)).toMatchObject({ code: 'confirmation-required' });
    expect(rejected(command('instance.delete', inst.id, { confirmSlug: 'acme-typo' }), inst).message).toContain('got "acme-typo"');
  });

  it('a prod delete waits for approval, takes final backups in the central project, then destroys', () => {
    const inst = record(prodSpec);
    const { operation } = accepted(command('instance.delete', inst.id, { confirmSlug: 'acme' }), inst);
    expect(operation.approval).toEqual({ requestedBy: 'alice@example.com', approvedBy: null, approvedAt: null });
    expect(operation.steps.map((s) => s.name)).toEqual(['await-approval', 'final-gke-backup-plan', 'final-gke-backup', 'final-sql-backup', 'deletion-protection-off', 'final-sql-backup-and-delete', 'destroy']);
    expect(String(operation.steps[2]?.params.backupPlan)).toMatch(/^projects\/mi-central-backups\/locations\/us-east1\/backupPlans\/cus-acme-final$/);
    expect(operation.onSuccess.status).toBe('deleted');
  });

  it('a dev delete needs neither confirmation nor approval', () => {
    const inst = record({ ...devSpec, expiresAt: '2026-12-01T00:00:00Z' });
    const { operation } = accepted(command('instance.delete', inst.id, {}), inst);
    expect(operation.approval).toBeNull();
    expect(operation.steps[0]?.name).toBe('final-gke-backup-plan');
  });
});

describe('approval', () => {
  const inst = record(prodSpec);
  const op = (): OperationRecord => accepted(command('instance.delete', inst.id, { confirmSlug: 'acme' }, 'alice@example.com'), inst).operation;

  it('a second person approves; the requester cannot, whatever the case of their address', () => {
    expect(approveOperation(op(), 'x', 'ALICE@example.com', now)).toMatchObject({ kind: 'refused', code: 'self-approval' });
    const approved = approveOperation(op(), 'x', 'bob@example.com', now);
    expect(approved.kind).toBe('approved');
    if (approved.kind === 'approved') {
      expect(approved.operation.approval).toEqual({ requestedBy: 'alice@example.com', approvedBy: 'bob@example.com', approvedAt: now.toISOString() });
      expect(approved.operation.steps[0]).toMatchObject({ status: 'succeeded', handles: { approvedBy: 'bob@example.com' } });
      expect(approveOperation(approved.operation, 'x', 'carol@example.com', now)).toMatchObject({ kind: 'refused', code: 'not-awaiting-approval' });
    }
    expect(approveOperation(undefined, 'op-missing', 'bob@example.com', now)).toMatchObject({ kind: 'refused', code: 'not-found' });
  });
});

describe('disaster recovery', () => {
  const inst = record(prodSpec, { status: 'failed' });
  const latestGkeBackup = { name: `${inst.resources.backupPlan}/backups/daily-1`, completeTime: '2026-11-26T03:30:00.000Z' };
  const latestSqlRun = { id: '777', endTime: '2026-11-26T03:10:00.000Z' };

  it('refuses, naming what is missing, when there are no backups outside the failed region', () => {
    const envelope = command('instance.disaster-recovery', inst.id, { targetRegion: 'us-east1' });
    expect(rejected(envelope, inst, { latestSqlRun: null, latestGkeBackup: null }).message).toBe(
      'cannot recover cus-acme: no successful Cloud SQL backup; no successful GKE backup stored outside us-central1',
    );
    const sameRegion = { name: 'projects/mi-cus-acme/locations/us-central1/backupPlans/p/backups/b', completeTime: latestGkeBackup.completeTime };
    expect(rejected(envelope, inst, { latestSqlRun, latestGkeBackup: sameRegion }).message).toBe('cannot recover cus-acme: the latest GKE backup is stored in us-central1, the failed region');
    expect(rejected(command('instance.disaster-recovery', inst.id, { targetRegion: 'us-central1' }), inst, { latestSqlRun, latestGkeBackup }).code).toBe('invalid');
  });

  it('rebuilds in the target region from the latest backups and records the recovery point', () => {
    const { operation } = accepted(command('instance.disaster-recovery', inst.id, { targetRegion: 'us-east1' }), inst, { latestSqlRun, latestGkeBackup });
    expect(operation.params).toMatchObject({ targetRegion: 'us-east1', sqlBackupRunId: '777', gkeBackup: latestGkeBackup.name, sqlBackupAgeSeconds: 24_600, gkeBackupAgeSeconds: 23_400, recoveryPointSeconds: 24_600 });
    expect(operation.onSuccess.region).toBe('us-east1');
    expect(operation.onSuccess.resources?.gkeCluster).toMatch(/^projects\/mi-cus-acme\/locations\/us-east1\/clusters\//);
    expect(operation.onSuccess.resources?.backupPlanRegion).not.toBe('us-east1');
  });
});

describe('check', () => {
  const inst = record(prodSpec);

  it('runs the health gate on the recorded version and the backup policy check side by side, none destructive, under its own busy status', () => {
    const { operation, instanceAfter } = accepted(command('instance.check', inst.id, {}), inst);
    expect(operation.type).toBe('check');
    expect(operation.steps.map((s) => [s.name, s.kind, s.after, s.destructive])).toEqual([
      ['health', 'health-check', [], false],
      ['backup-policy', 'verify-backup-policy', [], false],
    ]);
    expect(operation.steps[0]?.params).toMatchObject({ phase: 'check', expectVersion: '5.4.2', consecutive: 1 });
    expect(instanceAfter).toMatchObject({ status: 'checking', lease: { operationType: 'check' } });
    expect(operation.onSuccess).toEqual({});
  });

  it('runs only the checks asked for, and leaves a degraded instance degraded whatever they find', () => {
    const degraded = record(prodSpec, { status: 'degraded' });
    const { operation } = accepted(command('instance.check', inst.id, { checks: ['health'] }), degraded);
    expect(operation.steps.map((s) => s.kind)).toEqual(['health-check']);
    expect(operation.onSuccess).toEqual({ status: 'degraded' });
  });

  it('is refused on an instance that is not running (failed), and on one already leased', () => {
    expect(rejected(command('instance.check', inst.id, {}), record(prodSpec, { status: 'failed' }))).toMatchObject({ code: 'not-active' });
    const busy = record(prodSpec, { status: 'upgrading', lease: { operationId: 'op-x', operationType: 'upgrade', acquiredAt: now.toISOString() } });
    expect(rejected(command('instance.check', inst.id, {}), busy).code).toBe('busy');
  });
});

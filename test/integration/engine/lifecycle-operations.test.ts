/**
 * create, restore (backup and point in time), delete and disaster recovery, end to end on the
 * emulators with the simulated fleet, and the failure of each step injected through what the
 * simulated APIs answer: the operation ends failed with the reason, backups are kept, the lease
 * is released and the instance is left in a state a person can act on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditRecord, type LedgerEntry } from '../../../shared/engine/index.js';
import type { InstanceRecord, InstanceSpec } from '../../../shared/events/index.js';
import type { OperationRecord } from '../../../shared/domain/lifecycle/operations.js';
import { SQL_BACKUP_POLICY } from '../../../shared/domain/lifecycle/backup-policy.js';
import { finalBackupPlanFor } from '../../../shared/domain/lifecycle/resource-names.js';
import { createEngineFixture, deliverAtLeastOnce, lifecycleDelivery, uniqueId, type EngineFixture } from '../../support/engine-fixture.js';
import { paths } from '../../../shared/store/collections.js';
import { deliver } from '../../../shared/edge.js';
import { lifecycleRoute } from '../../../shared/routes.js';

let f: EngineFixture;
beforeAll(async () => {
  f = await createEngineFixture(import.meta.url);
});
afterAll(async () => {
  await f.close();
});

async function run(envelope: ReturnType<EngineFixture['command']>): Promise<OperationRecord> {
  const outcome = await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
  if (outcome.kind !== 'accepted') throw new Error(`expected acceptance, got ${JSON.stringify(outcome)}`);
  const op = await f.driveToEnd(outcome.operationId);
  if (process.env.MI_TEST_DEBUG) console.log(op.type, op.status, JSON.stringify(op.failure), op.steps.map((s) => `${s.name}:${s.status}:${s.error ?? ''}`).join(' | '));
  return op;
}

async function sqlRuns(inst: InstanceRecord) {
  return (await f.fleet.cloudSql.listBackupRuns(inst.resources.project, inst.resources.sqlInstance).catch(() => ({ items: [] }))).items;
}

/** The final backups of the instance: Backup resources of its project, as on Cloud SQL. */
async function sqlFinalBackups(inst: InstanceRecord) {
  return f.fleet.cloudSql.listFinalBackups(inst.resources.project, inst.resources.sqlInstance);
}

async function gkeBackups(plan: string) {
  return (await f.fleet.gkeBackup.listBackups(plan).catch(() => ({ items: [] }))).items;
}

/** An instance with one successful backup of each kind, as the daily schedules leave them. */
async function instanceWithBackups(overrides: Partial<InstanceRecord> = {}) {
  const inst = await f.seedInstance(overrides);
  const backup = await run(f.command('instance.backup', inst.id, {}));
  expect(backup.status).toBe('succeeded');
  return { inst, sqlRunId: String(backup.result?.['sql-backup.backupRunId']), gkeBackup: String(backup.result?.['gke-backup.gkeBackup']) };
}

function expectReleased(inst: InstanceRecord | undefined, status: InstanceRecord['status']) {
  expect(inst?.lease).toBeNull();
  expect(inst?.status).toBe(status);
}

function spec(overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  const id = overrides.id ?? uniqueId('new');
  return {
    id,
    slug: id,
    environment: 'prod',
    tier: 'customer',
    domain: `${id}.example.com`,
    region: 'europe-west1',
    version: '5.4.2',
    maintenanceWindow: { days: ['sun'], start: '01:00', hours: 3, timeZone: 'Europe/Berlin' },
    ...(overrides.environment === 'dev' ? { owner: 'dana@example.com' } : {}),
    ...overrides,
  };
}

describe('create', () => {
  it('provisions, configures both backups to policy in another region, verifies, and activates', async () => {
    const s = spec();
    const op = await run(f.command('instance.create', s.id, { spec: s }));
    expect(op.status).toBe('succeeded');
    const inst = await f.instance(s.id);
    expect(inst).toMatchObject({ status: 'active', lease: null, version: '5.4.2', region: 'europe-west1' });
    expect(inst?.expiresAt).toBeUndefined();
    const sql = await f.fleet.cloudSql.getInstance(inst!.resources.project, inst!.resources.sqlInstance);
    expect(sql?.settings.backupConfiguration).toMatchObject(SQL_BACKUP_POLICY);
    const plan = await f.fleet.gkeBackup.getBackupPlan(inst!.resources.backupPlan);
    expect(plan).toMatchObject({ state: 'READY', retentionPolicy: { backupRetainDays: 90 }, backupConfig: { allNamespaces: true, includeVolumeData: true, includeSecrets: true } });
    expect(plan?.name).not.toContain('/locations/europe-west1/');
    expect(await f.store.get(paths.slug('prod', s.slug))).toEqual(expect.objectContaining({ instanceId: s.id }));
    // The backup channel its final GKE backup will need: from its project and region to the central backup project.
    expect(await f.fleet.gkeBackup.getBackupChannel(`projects/${inst!.resources.project}/locations/europe-west1/backupChannels/mi-final-backups`)).toMatchObject({ destinationProject: 'projects/mi-central-backups' });
  });

  it('a delete of an instance whose project has no backup channel fails at its final backup plan, before anything is destroyed', async () => {
    const inst = await f.seedInstance({ environment: 'dev', tier: 'internal', expiresAt: '2026-12-30T00:00:00Z' });
    const { resources } = inst;
    // Someone deleted it (or the instance predates channels).
    f.fleet.gkeBackup.removeBackupChannel(`projects/${resources.project}/locations/${inst.region}/backupChannels/mi-final-backups`);
    const op = await run(f.command('instance.delete', inst.id, {}));
    expect(op).toMatchObject({ status: 'failed', failure: { step: 'final-gke-backup-plan' } });
    expect(op.failure?.reason).toContain('no backup channel');
    expect(await f.fleet.cloudSql.getInstance(resources.project, resources.sqlInstance)).toBeDefined();
    expectReleased(await f.instance(inst.id), 'active');
  });

  it('a dev instance gets an expiry, 7 days by default', async () => {
    const s = spec({ environment: 'dev', tier: 'internal' });
    delete (s as Partial<InstanceSpec>).maintenanceWindow;
    await run(f.command('instance.create', s.id, { spec: s }));
    const created = await f.instance(s.id);
    const audit = await f.store.query<AuditRecord>({ collection: 'audit', where: [{ field: 'instanceId', op: '==', value: s.id }] });
    const acceptedAt = Date.parse(audit.map((a) => a.data).find((a) => a.action === 'operation.accepted')?.at ?? '');
    expect(Date.parse(created?.expiresAt ?? '') - acceptedAt).toBe(7 * 86_400_000);
  });

  it('is refused when the id or the slug is in use, in the accepting transaction', async () => {
    const existing = await f.seedInstance();
    const sameId = spec({ id: existing.id });
    const byId = await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(f.command('instance.create', existing.id, { spec: sameId })));
    expect(byId).toMatchObject({ kind: 'rejected', code: 'already-exists' });

    const first = spec();
    await run(f.command('instance.create', first.id, { spec: first }));
    const sameSlug = spec({ slug: first.slug });
    const bySlug = await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(f.command('instance.create', sameSlug.id, { spec: sameSlug })));
    expect(bySlug).toMatchObject({ kind: 'rejected', code: 'already-exists', message: `slug ${first.slug} is in use in prod by ${first.id}` });
    expect(await f.instance(sameSlug.id)).toBeUndefined();
  });

  it('two creates of one slug delivered together: exactly one instance gets it', async () => {
    const a = spec();
    const b = spec({ slug: a.slug });
    const outcomes = await Promise.all([
      deliverAtLeastOnce(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(f.command('instance.create', a.id, { spec: a }))),
      deliverAtLeastOnce(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(f.command('instance.create', b.id, { spec: b }))),
    ]);
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['accepted', 'rejected']);
    const created = [await f.instance(a.id), await f.instance(b.id)].filter((i) => i !== undefined);
    expect(created).toHaveLength(1);
  }, 60_000);

  it.each([
    ['provisioning fails', (s: InstanceSpec) => f.fleet.executor.scriptOutcome({ instanceId: s.id, action: 'provision' }, 'failed', 'quota exceeded in europe-west1'), 'provision', 'quota exceeded'],
    ['the Cloud SQL backup configuration is refused', () => f.fleet.cloudSql.faults.inject({ method: 'patchBackupConfiguration', error: { httpStatus: 400, message: 'invalid flag' } }), 'configure-sql-backups', 'invalid flag'],
    ['the GKE backup plan cannot be created', () => f.fleet.gkeBackup.faults.inject({ method: 'createBackupPlan', error: { httpStatus: 403, message: 'gkebackup API disabled' } }), 'create-gke-backup-plan', 'gkebackup API disabled'],
  ])('when %s: the operation fails with the reason and the instance is failed, not leased', async (_label, inject, step, reason) => {
    const s = spec();
    inject(s);
    const op = await run(f.command('instance.create', s.id, { spec: s }));
    expect(op).toMatchObject({ status: 'failed', failure: { step } });
    expect(op.failure?.reason).toContain(reason);
    expectReleased(await f.instance(s.id), 'failed');
  });
});

describe('restore from a backup', () => {
  it('takes a safety backup, restores Cloud SQL in place and GKE through a restore plan, verifies, and is active', async () => {
    const { inst, sqlRunId, gkeBackup } = await instanceWithBackups();
    const op = await run(f.command('instance.restore', inst.id, { source: { kind: 'backup', cloudSqlBackupRunId: sqlRunId, gkeBackup } }));
    expect(op.status).toBe('succeeded');
    expect(op.steps.map((s) => s.name)).toEqual(['safety-sql-backup', 'safety-gke-backup', 'restore-sql', 'restore-gke', 'verify-application']);
    expect(f.fleet.cloudSql.restoredFrom(inst.resources.project, inst.resources.sqlInstance)).toMatchObject({ backupRunId: sqlRunId });
    expect((await sqlRuns(inst)).map((r) => r.status)).toEqual(['SUCCESSFUL', 'SUCCESSFUL']);
    expect(await gkeBackups(inst.resources.backupPlan)).toHaveLength(2);
    expectReleased(await f.instance(inst.id), 'active');
  });

  it('is refused when a named backup does not exist, before anything runs', async () => {
    const inst = await f.seedInstance();
    const outcome = await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(f.command('instance.restore', inst.id, { source: { kind: 'backup', cloudSqlBackupRunId: '999999' } })));
    expect(outcome).toMatchObject({ kind: 'rejected', code: 'missing-backups' });
    expect(await sqlRuns(inst)).toHaveLength(0);
  });

  it.each([
    ['the safety backup fails', 'safety-sql-backup', 'active', (i: InstanceRecord) => f.fleet.cloudSql.scriptBackupOutcome(i.resources.project, i.resources.sqlInstance, 'FAILED', 'disk full')],
    ['the Cloud SQL restore is refused', 'restore-sql', 'failed', (i: InstanceRecord) => f.fleet.cloudSql.faults.inject({ method: 'restoreBackup', target: `${i.resources.project}/${i.resources.sqlInstance}`, error: { httpStatus: 400, message: 'incompatible version' } })],
    ['the GKE restore fails', 'restore-gke', 'failed', (_i: InstanceRecord) => f.fleet.gkeBackup.faults.inject({ method: 'createRestore', error: { httpStatus: 400, message: 'namespace conflict' } })],
    ['the application does not verify', 'verify-application', 'failed', (i: InstanceRecord) => f.fleet.executor.scriptOutcome({ instanceId: i.id, action: 'verify' }, 'failed', 'health check red')],
  ] as const)('when %s: failed at %s, backups kept, lease released, instance %s', async (_label, step, status, inject) => {
    const { inst, sqlRunId, gkeBackup } = await instanceWithBackups();
    // The safety backup is the second run of this instance: script it after the first exists.
    inject(inst);
    const op = await run(f.command('instance.restore', inst.id, { source: { kind: 'backup', cloudSqlBackupRunId: sqlRunId, gkeBackup } }));
    expect(op).toMatchObject({ status: 'failed', failure: { step } });
    expectReleased(await f.instance(inst.id), status);
    expect((await sqlRuns(inst)).some((r) => r.id === sqlRunId && r.status === 'SUCCESSFUL')).toBe(true);
    expect((await gkeBackups(inst.resources.backupPlan)).some((b) => b.name === gkeBackup)).toBe(true);
  });
});

describe('restore to a point in time', () => {
  it('refuses a time outside the recovery window before any side effect, giving the window', async () => {
    const inst = await f.seedInstance();
    const tooOld = new Date(f.clock.now().getTime() - 8 * 86_400_000).toISOString();
    const envelope = f.command('instance.restore', inst.id, { source: { kind: 'point-in-time', time: tooOld } });
    const outcome = await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    expect(outcome).toMatchObject({ kind: 'rejected', code: 'outside-recovery-window' });
    expect((outcome as { message: string }).message).toMatch(new RegExp(`^${tooOld} is outside the recovery window of ${inst.id}: \\S+ to \\S+$`));
    expect(await sqlRuns(inst)).toHaveLength(0);
    expect(await gkeBackups(inst.resources.backupPlan)).toHaveLength(0);
    expect(await f.store.get<LedgerEntry>(paths.ledger(envelope.eventId))).toMatchObject({ outcome: 'rejected', code: 'outside-recovery-window' });
    expect(await f.instance(inst.id)).toEqual(inst);
  });

  it('clones into a new Cloud SQL instance, switches the application over, and records the new database', async () => {
    const inst = await f.seedInstance();
    f.clock.advance(3_600_000);
    const time = new Date(f.clock.now().getTime() - 30 * 60_000).toISOString();
    const op = await run(f.command('instance.restore', inst.id, { source: { kind: 'point-in-time', time } }));
    expect(op.status).toBe('succeeded');
    const clone = String(op.steps.find((s) => s.name === 'clone-sql')?.params.destinationInstanceName);
    expect(f.fleet.cloudSql.clonedFrom(inst.resources.project, clone)).toMatchObject({ instance: inst.resources.sqlInstance, pointInTime: time });
    const switchOver = f.fleet.executor.runs().find((r) => r.request.instanceId === inst.id && r.request.action === 'switch-over');
    expect(switchOver?.request.params.sqlInstance).toBe(clone);
    const after = await f.instance(inst.id);
    expect(after?.resources.sqlInstance).toBe(clone);
    expectReleased(after, 'active');
  });
});

describe('delete', () => {
  it('a dev delete: final backups that outlive the instance, then destroy; the record stays as a tombstone', async () => {
    const { inst } = await instanceWithBackups({ environment: 'dev', tier: 'internal', expiresAt: '2026-12-30T00:00:00Z' });
    await f.store.set(paths.slug('dev', inst.slug), { instanceId: inst.id });
    delete (inst as Partial<InstanceRecord>).maintenanceWindow;
    const op = await run(f.command('instance.delete', inst.id, {}));
    expect(op.status).toBe('succeeded');
    // The project is gone, and with it the ordinary backups, as on Google Cloud.
    expect(await f.fleet.cloudSql.getInstance(inst.resources.project, inst.resources.sqlInstance)).toBeUndefined();
    expect(await gkeBackups(inst.resources.backupPlan)).toHaveLength(0);
    // The final ones remain.
    const finalSql = String(op.result?.['final-sql-backup-and-delete.finalBackup']);
    expect(finalSql).toMatch(new RegExp(`^projects/${inst.resources.project}/backups/`));
    const finals = await sqlFinalBackups(inst);
    expect(finals.map((b) => b.name)).toEqual([finalSql]);
    expect(finals[0]).toMatchObject({ type: 'FINAL', state: 'SUCCESSFUL', instance: inst.resources.sqlInstance, description: `mi:${op.id}:final-sql-backup-and-delete` });
    // Like the real API: the deleted instance has no backup runs left to list.
    await expect(f.fleet.cloudSql.listBackupRuns(inst.resources.project, inst.resources.sqlInstance)).rejects.toMatchObject({ code: 'not-found' });
    const finalGke = String(op.result?.['final-gke-backup.gkeBackup']);
    expect(finalGke).toMatch(/^projects\/mi-central-backups\//);
    expect((await f.fleet.gkeBackup.getBackup(finalGke))?.state).toBe('SUCCEEDED');
    const tomb = await f.instance(inst.id);
    expectReleased(tomb, 'deleted');
    expect(await f.store.get(paths.slug('dev', inst.slug))).toBeUndefined();
    const audit = await f.store.query<AuditRecord>({ collection: 'audit', where: [{ field: 'instanceId', op: '==', value: inst.id }] });
    expect(audit.length).toBeGreaterThan(5);
  });

  it('deletion protection goes off as its own step, only after both final backups succeeded; a protected instance is never deleted', async () => {
    const inst = await f.seedInstance({ environment: 'dev', tier: 'internal', expiresAt: '2026-12-30T00:00:00Z' });
    const { project, sqlInstance } = inst.resources;
    await f.fleet.cloudSql.setDeletionProtection(project, sqlInstance, true);
    f.clock.advance(10 * 60_000);
    await expect(f.fleet.cloudSql.deleteInstance(project, sqlInstance)).rejects.toMatchObject({ message: expect.stringContaining('protected from deletion') as unknown });
    const op = await run(f.command('instance.delete', inst.id, {}));
    expect(op.status).toBe('succeeded');
    expect(op.steps.map((s) => s.name)).toEqual(['final-gke-backup-plan', 'final-gke-backup', 'final-sql-backup', 'deletion-protection-off', 'final-sql-backup-and-delete', 'destroy']);
    expect(op.steps.find((s) => s.name === 'deletion-protection-off')?.handles).toMatchObject({ deletionProtection: 'false', sqlOperation: expect.any(String) as unknown });
    // The audit trail: both final backups succeeded before protection was turned off, which came before the delete.
    const trail = (await f.store.query<AuditRecord>({ collection: 'audit', where: [{ field: 'operationId', op: '==', value: op.id }] }))
      .map((d) => d.data)
      .sort((a, b) => a.at.localeCompare(b.at));
    const at = (step: string, status: string) => trail.findIndex((a) => a.action === `step.${status}` && (a.after as { step?: string } | null)?.step === step);
    expect(at('final-gke-backup', 'succeeded')).toBeGreaterThanOrEqual(0);
    expect(at('final-gke-backup', 'succeeded')).toBeLessThan(at('deletion-protection-off', 'running'));
    expect(at('final-sql-backup', 'succeeded')).toBeGreaterThanOrEqual(0);
    expect(at('final-sql-backup', 'succeeded')).toBeLessThan(at('deletion-protection-off', 'running'));
    expect(at('deletion-protection-off', 'succeeded')).toBeLessThan(at('final-sql-backup-and-delete', 'running'));
    expect((await sqlFinalBackups(inst)).map((b) => b.state)).toEqual(['SUCCESSFUL']);
  });

  it('a prod delete without the slug as confirmation is refused; nothing is destroyed', async () => {
    const inst = await f.seedInstance();
    const outcome = await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(f.command('instance.delete', inst.id, {})));
    expect(outcome).toMatchObject({ kind: 'rejected', code: 'confirmation-required' });
    expect(await f.fleet.cloudSql.getInstance(inst.resources.project, inst.resources.sqlInstance)).toBeDefined();
    expect(await f.instance(inst.id)).toEqual(inst);
  });

  it('a prod delete waits for a second person; its requester cannot approve it', async () => {
    const inst = await f.seedInstance();
    const envelope = f.command('instance.delete', inst.id, { confirmSlug: inst.slug });
    const outcome = await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(envelope));
    expect(outcome.kind).toBe('accepted');
    const operationId = `op-${envelope.eventId}`;
    for (let i = 0; i < 5; i += 1) {
      f.clock.advance(60_000);
      await f.engine.reconcile({ outboxGraceMs: 0 });
    }
    const waiting = await f.operation(operationId);
    expect(waiting?.status).toBe('running');
    expect(waiting?.steps[0]).toMatchObject({ name: 'await-approval', status: 'running' });
    expect(f.fleet.gkeBackup.calls('createBackupPlan')).toBeGreaterThanOrEqual(0);
    expect(await f.fleet.cloudSql.getInstance(inst.resources.project, inst.resources.sqlInstance)).toBeDefined();

    expect(await f.engine.approve(operationId, { email: 'alice@example.com', subject: '1' })).toMatchObject({ kind: 'refused', code: 'self-approval' });
    expect((await f.operation(operationId))?.steps[0]?.status).toBe('running');
    expect(await f.engine.approve(operationId, { email: 'bob@example.com', subject: '2' })).toEqual({ kind: 'approved', operationId });
    const ended = await f.driveToEnd(operationId);
    expect(ended).toMatchObject({ status: 'succeeded', approval: { requestedBy: 'alice@example.com', approvedBy: 'bob@example.com' } });
    const audit = await f.store.query<AuditRecord>({ collection: 'audit', where: [{ field: 'operationId', op: '==', value: operationId }] });
    expect(audit.map((a) => a.data)).toContainEqual(expect.objectContaining({ action: 'operation.approved', actor: 'bob@example.com' }));
    expectReleased(await f.instance(inst.id), 'deleted');
  });

  it('when the final GKE backup fails, nothing is destroyed and the instance stays active', async () => {
    const inst = await f.seedInstance({ environment: 'dev', tier: 'internal', expiresAt: '2026-12-30T00:00:00Z' });
    const finalPlan = finalBackupPlanFor(inst.id, inst.region, 'mi-central-backups').name;
    f.fleet.gkeBackup.faults.inject({ method: 'createBackup', target: finalPlan, error: { httpStatus: 400, message: 'backup plan not ready' } });
    const op = await run(f.command('instance.delete', inst.id, {}));
    expect(op).toMatchObject({ status: 'failed', failure: { step: 'final-gke-backup' } });
    expect(await f.fleet.cloudSql.getInstance(inst.resources.project, inst.resources.sqlInstance)).toBeDefined();
    expect(f.fleet.executor.runs().filter((r) => r.request.instanceId === inst.id)).toHaveLength(0);
    expectReleased(await f.instance(inst.id), 'active');
  });

  it('when the destroy fails after the database is gone, the instance is failed for a person, the final backups kept', async () => {
    const inst = await f.seedInstance({ environment: 'dev', tier: 'internal', expiresAt: '2026-12-30T00:00:00Z' });
    f.fleet.executor.scriptOutcome({ instanceId: inst.id, action: 'destroy' }, 'failed', 'terraform destroy: state locked');
    const op = await run(f.command('instance.delete', inst.id, {}));
    expect(op).toMatchObject({ status: 'failed', failure: { step: 'destroy' } });
    expect((await sqlFinalBackups(inst)).map((b) => b.state)).toEqual(['SUCCESSFUL']);
    expect(op.steps.find((s) => s.name === 'final-sql-backup-and-delete')?.handles.finalBackup).toBe((await sqlFinalBackups(inst))[0]?.name);
    expectReleased(await f.instance(inst.id), 'failed');
  });
});

describe('disaster recovery', () => {
  it('rebuilds in another region from the latest backups outside the failed one, and records recovery point and time', async () => {
    const { inst, sqlRunId, gkeBackup } = await instanceWithBackups();
    await f.store.set(paths.instance(inst.id), { ...(await f.instance(inst.id)), status: 'failed' });
    f.clock.advance(2 * 3_600_000);
    const op = await run(f.command('instance.disaster-recovery', inst.id, { targetRegion: 'us-west1' }));
    expect(op.status).toBe('succeeded');
    expect(op.params).toMatchObject({ sqlBackupRunId: sqlRunId, gkeBackup });
    expect(Number(op.result?.recoveryPointSeconds)).toBeGreaterThanOrEqual(7200);
    expect(Number(op.result?.recoveryTimeSeconds)).toBeGreaterThan(0);
    const after = await f.instance(inst.id);
    expect(after).toMatchObject({ region: 'us-west1', status: 'active', lease: null });
    expect(after?.resources.gkeCluster).toContain('/locations/us-west1/');
    expect(f.fleet.cloudSql.restoredFrom(after!.resources.project, after!.resources.sqlInstance)).toMatchObject({ backupRunId: sqlRunId, instance: inst.resources.sqlInstance });
    const plan = await f.fleet.gkeBackup.getBackupPlan(after!.resources.backupPlan);
    expect(plan?.name).not.toContain('/locations/us-west1/');
  });

  it('is refused, naming what is missing, when there are no backups', async () => {
    const inst = await f.seedInstance({ status: 'failed' });
    const outcome = await deliver(f.engine.deps, lifecycleRoute(f.engine), lifecycleDelivery(f.command('instance.disaster-recovery', inst.id, { targetRegion: 'us-west1' })));
    expect(outcome).toMatchObject({
      kind: 'rejected',
      code: 'missing-backups',
      message: `cannot recover ${inst.id}: no successful Cloud SQL backup; no successful GKE backup stored outside us-central1`,
    });
  });

  it('when the Cloud SQL restore fails the operation fails with the reason and the instance waits for a person', async () => {
    const { inst } = await instanceWithBackups();
    f.fleet.cloudSql.faults.inject({ method: 'restoreBackup', error: { httpStatus: 400, message: 'backup run from another major version' } });
    const op = await run(f.command('instance.disaster-recovery', inst.id, { targetRegion: 'us-west1' }));
    expect(op).toMatchObject({ status: 'failed', failure: { step: 'restore-sql' } });
    expect(op.failure?.reason).toContain('another major version');
    expectReleased(await f.instance(inst.id), 'failed');
    expect((await f.instance(inst.id))?.region).toBe('us-central1');
  });
});

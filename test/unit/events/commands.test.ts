import { describe, expect, it } from 'vitest';
import type { LifecycleCommandType } from '../../../shared/events/index.js';
import { accepted, commandEnvelope, fieldAt, prodSpec, rejected, VALID_PAYLOADS } from './fixtures.js';

const GKE_BACKUP = 'projects/acme-prod/locations/us-central1/backupPlans/daily/backups/2026-11-26-0200';
const TIMESTAMP_RULE = 'expected an ISO 8601 timestamp such as 2026-11-26T10:00:00Z';

interface ValidCase {
  type: LifecycleCommandType;
  label: string;
  payload: Record<string, unknown>;
}

interface InvalidCase extends ValidCase {
  /** The field the error must name. */
  field: string;
  /** The whole error message, field included. */
  message: string;
}

const VALID: ValidCase[] = [
  { type: 'instance.create', label: 'a spec', payload: { spec: prodSpec() } },
  { type: 'instance.create', label: 'ttlHours 1', payload: { spec: prodSpec(), ttlHours: 1 } },
  { type: 'instance.create', label: 'ttlHours 2160 (90 days)', payload: { spec: prodSpec(), ttlHours: 2160 } },
  { type: 'instance.upgrade', label: 'targetVersion 5.5.0', payload: { targetVersion: '5.5.0' } },
  { type: 'instance.upgrade', label: 'a pre-release targetVersion', payload: { targetVersion: '6.0.0-beta.2' } },
  {
    type: 'instance.restore',
    label: 'a backup with a Cloud SQL backup run only',
    payload: { source: { kind: 'backup', cloudSqlBackupRunId: '1700000000123' } },
  },
  { type: 'instance.restore', label: 'a backup with a GKE backup only', payload: { source: { kind: 'backup', gkeBackup: GKE_BACKUP } } },
  {
    type: 'instance.restore',
    label: 'a backup with both',
    payload: { source: { kind: 'backup', cloudSqlBackupRunId: '42', gkeBackup: GKE_BACKUP } },
  },
  {
    type: 'instance.restore',
    label: 'a point in time',
    payload: { source: { kind: 'point-in-time', time: '2026-11-26T09:45:00Z' } },
  },
  {
    type: 'instance.restore',
    label: 'a point in time with an offset',
    payload: { source: { kind: 'point-in-time', time: '2026-11-26T04:45:00-05:00' } },
  },
  { type: 'instance.delete', label: 'confirmSlug', payload: { confirmSlug: 'acme' } },
  { type: 'instance.delete', label: 'no confirmSlug', payload: {} },
  { type: 'instance.disaster-recovery', label: 'targetRegion us-east4', payload: { targetRegion: 'us-east4' } },
  {
    type: 'instance.disaster-recovery',
    label: 'targetRegion northamerica-northeast2',
    payload: { targetRegion: 'northamerica-northeast2' },
  },
  { type: 'instance.backup', label: 'a note', payload: { note: 'before the 5.5 migration' } },
  { type: 'instance.backup', label: 'a 500-character note', payload: { note: 'n'.repeat(500) } },
  { type: 'instance.backup', label: 'no note', payload: {} },
  { type: 'instance.check', label: 'every check', payload: {} },
  { type: 'instance.check', label: 'the health check of a workflow', payload: { checks: ['health'], rolloutId: 'wf-20261201-100000-ab12', note: 'workflow wf-20261201-100000-ab12' } },
  {
    type: 'instance.module-apply',
    label: 'a plan of one module at a merge commit',
    payload: { module: 'networking', commit: 'b'.repeat(40), action: 'plan', applyId: 'cus-acme.networking.bbbbbbbbbbbb' },
  },
  { type: 'instance.module-apply', label: 'an apply', payload: { module: 'monitoring', commit: 'c'.repeat(40), action: 'apply', applyId: 'dev-a.monitoring.cccccccccccc' } },
  { type: 'instance.remediate', label: 'drift of two controls', payload: { runId: 'verify-backups-20261126t0200z', controls: ['sql.point-in-time-recovery', 'gke.retention'] } },
  { type: 'instance.restore-drill', label: 'a weekly drill', payload: { runId: 'restore-drill-20261123t0400z' } },
];

const INVALID: InvalidCase[] = [
  // instance.create
  {
    type: 'instance.create',
    label: 'without a spec',
    payload: {},
    field: 'payload.spec',
    message: 'payload.spec: is missing (expected an instance spec object)',
  },
  {
    type: 'instance.create',
    label: 'with a spec that is a string',
    payload: { spec: 'acme' },
    field: 'payload.spec',
    message: 'payload.spec: expected an instance spec object',
  },
  {
    type: 'instance.create',
    label: 'with ttlHours 0',
    payload: { spec: prodSpec(), ttlHours: 0 },
    field: 'payload.ttlHours',
    message: 'payload.ttlHours: expected at least 1 hour',
  },
  {
    type: 'instance.create',
    label: 'with ttlHours over 90 days',
    payload: { spec: prodSpec(), ttlHours: 2161 },
    field: 'payload.ttlHours',
    message: 'payload.ttlHours: expected at most 2160 hours (90 days)',
  },
  {
    type: 'instance.create',
    label: 'with a fractional ttlHours',
    payload: { spec: prodSpec(), ttlHours: 1.5 },
    field: 'payload.ttlHours',
    message: 'payload.ttlHours: expected a whole number of hours',
  },
  {
    type: 'instance.create',
    label: 'with ttlHours as a string',
    payload: { spec: prodSpec(), ttlHours: '24' },
    field: 'payload.ttlHours',
    message: 'payload.ttlHours: expected a number of hours',
  },
  {
    type: 'instance.create',
    label: 'with a field the payload does not define',
    payload: { spec: prodSpec(), dryRun: true },
    field: 'payload.dryRun',
    message: 'payload.dryRun: unexpected field',
  },
  // instance.upgrade
  {
    type: 'instance.upgrade',
    label: 'with a version range',
    payload: { targetVersion: '5.x' },
    field: 'payload.targetVersion',
    message: 'payload.targetVersion: expected a semantic version such as 5.4.2, got "5.x"',
  },
  {
    type: 'instance.upgrade',
    label: 'with a leading v',
    payload: { targetVersion: 'v5.5.0' },
    field: 'payload.targetVersion',
    message: 'payload.targetVersion: expected a semantic version such as 5.4.2, got "v5.5.0"',
  },
  {
    type: 'instance.upgrade',
    label: 'with a number',
    payload: { targetVersion: 5.5 },
    field: 'payload.targetVersion',
    message: 'payload.targetVersion: expected a semantic version (a string)',
  },
  {
    type: 'instance.upgrade',
    label: 'without targetVersion or rollback',
    payload: {},
    field: 'payload',
    message: 'payload: expected either targetVersion (the version to run) or rollback: true, not both or neither',
  },
  {
    type: 'instance.upgrade',
    label: 'with both targetVersion and rollback',
    payload: { targetVersion: '5.5.0', rollback: true },
    field: 'payload',
    message: 'payload: expected either targetVersion (the version to run) or rollback: true, not both or neither',
  },
  {
    type: 'instance.upgrade',
    label: 'with rollback: false',
    payload: { rollback: false },
    field: 'payload.rollback',
    message: 'payload.rollback: expected rollback: true (or no rollback)',
  },
  {
    type: 'instance.upgrade',
    label: 'with a field the payload does not define',
    payload: { targetVersion: '5.5.0', force: true },
    field: 'payload.force',
    message: 'payload.force: unexpected field',
  },
  // instance.restore
  {
    type: 'instance.restore',
    label: 'without a source',
    payload: {},
    field: 'payload.source',
    message: 'payload.source: is missing (expected a restore source object with kind "backup" or "point-in-time")',
  },
  {
    type: 'instance.restore',
    label: 'with a source that is a string',
    payload: { source: 'latest' },
    field: 'payload.source',
    message: 'payload.source: expected a restore source object with kind "backup" or "point-in-time"',
  },
  {
    type: 'instance.restore',
    label: 'with an unknown kind',
    payload: { source: { kind: 'snapshot', cloudSqlBackupRunId: '42' } },
    field: 'payload.source.kind',
    message: 'payload.source.kind: expected "backup" or "point-in-time"',
  },
  {
    type: 'instance.restore',
    label: 'without a kind',
    payload: { source: { cloudSqlBackupRunId: '42' } },
    field: 'payload.source.kind',
    message: 'payload.source.kind: expected "backup" or "point-in-time"',
  },
  {
    type: 'instance.restore',
    label: 'from a backup naming neither backup',
    payload: { source: { kind: 'backup' } },
    field: 'payload.source',
    message: 'payload.source: expected cloudSqlBackupRunId, gkeBackup or both',
  },
  {
    type: 'instance.restore',
    label: 'with a Cloud SQL backup run id that is not digits',
    payload: { source: { kind: 'backup', cloudSqlBackupRunId: 'run-42' } },
    field: 'payload.source.cloudSqlBackupRunId',
    message: 'payload.source.cloudSqlBackupRunId: expected a Cloud SQL backup run id (a string of digits)',
  },
  {
    type: 'instance.restore',
    label: 'with a Cloud SQL backup run id as a number',
    payload: { source: { kind: 'backup', cloudSqlBackupRunId: 1700000000123 } },
    field: 'payload.source.cloudSqlBackupRunId',
    message: 'payload.source.cloudSqlBackupRunId: expected a Cloud SQL backup run id (a string of digits)',
  },
  {
    type: 'instance.restore',
    label: 'with a Cloud SQL backup run id of 21 digits',
    payload: { source: { kind: 'backup', cloudSqlBackupRunId: '1'.repeat(21) } },
    field: 'payload.source.cloudSqlBackupRunId',
    message: 'payload.source.cloudSqlBackupRunId: expected a Cloud SQL backup run id (a string of digits)',
  },
  {
    type: 'instance.restore',
    label: 'with a GKE backup given by its short name',
    payload: { source: { kind: 'backup', gkeBackup: '2026-11-26-0200' } },
    field: 'payload.source.gkeBackup',
    message: 'payload.source.gkeBackup: expected a GKE backup name projects/P/locations/L/backupPlans/B/backups/ID',
  },
  {
    type: 'instance.restore',
    label: 'with a GKE backup as a number',
    payload: { source: { kind: 'backup', gkeBackup: 7 } },
    field: 'payload.source.gkeBackup',
    message: 'payload.source.gkeBackup: expected a GKE backup name (a string)',
  },
  {
    type: 'instance.restore',
    label: 'from a backup with a time',
    payload: { source: { kind: 'backup', cloudSqlBackupRunId: '42', time: '2026-11-26T09:45:00Z' } },
    field: 'payload.source.time',
    message: 'payload.source.time: unexpected field',
  },
  {
    type: 'instance.restore',
    label: 'to a point in time without a time',
    payload: { source: { kind: 'point-in-time' } },
    field: 'payload.source.time',
    message: `payload.source.time: is missing (${TIMESTAMP_RULE})`,
  },
  {
    type: 'instance.restore',
    label: 'to a point in time given as free text',
    payload: { source: { kind: 'point-in-time', time: 'an hour ago' } },
    field: 'payload.source.time',
    message: `payload.source.time: ${TIMESTAMP_RULE}`,
  },
  {
    type: 'instance.restore',
    label: 'to a point in time without an offset',
    payload: { source: { kind: 'point-in-time', time: '2026-11-26T09:45:00' } },
    field: 'payload.source.time',
    message: `payload.source.time: ${TIMESTAMP_RULE}`,
  },
  {
    type: 'instance.restore',
    label: 'to a point in time naming a backup',
    payload: { source: { kind: 'point-in-time', time: '2026-11-26T09:45:00Z', gkeBackup: GKE_BACKUP } },
    field: 'payload.source.gkeBackup',
    message: 'payload.source.gkeBackup: unexpected field',
  },
  {
    type: 'instance.restore',
    label: 'with a field the payload does not define',
    payload: { source: { kind: 'point-in-time', time: '2026-11-26T09:45:00Z' }, verify: false },
    field: 'payload.verify',
    message: 'payload.verify: unexpected field',
  },
  // instance.delete
  {
    type: 'instance.delete',
    label: 'with confirmSlug as a number',
    payload: { confirmSlug: 7 },
    field: 'payload.confirmSlug',
    message: 'payload.confirmSlug: expected the instance slug (a string)',
  },
  {
    type: 'instance.delete',
    label: 'with a field the payload does not define',
    payload: { confirmSlug: 'acme', force: true },
    field: 'payload.force',
    message: 'payload.force: unexpected field',
  },
  // instance.disaster-recovery
  {
    type: 'instance.disaster-recovery',
    label: 'with a zone for targetRegion',
    payload: { targetRegion: 'us-east4-a' },
    field: 'payload.targetRegion',
    message: 'payload.targetRegion: expected a Google Cloud region such as us-central1',
  },
  {
    type: 'instance.disaster-recovery',
    label: 'with a multi-region for targetRegion',
    payload: { targetRegion: 'us' },
    field: 'payload.targetRegion',
    message: 'payload.targetRegion: expected a Google Cloud region such as us-central1',
  },
  {
    type: 'instance.disaster-recovery',
    label: 'with targetRegion as a number',
    payload: { targetRegion: 4 },
    field: 'payload.targetRegion',
    message: 'payload.targetRegion: expected a region (a string)',
  },
  {
    type: 'instance.disaster-recovery',
    label: 'without targetRegion',
    payload: {},
    field: 'payload.targetRegion',
    message: 'payload.targetRegion: is missing (expected a region (a string))',
  },
  {
    type: 'instance.disaster-recovery',
    label: 'with a field the payload does not define',
    payload: { targetRegion: 'us-east4', targetZone: 'us-east4-a' },
    field: 'payload.targetZone',
    message: 'payload.targetZone: unexpected field',
  },
  // instance.backup
  {
    type: 'instance.backup',
    label: 'with a note of 501 characters',
    payload: { note: 'n'.repeat(501) },
    field: 'payload.note',
    message: 'payload.note: expected a note of at most 500 characters',
  },
  {
    type: 'instance.backup',
    label: 'with a note that is not a string',
    payload: { note: { text: 'hi' } },
    field: 'payload.note',
    message: 'payload.note: expected a note (a string)',
  },
  {
    type: 'instance.backup',
    label: 'with a field the payload does not define',
    payload: { retentionDays: 30 },
    field: 'payload.retentionDays',
    message: 'payload.retentionDays: unexpected field',
  },
  // instance.check
  {
    type: 'instance.check',
    label: 'with a check it does not know',
    payload: { checks: ['health', 'disk'] },
    field: 'payload.checks[1]',
    message: 'payload.checks[1]: expected a check: one of health, backup-policy',
  },
  {
    type: 'instance.check',
    label: 'with no check',
    payload: { checks: [] },
    field: 'payload.checks',
    message: 'payload.checks: expected at least one check',
  },
  {
    type: 'instance.check',
    label: 'with a check twice',
    payload: { checks: ['health', 'health'] },
    field: 'payload.checks',
    message: 'payload.checks: expected each check at most once',
  },
  // instance.module-apply
  {
    type: 'instance.module-apply',
    label: 'with a short commit id',
    payload: { module: 'networking', commit: 'abc1234', action: 'plan', applyId: 'cus-acme.networking.abc1234' },
    field: 'payload.commit',
    message: 'payload.commit: expected a full commit id',
  },
  {
    type: 'instance.module-apply',
    label: 'with an action the executor does not take here',
    payload: { module: 'networking', commit: 'b'.repeat(40), action: 'destroy', applyId: 'cus-acme.networking.bbbbbbbbbbbb' },
    field: 'payload.action',
    message: 'payload.action: expected "plan" or "apply"',
  },
  // instance.remediate
  {
    type: 'instance.remediate',
    label: 'with nothing to fix',
    payload: { runId: 'verify-backups-20261126t0200z', controls: [] },
    field: 'payload.controls',
    message: 'payload.controls: expected at least one control',
  },
  // instance.restore-drill
  {
    type: 'instance.restore-drill',
    label: 'with a run id that is not one',
    payload: { runId: 'Run 1' },
    field: 'payload.runId',
    message: 'payload.runId: expected a compliance run id',
  },
];

describe('lifecycle command payloads', () => {
  it.each(VALID)('$type accepts $label', ({ type, payload }) => {
    const envelope = accepted(commandEnvelope(type, payload));
    expect(envelope.type).toBe(type);
    expect(envelope.payload).toEqual(payload);
  });

  it.each(INVALID)('$type rejects a payload $label: "$message"', ({ type, payload, field, message }) => {
    const error = rejected(commandEnvelope(type, payload));
    expect(error.stage).toBe('payload');
    expect(error.field).toBe(field);
    expect(error.message).toBe(message);
  });

  it('every lifecycle command has valid and invalid cases here', () => {
    const types = Object.keys(VALID_PAYLOADS);
    expect(new Set(VALID.map((c) => c.type))).toEqual(new Set(types));
    expect(new Set(INVALID.map((c) => c.type))).toEqual(new Set(types));
  });

  it('keeps a restore source exactly as sent, kind included', () => {
    const envelope = accepted(commandEnvelope('instance.restore', { source: { kind: 'backup', gkeBackup: GKE_BACKUP } }));
    expect(fieldAt(envelope, 'payload.source')).toEqual({ kind: 'backup', gkeBackup: GKE_BACKUP });
    expect(fieldAt(envelope, 'payload.source.cloudSqlBackupRunId')).toBeUndefined();
  });
});

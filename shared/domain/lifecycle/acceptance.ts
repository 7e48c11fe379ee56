/**
 * Whether a lifecycle command starts an operation now: a pure decision over the instance, the
 * slug registry, facts gathered beforehand from the backup services, and the clock. The
 * accepting transaction reads the documents, calls this, and writes what it returns.
 */
import semver from 'semver';
import type { AnyEnvelope, Envelope, InstanceRecord, LifecycleCommandType, RejectionCode } from '../../events/index.js';
import {
  DEFAULT_TIMINGS,
  OPERATION_OF_COMMAND,
  operationIdFor,
  sideEffectKey,
  type EngineTimings,
  type OperationRecord,
  type OperationType,
  type StepParams,
} from './operations.js';
import {
  backupPlan,
  createPlan,
  deletePlan,
  disasterRecoveryPlan,
  newStep,
  restoreFromBackupPlan,
  restoreToPointInTimePlan,
  upgradePlan,
  moduleApplyPlan,
  remediatePlan,
  restoreDrillPlan,
  type StepSpec,
} from './plans.js';
import { regionOfResource } from './backup-policy.js';
import { finalBackupPlanFor, isSupportedRegion, recoveredResourcesFor, resourceNamesFor } from './resource-names.js';

/** Facts read from Cloud SQL and Backup for GKE before the accepting transaction. */
export interface PreflightFacts {
  /** Point-in-time restore: the window Cloud SQL can restore to, or null when PITR is off. */
  recoveryWindow?: { earliest: string; latest: string } | null;
  /** Restore from named backups: what the services say of them (null: not found). */
  namedSqlRun?: { id: string; status: string; instance: string; endTime?: string } | null;
  namedGkeBackup?: { name: string; state: string; completeTime?: string } | null;
  /** Disaster recovery: the latest successful backups, or null when there are none. */
  latestSqlRun?: { id: string; endTime: string; location?: string } | null;
  latestGkeBackup?: { name: string; completeTime: string } | null;
}

export interface AcceptancePolicy {
  timings: EngineTimings;
  /** The project whose backup plans hold final backups of deleted instances. */
  centralBackupProject: string;
  /** How long a dev instance lives unless told otherwise. */
  devTtlHours: number;
  /** How long final backups are retained after deletion. */
  finalBackupRetentionDays: number;
}

export const DEFAULT_POLICY: AcceptancePolicy = {
  timings: DEFAULT_TIMINGS,
  centralBackupProject: 'mi-central-backups',
  devTtlHours: 7 * 24,
  finalBackupRetentionDays: 365,
};

export interface AcceptanceInput {
  envelope: AnyEnvelope;
  instance: InstanceRecord | undefined;
  /** For create: the instance that holds the requested slug in its environment, if any. */
  slugOwner?: string | undefined;
  facts?: PreflightFacts;
  now: Date;
  policy?: AcceptancePolicy;
}

export type Acceptance =
  | { kind: 'accept'; operation: OperationRecord; instanceAfter: InstanceRecord; claimSlug?: { environment: string; slug: string } }
  | { kind: 'reject'; code: RejectionCode; message: string };

const BUSY_STATUS: Record<OperationType, InstanceRecord['status']> = {
  create: 'provisioning',
  backup: 'backing-up',
  'module-apply': 'applying',
  remediate: 'remediating',
  'restore-drill': 'drilling',
  upgrade: 'upgrading',
  restore: 'restoring',
  delete: 'deleting',
  'disaster-recovery': 'recovering',
};

/** The statuses an operation may start from (besides not being leased). */
const STARTS_FROM: Record<Exclude<OperationType, 'create'>, ReadonlyArray<InstanceRecord['status']>> = {
  backup: ['active'],
  'module-apply': ['active'],
  remediate: ['active'],
  'restore-drill': ['active'],
  upgrade: ['active'],
  // A restore is how a person repairs a failed upgrade; so is disaster recovery.
  restore: ['active', 'failed'],
  delete: ['active', 'failed'],
  'disaster-recovery': ['active', 'failed'],
};

function reject(code: RejectionCode, message: string): Acceptance {
  return { kind: 'reject', code, message };
}

/** Decides whether a lifecycle command starts an operation now, and what it writes if so. */
export function decideAcceptance(input: AcceptanceInput): Acceptance {
  const { envelope, instance, now } = input;
  const policy = input.policy ?? DEFAULT_POLICY;
  const type = OPERATION_OF_COMMAND[envelope.type as LifecycleCommandType] as OperationType | undefined;
  if (type === undefined) return reject('invalid', `${envelope.type} is not a lifecycle command`);
  if (type === 'create') return decideCreate(envelope as Envelope<'instance.create'>, instance, input.slugOwner, now, policy);

  if (instance === undefined || instance.status === 'deleted') return reject('unknown-instance', `no instance ${envelope.instanceId ?? ''}`);
  if (instance.lease !== null) {
    return reject('busy', `instance ${instance.id} is busy with ${instance.lease.operationType} operation ${instance.lease.operationId}`);
  }
  if (!STARTS_FROM[type].includes(instance.status)) {
    return reject('not-active', `instance ${instance.id} is ${instance.status}; a ${type} starts only from ${STARTS_FROM[type].join(' or ')}`);
  }
  const planned = planFor(envelope, instance, input.facts ?? {}, now, policy);
  if ('code' in planned) return reject(planned.code, planned.message);
  const operation = newOperation(type, envelope, planned, now, policy.timings);
  return { kind: 'accept', operation, instanceAfter: leased(instance, operation, now) };
}

interface Planned {
  steps: StepSpec[];
  params: StepParams;
  onSuccess: OperationRecord['onSuccess'];
  approval?: OperationRecord['approval'];
}

function baseParams(instance: InstanceRecord): StepParams {
  // The resources are copied onto the operation so its steps need not read the instance.
  return {
    project: instance.resources.project,
    sqlInstance: instance.resources.sqlInstance,
    gkeCluster: instance.resources.gkeCluster,
    backupPlan: instance.resources.backupPlan,
    region: instance.region,
    version: instance.version,
    domain: instance.domain,
  };
}

function ageSeconds(at: string | undefined, now: Date): number {
  return at === undefined ? -1 : Math.max(0, Math.round((now.getTime() - Date.parse(at)) / 1000));
}

function planFor(envelope: AnyEnvelope, instance: InstanceRecord, facts: PreflightFacts, now: Date, policy: AcceptancePolicy): Planned | { code: RejectionCode; message: string } {
  const params = baseParams(instance);
  switch (envelope.type) {
    case 'instance.module-apply':
      return { steps: moduleApplyPlan(envelope.payload), params: { ...params, module: envelope.payload.module, commit: envelope.payload.commit, applyId: envelope.payload.applyId }, onSuccess: {} };
    case 'instance.backup':
      return { steps: backupPlan(), params, onSuccess: {} };
    case 'instance.remediate':
      return { steps: remediatePlan(envelope.payload.controls), params: { ...params, runId: envelope.payload.runId, controls: envelope.payload.controls.join(',') }, onSuccess: {} };
    case 'instance.restore-drill': {
      // Keyed to the event, so a retried step finds the throwaway it created.
      const throwaway = `${instance.resources.sqlInstance}-drill-${envelope.eventId.slice(0, 8)}`;
      return { steps: restoreDrillPlan(throwaway), params: { ...params, runId: envelope.payload.runId, throwaway }, onSuccess: {} };
    }
    case 'instance.upgrade': {
      const target = envelope.payload.targetVersion;
      if (!semver.gt(target, instance.version)) {
        return { code: 'not-newer', message: `target version ${target} is not newer than the running version ${instance.version}` };
      }
      return { steps: upgradePlan(target), params: { ...params, fromVersion: instance.version, targetVersion: target }, onSuccess: { version: target } };
    }
    case 'instance.restore': {
      const source = envelope.payload.source;
      if (source.kind === 'point-in-time') {
        const window = facts.recoveryWindow;
        if (window === undefined || window === null) {
          return { code: 'outside-recovery-window', message: `point-in-time recovery is off for ${instance.id}: there is no window to restore into` };
        }
        const at = Date.parse(source.time);
        if (at < Date.parse(window.earliest) || at > Date.parse(window.latest)) {
          return {
            code: 'outside-recovery-window',
            message: `${source.time} is outside the recovery window of ${instance.id}: ${window.earliest} to ${window.latest}`,
          };
        }
        const cloneName = `${instance.resources.sqlInstance}-pitr-${envelope.eventId.slice(0, 8)}`;
        return {
          steps: restoreToPointInTimePlan(source.time, cloneName),
          params: { ...params, pointInTime: source.time },
          onSuccess: { resources: { ...instance.resources, sqlInstance: cloneName } },
        };
      }
      const missing: string[] = [];
      if (source.cloudSqlBackupRunId !== undefined) {
        const run = facts.namedSqlRun;
        if (run === undefined || run === null) missing.push(`Cloud SQL backup run ${source.cloudSqlBackupRunId} of ${instance.resources.sqlInstance} does not exist`);
        else if (run.status !== 'SUCCESSFUL') missing.push(`Cloud SQL backup run ${run.id} is ${run.status}, not SUCCESSFUL`);
      }
      if (source.gkeBackup !== undefined) {
        const backup = facts.namedGkeBackup;
        if (backup === undefined || backup === null) missing.push(`GKE backup ${source.gkeBackup} does not exist`);
        else if (backup.state !== 'SUCCEEDED') missing.push(`GKE backup ${backup.name} is ${backup.state}, not SUCCEEDED`);
      }
      if (missing.length > 0) return { code: 'missing-backups', message: `cannot restore ${instance.id}: ${missing.join('; ')}` };
      return {
        steps: restoreFromBackupPlan(source),
        params: { ...params, ...(source.gkeBackup ? { restoreBackup: source.gkeBackup } : {}) },
        onSuccess: {},
      };
    }
    case 'instance.delete': {
      const needsApproval = instance.environment === 'prod';
      if (needsApproval && envelope.payload.confirmSlug !== instance.slug) {
        return {
          code: 'confirmation-required',
          message: `deleting prod instance ${instance.id} needs its slug as confirmation (payload.confirmSlug "${instance.slug}")${envelope.payload.confirmSlug === undefined ? '' : `, got "${envelope.payload.confirmSlug}"`}`,
        };
      }
      const finalPlan = finalBackupPlanFor(instance.id, instance.region, policy.centralBackupProject);
      return {
        steps: deletePlan({ needsApproval, finalPlan, finalRetentionDays: policy.finalBackupRetentionDays }),
        params,
        onSuccess: { status: 'deleted' },
        ...(needsApproval ? { approval: { requestedBy: envelope.actor, approvedBy: null, approvedAt: null } } : {}),
      };
    }
    case 'instance.disaster-recovery': {
      const targetRegion = envelope.payload.targetRegion;
      if (targetRegion === instance.region) return { code: 'invalid', message: `${instance.id} already runs in ${targetRegion}: recover into another region` };
      if (!isSupportedRegion(targetRegion)) return { code: 'invalid', message: `region ${targetRegion} is not one the control plane supports` };
      const missing: string[] = [];
      if (!facts.latestSqlRun) missing.push('no successful Cloud SQL backup');
      if (!facts.latestGkeBackup) missing.push(`no successful GKE backup stored outside ${instance.region}`);
      else if (regionOfResource(facts.latestGkeBackup.name) === instance.region) missing.push(`the latest GKE backup is stored in ${instance.region}, the failed region`);
      if (missing.length > 0 || !facts.latestSqlRun || !facts.latestGkeBackup) {
        return { code: 'missing-backups', message: `cannot recover ${instance.id}: ${missing.join('; ')}` };
      }
      const target = recoveredResourcesFor(instance.id, targetRegion, instance.resources.project, envelope.eventId);
      const sqlAge = ageSeconds(facts.latestSqlRun.endTime, now);
      const gkeAge = ageSeconds(facts.latestGkeBackup.completeTime, now);
      return {
        steps: disasterRecoveryPlan({
          target: { region: targetRegion, sqlInstance: target.sqlInstance, gkeCluster: target.gkeCluster, backupPlan: target.backupPlan },
          sqlBackupRunId: facts.latestSqlRun.id,
          gkeBackup: facts.latestGkeBackup.name,
        }),
        params: {
          ...params,
          targetRegion,
          sqlBackupRunId: facts.latestSqlRun.id,
          gkeBackup: facts.latestGkeBackup.name,
          sqlBackupAgeSeconds: sqlAge,
          gkeBackupAgeSeconds: gkeAge,
          recoveryPointSeconds: Math.max(sqlAge, gkeAge),
        },
        onSuccess: { region: targetRegion, resources: target },
      };
    }
    default:
      return { code: 'invalid', message: `${envelope.type} is not a lifecycle command` };
  }
}

function decideCreate(
  envelope: Envelope<'instance.create'>,
  existing: InstanceRecord | undefined,
  slugOwner: string | undefined,
  now: Date,
  policy: AcceptancePolicy,
): Acceptance {
  const spec = envelope.payload.spec;
  if (existing !== undefined) return reject('already-exists', `instance id ${spec.id} is in use (${existing.status})`);
  if (slugOwner !== undefined) return reject('already-exists', `slug ${spec.slug} is in use in ${spec.environment} by ${slugOwner}`);
  if (!isSupportedRegion(spec.region)) return reject('invalid', `region ${spec.region} is not one the control plane supports`);
  if (spec.environment === 'prod' && envelope.payload.ttlHours !== undefined) return reject('invalid', 'a prod instance has no expiry: drop ttlHours');
  if (spec.expiresAt !== undefined && Date.parse(spec.expiresAt) <= now.getTime()) return reject('invalid', `expiresAt ${spec.expiresAt} is in the past`);
  const at = now.toISOString();
  const expiresAt =
    spec.environment === 'dev'
      ? (spec.expiresAt ?? new Date(now.getTime() + (envelope.payload.ttlHours ?? policy.devTtlHours) * 3_600_000).toISOString())
      : undefined;
  const resources = resourceNamesFor(spec.id, spec.region);
  const record: InstanceRecord = {
    ...spec,
    ...(expiresAt === undefined ? {} : { expiresAt }),
    status: 'provisioning',
    resources,
    lease: null,
    generation: 0,
    createdAt: at,
    updatedAt: at,
  };
  const operation = newOperation(
    'create',
    envelope,
    {
      steps: createPlan(),
      params: { ...baseParams(record) },
      onSuccess: {},
    },
    now,
    policy.timings,
  );
  return {
    kind: 'accept',
    operation,
    instanceAfter: leased(record, operation, now),
    claimSlug: { environment: spec.environment, slug: spec.slug },
  };
}

function leased(instance: InstanceRecord, operation: OperationRecord, now: Date): InstanceRecord {
  return {
    ...instance,
    status: BUSY_STATUS[operation.type],
    lease: { operationId: operation.id, operationType: operation.type, acquiredAt: now.toISOString() },
    generation: instance.generation + 1,
    updatedAt: now.toISOString(),
    lastOperationId: operation.id,
  };
}

function newOperation(type: OperationType, envelope: AnyEnvelope, planned: Planned, now: Date, timings: EngineTimings): OperationRecord {
  const at = now.toISOString();
  return {
    id: operationIdFor(envelope.eventId),
    type,
    instanceId: envelope.instanceId ?? '',
    status: 'running',
    steps: planned.steps.map(newStep),
    params: planned.params,
    actor: envelope.actor,
    reason: envelope.reason,
    causeEventId: envelope.eventId,
    createdAt: at,
    updatedAt: at,
    deadline: new Date(now.getTime() + timings.deadlineMs[type]).toISOString(),
    nextRunAt: at,
    finishedAt: null,
    failure: null,
    result: null,
    stuckSince: null,
    abandoned: null,
    approval: planned.approval ?? null,
    onSuccess: planned.onSuccess,
  };
}

export { sideEffectKey };

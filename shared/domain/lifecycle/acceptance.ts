/**
 * Whether a lifecycle command starts an operation now: a pure decision over the instance, the
 * slug registry, facts gathered beforehand from the backup services, and the clock. The
 * accepting transaction reads the documents, calls this, and writes what it returns.
 */
import type { AnyEnvelope, Envelope, InstanceRecord, LifecycleCommandType, RejectionCode } from '../../events/index.js';
import { DEFAULT_POLICY, type AcceptancePolicy, type PreflightFacts } from './acceptance-policy.js';
import { baseParams, commitOf, planFor, type Planned } from './command-plans.js';
import { OPERATION_OF_COMMAND, operationIdFor, sideEffectKey, type EngineTimings, type OperationRecord, type OperationType } from './model.js';
import { createPlan, newStep } from './plans.js';
import { backupChannelFor, isSupportedRegion, resourceNamesFor } from './resource-names.js';

export { DEFAULT_POLICY, type AcceptancePolicy, type PreflightFacts } from './acceptance-policy.js';

export interface AcceptanceInput {
  envelope: AnyEnvelope;
  instance: InstanceRecord | undefined;
  /** For create: the instance that holds the requested slug in its environment, if any. */
  slugOwner?: string | undefined;
  facts?: PreflightFacts;
  now: Date;
  policy?: AcceptancePolicy;
  /** For a command a rollout decided: that rollout's status now (undefined: no such rollout). */
  rollout?: { status: string } | undefined;
}

/** The fan-out (a rollout or a workflow) a command was decided by (its payload names it), if any. */
export function rolloutOfCommand(envelope: AnyEnvelope): string | undefined {
  if (envelope.type === 'instance.upgrade' || envelope.type === 'instance.module-apply' || envelope.type === 'instance.backup' || envelope.type === 'instance.check') return envelope.payload.rolloutId;
  return undefined;
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
  check: 'checking',
  upgrade: 'upgrading',
  restore: 'restoring',
  delete: 'deleting',
  'disaster-recovery': 'recovering',
};

/** The statuses an operation may start from (besides not being leased). */
const STARTS_FROM: Record<Exclude<OperationType, 'create'>, ReadonlyArray<InstanceRecord['status']>> = {
  backup: ['active', 'degraded'],
  'module-apply': ['active'],
  remediate: ['active'],
  'restore-drill': ['active'],
  // A degraded instance is checked too: whether it answers again is what a person asks.
  check: ['active', 'degraded'],
  // From degraded only as a rollback (planUpgrade says so).
  upgrade: ['active', 'degraded'],
  // A restore is how a person repairs a failed upgrade; so is disaster recovery.
  restore: ['active', 'failed', 'degraded'],
  delete: ['active', 'failed', 'degraded'],
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
  const rolloutId = rolloutOfCommand(envelope);
  if (rolloutId !== undefined && (input.rollout === undefined || input.rollout.status === 'halted' || input.rollout.status === 'aborted')) {
    // Decided before the halt (or abort) and delivered after it: it does not run.
    return reject('rollout-halted', `fan-out ${rolloutId} is ${input.rollout?.status ?? 'gone'}: what it decided before that does not start (mi rollout resume, or mi workflow resume, starts it again)`);
  }

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
  if (policy.centralBackupProject === '') {
    return reject('not-configured', `no central backup project is configured (mi:centralBackupProject, MI_CENTRAL_BACKUP_PROJECT): ${spec.id} could not keep a final GKE backup after its deletion, so it is not created`);
  }
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
      steps: createPlan(backupChannelFor(resources.project, spec.region, policy.centralBackupProject)),
      params: { ...baseParams(record), ...commitOf(envelope) },
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
    origin: envelope.origin ?? 'unattributed',
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
    ...(rolloutOfCommand(envelope) === undefined ? {} : { rolloutId: rolloutOfCommand(envelope) }),
  };
}

export { sideEffectKey };

/**
 * What each lifecycle command plans on an instance that may take it: the steps, the parameters
 * copied onto the operation, what the instance becomes on success, and whether a second person
 * must approve; or why the command is refused (a target not newer, a point outside the
 * recovery window, backups that are missing).
 */
import semver from 'semver';
import { INSTANCE_CHECKS, type AnyEnvelope, type Envelope, type InstanceRecord, type RejectionCode } from '../../events/index.js';
import type { AcceptancePolicy, PreflightFacts } from './acceptance-policy.js';
import { regionOfResource } from './backup-policy.js';
import type { OperationRecord, StepParams } from './model.js';
import {
  backupPlan,
  checkPlan,
  deletePlan,
  disasterRecoveryPlan,
  moduleApplyPlan,
  remediatePlan,
  restoreDrillPlan,
  restoreFromBackupPlan,
  restoreToPointInTimePlan,
  upgradePlan,
  type StepSpec,
} from './plans.js';
import { backupChannelFor, finalBackupPlanFor, isSupportedRegion, recoveredResourcesFor } from './resource-names.js';

/** What a command plans: the operation's steps and parameters, what it leaves on success, its approval. */
export interface Planned {
  steps: StepSpec[];
  params: StepParams;
  onSuccess: OperationRecord['onSuccess'];
  approval?: OperationRecord['approval'];
}

/** Why a command is refused on this instance. */
export type Refusal = { code: RejectionCode; message: string };

/** The instance's resources and facts every operation carries. */
export function baseParams(instance: InstanceRecord): StepParams {
  // The resources are copied onto the operation so its steps need not read the instance.
  return {
    project: instance.resources.project,
    sqlInstance: instance.resources.sqlInstance,
    gkeCluster: instance.resources.gkeCluster,
    backupPlan: instance.resources.backupPlan,
    region: instance.region,
    version: instance.version,
    domain: instance.domain,
    environment: instance.environment,
  };
}

/** The repository commit the command was accepted at (its builds run it), when it names one. */
export function commitOf(envelope: AnyEnvelope): StepParams {
  const commit = (envelope.payload as { commit?: unknown }).commit;
  return typeof commit === 'string' ? { commit } : {};
}

function ageSeconds(at: string | undefined, now: Date): number {
  return at === undefined ? -1 : Math.max(0, Math.round((now.getTime() - Date.parse(at)) / 1000));
}

/** The plan of a command other than create on an instance that may take it, or why not. */
export function planFor(envelope: AnyEnvelope, instance: InstanceRecord, facts: PreflightFacts, now: Date, policy: AcceptancePolicy): Planned | Refusal {
  const params = { ...baseParams(instance), ...commitOf(envelope) };
  switch (envelope.type) {
    case 'instance.module-apply':
      return {
        steps: moduleApplyPlan(envelope.payload, policy.dataBearingModules),
        params: { ...params, module: envelope.payload.module, commit: envelope.payload.commit, applyId: envelope.payload.applyId, ...(envelope.payload.planDigest === undefined ? {} : { planDigest: envelope.payload.planDigest }) },
        onSuccess: {},
      };
    case 'instance.backup':
      // A backup of a degraded instance leaves it degraded.
      return { steps: backupPlan(), params, onSuccess: instance.status === 'degraded' ? { status: 'degraded' } : {} };
    case 'instance.check':
      // Nothing changes: a degraded instance stays degraded whatever the checks find (a person decides what it takes).
      return {
        steps: checkPlan(envelope.payload.checks ?? INSTANCE_CHECKS, instance.version, policy.healthGates),
        params,
        onSuccess: instance.status === 'degraded' ? { status: 'degraded' } : {},
      };
    case 'instance.remediate':
      return { steps: remediatePlan(envelope.payload.controls), params: { ...params, runId: envelope.payload.runId, controls: envelope.payload.controls.join(',') }, onSuccess: {} };
    case 'instance.restore-drill': {
      // Keyed to the event, so a retried step finds the throwaway it created.
      const throwaway = `${instance.resources.sqlInstance}-drill-${envelope.eventId.slice(0, 8)}`;
      return { steps: restoreDrillPlan(throwaway), params: { ...params, runId: envelope.payload.runId, throwaway }, onSuccess: {} };
    }
    case 'instance.upgrade':
      return planUpgrade(envelope, instance, params, policy);
    case 'instance.restore':
      return planRestore(envelope, instance, facts, params);
    case 'instance.delete':
      return planDelete(envelope, instance, policy, params);
    case 'instance.disaster-recovery':
      return planDisasterRecovery(envelope, instance, facts, now, params, policy);
    default:
      return { code: 'invalid', message: `${envelope.type} is not a lifecycle command` };
  }
}

function planUpgrade(envelope: Envelope<'instance.upgrade'>, instance: InstanceRecord, params: StepParams, policy: AcceptancePolicy): Planned | Refusal {
  if (envelope.payload.rollback === true) return planRollback(instance, params, policy);
  const target = envelope.payload.targetVersion ?? '';
  if (instance.status === 'degraded') {
    return { code: 'not-active', message: `instance ${instance.id} is degraded (it failed a health gate): it takes a rollback (mi upgrade ${instance.id} --rollback), a restore, a backup or a delete, not an upgrade to ${target}` };
  }
  if (!semver.gt(target, instance.version)) {
    return { code: 'not-newer', message: `target version ${target} is not newer than the running version ${instance.version}` };
  }
  return { steps: upgradePlan(target, policy.healthGates), params: { ...params, fromVersion: instance.version, targetVersion: target }, onSuccess: { version: target } };
}

/** Back to the version before the last upgrade, when that upgrade left the database as it was. */
function planRollback(instance: InstanceRecord, params: StepParams, policy: AcceptancePolicy): Planned | Refusal {
  const last = instance.lastUpgrade;
  if (last === undefined) return { code: 'no-rollback', message: `instance ${instance.id} has no recorded upgrade to roll back` };
  if (last.rollback) {
    return { code: 'no-rollback', message: `the last upgrade of ${instance.id} (${last.operationId}) was itself a rollback to ${last.toVersion}: there is no earlier version recorded to go back to` };
  }
  if (last.toVersion !== instance.version) {
    return { code: 'no-rollback', message: `the last upgrade of ${instance.id} deployed ${last.toVersion}, but it runs ${instance.version}: nothing to roll back` };
  }
  if (last.migrationsRan !== false) {
    const backups = [last.sqlBackupRunId === undefined ? '' : ` --backup-run ${last.sqlBackupRunId}`, last.gkeBackup === undefined ? '' : ` --gke-backup ${last.gkeBackup}`].join('');
    return {
      code: 'no-rollback',
      message: `the upgrade of ${instance.id} to ${last.toVersion} (${last.operationId}) ${last.migrationsRan === true ? 'ran' : 'may have run'} database migrations, so ${last.fromVersion} cannot simply be redeployed: restore the pre-upgrade backups instead: mi restore ${instance.id}${backups}`,
    };
  }
  return {
    steps: upgradePlan(last.fromVersion, policy.healthGates, { rollback: true }),
    params: { ...params, fromVersion: instance.version, targetVersion: last.fromVersion, rollbackOf: last.operationId },
    onSuccess: { version: last.fromVersion },
  };
}

function planRestore(envelope: Envelope<'instance.restore'>, instance: InstanceRecord, facts: PreflightFacts, params: StepParams): Planned | Refusal {
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

function planDelete(envelope: Envelope<'instance.delete'>, instance: InstanceRecord, policy: AcceptancePolicy, params: StepParams): Planned | Refusal {
  if (policy.centralBackupProject === '') {
    return { code: 'not-configured', message: `no central backup project is configured (mi:centralBackupProject, MI_CENTRAL_BACKUP_PROJECT): ${instance.id}'s final GKE backup would have nowhere to outlive it, so it is not deleted` };
  }
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

function planDisasterRecovery(envelope: Envelope<'instance.disaster-recovery'>, instance: InstanceRecord, facts: PreflightFacts, now: Date, params: StepParams, policy: AcceptancePolicy): Planned | Refusal {
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
      channel: backupChannelFor(instance.resources.project, targetRegion, policy.centralBackupProject),
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

/**
 * GkeBackupPort on the Backup for GKE v1 REST client of `googleapis`. Only the gkebackup API
 * is loaded (the one deep import the project allows): all of googleapis costs ~800 ms of cold
 * start. Every call has a deadline; 404 on a get is an answer, 409 on create is "exists".
 */
import { AuthPlus, gkebackup_v1 } from 'googleapis/build/src/apis/gkebackup/index.js';
import { DEFAULT_DEADLINE_MS, withDeadline } from '../deadline.js';
import { ControlPlaneError } from '../errors.js';
import type {
  GkeBackup,
  GkeBackupChannel,
  GkeBackupPlan,
  GkeBackupPlanSpec,
  GkeBackupPort,
  GkeBackupState,
  GkeOperation,
  GkeRestore,
  GkeRestoreState,
  Page,
} from '../ports.js';
import { malformedAnswer, oneOf, optionalString, toControlPlaneError, toIsoTime } from './google-api.js';

type Schema$Backup = gkebackup_v1.Schema$Backup;
type Schema$BackupPlan = gkebackup_v1.Schema$BackupPlan;
type Schema$Operation = gkebackup_v1.Schema$GoogleLongrunningOperation;
type Schema$Restore = gkebackup_v1.Schema$Restore;
type Schema$BackupChannel = gkebackup_v1.Schema$BackupChannel;
type Schema$RestorePlan = gkebackup_v1.Schema$RestorePlan;

export interface GkeBackupAdapterOptions {
  /** Per call; a call past it fails with a retryable `deadline-exceeded`. */
  deadlineMs?: number;
  /** Base URL instead of https://gkebackup.googleapis.com/ (tests point it at a local server). */
  rootUrl?: string;
  /** `none` sends no credentials (a local fake); the default is Application Default Credentials. */
  auth?: 'default' | 'none';
}

const BACKUP_STATES: readonly GkeBackupState[] = ['STATE_UNSPECIFIED', 'CREATING', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'DELETING'];
const RESTORE_STATES: readonly GkeRestoreState[] = ['STATE_UNSPECIFIED', 'CREATING', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'DELETING'];
const PLAN_STATES: ReadonlyArray<GkeBackupPlan['state']> = [
  'STATE_UNSPECIFIED',
  'CLUSTER_PENDING',
  'PROVISIONING',
  'READY',
  'FAILED',
  'DEACTIVATED',
  'DELETING',
];

function required(what: string, path: string, value: unknown): string {
  const text = optionalString(value);
  if (text === undefined) throw malformedAnswer(what, path, 'missing', value);
  return text;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Maps a `google.longrunning.Operation` of Backup for GKE to the port's type. */
export function toGkeOperation(what: string, op: Schema$Operation): GkeOperation {
  const error = op.error;
  return {
    name: required(what, 'name', op.name),
    // An operation just started omits `done` (proto3 false is not serialised).
    done: op.done === true,
    ...(error ? { error: { code: typeof error.code === 'number' ? error.code : 2, message: error.message ?? '' } } : {}),
    ...(isRecord(op.metadata) ? { metadata: op.metadata } : {}),
    ...(isRecord(op.response) ? { response: op.response } : {}),
  };
}

/** Maps a `Backup` of Backup for GKE v1 to the port's type. */
export function toGkeBackup(what: string, backup: Schema$Backup): GkeBackup {
  const createTime = toIsoTime(backup.createTime);
  if (createTime === undefined) throw malformedAnswer(what, 'createTime', 'missing', backup.createTime);
  const completeTime = toIsoTime(backup.completeTime);
  const retainExpireTime = toIsoTime(backup.retainExpireTime);
  const stateReason = optionalString(backup.stateReason);
  const description = optionalString(backup.description);
  return {
    name: required(what, 'name', backup.name),
    uid: required(what, 'uid', backup.uid),
    state: oneOf(what, 'state', backup.state, BACKUP_STATES),
    manual: backup.manual === true,
    createTime,
    ...(stateReason === undefined ? {} : { stateReason }),
    ...(description === undefined ? {} : { description }),
    ...(backup.labels ? { labels: { ...backup.labels } } : {}),
    ...(completeTime === undefined ? {} : { completeTime }),
    ...(typeof backup.retainDays === 'number' ? { retainDays: backup.retainDays } : {}),
    ...(retainExpireTime === undefined ? {} : { retainExpireTime }),
  };
}

function definedOnly<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
}

/** Maps a `BackupPlan` of Backup for GKE v1 to the port's type. */
export function toGkeBackupPlan(what: string, plan: Schema$BackupPlan): GkeBackupPlan {
  const schedule = plan.backupSchedule;
  const retention = plan.retentionPolicy;
  const config = plan.backupConfig;
  return {
    name: required(what, 'name', plan.name),
    uid: required(what, 'uid', plan.uid),
    cluster: required(what, 'cluster', plan.cluster),
    state: oneOf(what, 'state', plan.state, PLAN_STATES),
    ...(typeof plan.deactivated === 'boolean' ? { deactivated: plan.deactivated } : {}),
    ...(schedule ? { backupSchedule: definedOnly({ cronSchedule: schedule.cronSchedule ?? undefined, paused: schedule.paused ?? undefined }) } : {}),
    ...(retention
      ? {
          retentionPolicy: definedOnly({
            backupRetainDays: retention.backupRetainDays ?? undefined,
            backupDeleteLockDays: retention.backupDeleteLockDays ?? undefined,
            locked: retention.locked ?? undefined,
          }),
        }
      : {}),
    ...(config
      ? {
          backupConfig: definedOnly({
            allNamespaces: config.allNamespaces ?? undefined,
            includeVolumeData: config.includeVolumeData ?? undefined,
            includeSecrets: config.includeSecrets ?? undefined,
          }),
        }
      : {}),
  };
}

/** Maps a `Restore` of Backup for GKE v1 to the port's type. */
export function toGkeRestore(what: string, restore: Schema$Restore): GkeRestore {
  const createTime = toIsoTime(restore.createTime);
  if (createTime === undefined) throw malformedAnswer(what, 'createTime', 'missing', restore.createTime);
  const completeTime = toIsoTime(restore.completeTime);
  const stateReason = optionalString(restore.stateReason);
  return {
    name: required(what, 'name', restore.name),
    uid: required(what, 'uid', restore.uid),
    backup: required(what, 'backup', restore.backup),
    cluster: required(what, 'cluster', restore.cluster),
    state: oneOf(what, 'state', restore.state, RESTORE_STATES),
    createTime,
    ...(stateReason === undefined ? {} : { stateReason }),
    ...(completeTime === undefined ? {} : { completeTime }),
  };
}

export function toGkeBackupChannel(what: string, channel: Schema$BackupChannel): GkeBackupChannel {
  const createTime = toIsoTime(channel.createTime);
  return {
    name: required(what, 'name', channel.name),
    destinationProject: required(what, 'destinationProject', channel.destinationProject),
    uid: required(what, 'uid', channel.uid),
    ...(createTime === undefined ? {} : { createTime }),
  };
}

/** The schedule, retention and scope of a plan, as a `BackupPlan` body carries them. */
export function planPolicyBody(spec: Omit<GkeBackupPlanSpec, 'cluster'>): Schema$BackupPlan {
  return {
    // No cron schedule is a plan for manual backups only (a plan that holds final backups).
    backupSchedule: spec.cronSchedule === '' ? {} : { cronSchedule: spec.cronSchedule },
    retentionPolicy: { backupRetainDays: spec.backupRetainDays },
    backupConfig: { allNamespaces: spec.allNamespaces, includeVolumeData: spec.includeVolumeData, includeSecrets: spec.includeSecrets },
    ...(spec.labels === undefined ? {} : { labels: spec.labels }),
  };
}

/**
 * What a restore plan of the control plane restores: every namespace with its volume data
 * from the backup, replacing what the target cluster holds (a restore reverts the instance),
 * and the cluster-scoped resources the backup has where the cluster lacks them.
 */
export const RESTORE_CONFIG: gkebackup_v1.Schema$RestoreConfig = {
  allNamespaces: true,
  namespacedResourceRestoreMode: 'DELETE_AND_RESTORE',
  volumeDataRestorePolicy: 'RESTORE_VOLUME_DATA_FROM_BACKUP',
  clusterResourceConflictPolicy: 'USE_EXISTING_VERSION',
  clusterResourceRestoreScope: { allGroupKinds: true },
};

/** Creates the Backup for GKE adapter (googleapis REST client, a deadline on every call). */
export function createGkeBackupAdapter(options: GkeBackupAdapterOptions = {}): GkeBackupPort {
  const ms = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const api = new gkebackup_v1.Gkebackup({
    ...(options.rootUrl === undefined ? {} : { rootUrl: options.rootUrl.endsWith('/') ? options.rootUrl : `${options.rootUrl}/` }),
    // Without `auth` googleapis sends plain requests; AuthPlus is googleapis' GoogleAuth (ADC).
    ...(options.auth === 'none' ? {} : { auth: new AuthPlus({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] }) }),
  });
  const plans = api.projects.locations.backupPlans;
  // googleapis retries 5xx and 429 by itself unless told not to: redelivery is our retry,
  // and a hidden retry loop would only eat the deadline. The timeout aborts the request.
  const methodOptions = { retry: false, timeout: ms };

  async function call<T>(what: string, work: () => Promise<{ data: T }>): Promise<T> {
    try {
      const response = await withDeadline(what, work, ms);
      return response.data;
    } catch (error) {
      throw toControlPlaneError(what, error, { alreadyExists: 'already-exists' });
    }
  }

  async function get<T>(what: string, work: () => Promise<{ data: T }>): Promise<T | undefined> {
    try {
      return await call(what, work);
    } catch (error) {
      if (error instanceof ControlPlaneError && error.code === 'not-found') return undefined;
      throw error;
    }
  }

  return {
    async createBackup(parent, backupId, body) {
      const what = `Backup for GKE backups.create ${parent}/backups/${backupId}`;
      const requestBody: Schema$Backup = {
        ...(body.description === undefined ? {} : { description: body.description }),
        ...(body.labels === undefined ? {} : { labels: body.labels }),
      };
      const op = await call(what, () => plans.backups.create({ parent, backupId, requestBody }, methodOptions));
      return toGkeOperation(what, op);
    },

    async getBackup(name) {
      const what = `Backup for GKE backups.get ${name}`;
      const backup = await get(what, () => plans.backups.get({ name }, methodOptions));
      return backup === undefined ? undefined : toGkeBackup(what, backup);
    },

    async listBackups(parent, page = {}) {
      const what = `Backup for GKE backups.list ${parent}`;
      const answer = await call(what, () =>
        plans.backups.list(
          {
            parent,
            ...(page.pageSize === undefined ? {} : { pageSize: page.pageSize }),
            ...(page.pageToken === undefined ? {} : { pageToken: page.pageToken }),
          },
          methodOptions,
        ),
      );
      const items = (answer.backups ?? []).map((backup) => toGkeBackup(what, backup));
      const nextPageToken = optionalString(answer.nextPageToken);
      const result: Page<GkeBackup> = { items };
      return nextPageToken === undefined ? result : { ...result, nextPageToken };
    },

    async getBackupPlan(name) {
      const what = `Backup for GKE backupPlans.get ${name}`;
      const plan = await get(what, () => plans.get({ name }, methodOptions));
      return plan === undefined ? undefined : toGkeBackupPlan(what, plan);
    },

    async getOperation(name) {
      const what = `Backup for GKE operations.get ${name}`;
      const op = await get(what, () => api.projects.locations.operations.get({ name }, methodOptions));
      return op === undefined ? undefined : toGkeOperation(what, op);
    },

    async createBackupPlan(parent, backupPlanId, spec) {
      const what = `Backup for GKE backupPlans.create ${parent}/backupPlans/${backupPlanId}`;
      const requestBody: Schema$BackupPlan = { cluster: spec.cluster, ...planPolicyBody(spec) };
      const op = await call(what, () => plans.create({ parent, backupPlanId, requestBody }, methodOptions));
      return toGkeOperation(what, op);
    },

    async updateBackupPlan(name, spec) {
      const what = `Backup for GKE backupPlans.patch ${name}`;
      // The mask names each leaf we set, so a plan's other settings (its lock, its pause) stay.
      const updateMask = [
        'backupSchedule.cronSchedule',
        'retentionPolicy.backupRetainDays',
        'backupConfig.allNamespaces',
        'backupConfig.includeVolumeData',
        'backupConfig.includeSecrets',
        ...(spec.labels === undefined ? [] : ['labels']),
      ].join(',');
      const op = await call(what, () => plans.patch({ name, updateMask, requestBody: planPolicyBody(spec) }, methodOptions));
      return toGkeOperation(what, op);
    },

    async createRestorePlan(parent, restorePlanId, body) {
      const what = `Backup for GKE restorePlans.create ${parent}/restorePlans/${restorePlanId}`;
      const requestBody: Schema$RestorePlan = { backupPlan: body.backupPlan, cluster: body.cluster, restoreConfig: RESTORE_CONFIG };
      const op = await call(what, () => api.projects.locations.restorePlans.create({ parent, restorePlanId, requestBody }, methodOptions));
      return toGkeOperation(what, op);
    },

    async createRestore(restorePlan, restoreId, body) {
      const what = `Backup for GKE restores.create ${restorePlan}/restores/${restoreId}`;
      const requestBody: Schema$Restore = { backup: body.backup };
      const op = await call(what, () =>
        api.projects.locations.restorePlans.restores.create({ parent: restorePlan, restoreId, requestBody }, methodOptions),
      );
      return toGkeOperation(what, op);
    },

    async createBackupChannel(parent, backupChannelId, body) {
      const what = `Backup for GKE backupChannels.create ${parent}/backupChannels/${backupChannelId}`;
      const requestBody: Schema$BackupChannel = { destinationProject: body.destinationProject, ...(body.labels === undefined ? {} : { labels: body.labels }) };
      const op = await call(what, () => api.projects.locations.backupChannels.create({ parent, backupChannelId, requestBody }, methodOptions));
      return toGkeOperation(what, op);
    },

    async getBackupChannel(name) {
      const what = `Backup for GKE backupChannels.get ${name}`;
      const channel = await get(what, () => api.projects.locations.backupChannels.get({ name }, methodOptions));
      return channel === undefined ? undefined : toGkeBackupChannel(what, channel);
    },

    async getRestore(name) {
      const what = `Backup for GKE restores.get ${name}`;
      const restore = await get(what, () => api.projects.locations.restorePlans.restores.get({ name }, methodOptions));
      return restore === undefined ? undefined : toGkeRestore(what, restore);
    },
  };
}

/**
 * Cloud SQL Admin v1 instances: the instance and its backup configuration mapped both ways,
 * and the port's instance methods (get, insert, delete with its final backup, patch of the
 * backup configuration, restore from a backup run, clone to a point in time, latest recovery time).
 */
import { protos } from '@google-cloud/sql';
import { ControlPlaneError } from '../errors.js';
import type { CloudSqlPort, SqlBackupConfiguration, SqlInstance, SqlInstanceSpec } from '../ports.js';
import { required, type CloudSqlClients, type SqlCalls } from './cloud-sql-calls.js';
import { toSqlOperation } from './cloud-sql-operations.js';
import { enumName, malformedAnswer, oneOf, optionalString, toIsoTime, unwrap } from './google-api.js';

const v1 = protos.google.cloud.sql.v1;
type IDatabaseInstance = protos.google.cloud.sql.v1.IDatabaseInstance;
type IBackupConfiguration = protos.google.cloud.sql.v1.IBackupConfiguration;

const INSTANCE_STATES: ReadonlyArray<SqlInstance['state']> = ['RUNNABLE', 'SUSPENDED', 'PENDING_DELETE', 'PENDING_CREATE', 'MAINTENANCE', 'FAILED'];

/**
 * The port's backup configuration as the v1 request wants it. Its booleans and counts are
 * protobuf wrappers (`{value}`), which the REST transport writes as plain JSON values.
 */
export function fromBackupConfiguration(config: SqlBackupConfiguration): IBackupConfiguration {
  return {
    enabled: { value: config.enabled },
    ...(config.startTime === undefined ? {} : { startTime: config.startTime }),
    ...(config.location === undefined ? {} : { location: config.location }),
    pointInTimeRecoveryEnabled: { value: config.pointInTimeRecoveryEnabled },
    transactionLogRetentionDays: { value: config.transactionLogRetentionDays },
    backupRetentionSettings: { retentionUnit: 'COUNT', retainedBackups: { value: config.backupRetentionSettings.retainedBackups } },
  };
}

function toBackupConfiguration(what: string, config: protos.google.cloud.sql.v1.IBackupConfiguration | null | undefined): SqlBackupConfiguration {
  const retention = config?.backupRetentionSettings;
  const retainedBackups = unwrap(retention?.retainedBackups);
  const logDays = unwrap(config?.transactionLogRetentionDays);
  const startTime = optionalString(config?.startTime);
  const location = optionalString(config?.location);
  const unit = enumName(retention?.retentionUnit, v1.BackupRetentionSettings.RetentionUnit);
  // A missing unit is what an instance that never had settings answers; the API has only COUNT.
  if (unit !== undefined && unit !== 'COUNT' && unit !== 'RETENTION_UNIT_UNSPECIFIED') {
    throw malformedAnswer(what, 'settings.backupConfiguration.backupRetentionSettings.retentionUnit', 'not COUNT', unit);
  }
  return {
    enabled: unwrap(config?.enabled) === true,
    ...(startTime === undefined ? {} : { startTime }),
    ...(location === undefined ? {} : { location }),
    pointInTimeRecoveryEnabled: unwrap(config?.pointInTimeRecoveryEnabled) === true,
    transactionLogRetentionDays: typeof logDays === 'number' ? logDays : 0,
    backupRetentionSettings: { retentionUnit: 'COUNT', retainedBackups: typeof retainedBackups === 'number' ? retainedBackups : 0 },
  };
}

/** Maps a `DatabaseInstance` of Cloud SQL Admin v1 to the port's type. */
export function toSqlInstance(what: string, instance: IDatabaseInstance, project: string): SqlInstance {
  let state = enumName(instance.state, v1.DatabaseInstance.SqlInstanceState);
  // Newer states the port does not name are maintenance of one kind or another: the
  // instance is there but busy, which is what MAINTENANCE tells the domain.
  if (state === 'ONLINE_MAINTENANCE' || state === 'REPAIRING') state = 'MAINTENANCE';
  const createTime = toIsoTime(instance.createTime);
  return {
    name: required(what, 'name', instance.name),
    project: optionalString(instance.project) ?? project,
    region: optionalString(instance.region) ?? '',
    databaseVersion: required(what, 'databaseVersion', enumName(instance.databaseVersion, v1.SqlDatabaseVersion)),
    state: oneOf(what, 'state', state, INSTANCE_STATES),
    settings: {
      tier: optionalString(instance.settings?.tier) ?? '',
      backupConfiguration: toBackupConfiguration(what, instance.settings?.backupConfiguration),
      ...(typeof unwrap(instance.settings?.deletionProtectionEnabled) === 'boolean' ? { deletionProtectionEnabled: unwrap(instance.settings?.deletionProtectionEnabled) as boolean } : {}),
    },
    ...(createTime === undefined ? {} : { createTime }),
  };
}

/** The `DatabaseInstance` body of instances.insert for the port's spec. */
export function fromInstanceSpec(spec: SqlInstanceSpec): IDatabaseInstance {
  // The client encodes enums from its own table: a version it does not know would be sent as
  // nothing at all, and the service would pick its default. Refuse it here instead.
  const versions: Readonly<Record<string, unknown>> = v1.SqlDatabaseVersion;
  if (typeof versions[spec.databaseVersion] !== 'number') {
    throw new ControlPlaneError('failed-precondition', `databaseVersion ${spec.databaseVersion} is not one this Cloud SQL client knows`, {
      details: { databaseVersion: spec.databaseVersion },
    });
  }
  return {
    name: spec.name,
    region: spec.region,
    databaseVersion: spec.databaseVersion as keyof typeof protos.google.cloud.sql.v1.SqlDatabaseVersion,
    settings: { tier: spec.tier, backupConfiguration: fromBackupConfiguration(spec.backupConfiguration) },
  };
}

/** The port's instance methods on the instances client. */
export function instanceMethods(
  instances: CloudSqlClients['instances'],
  calls: SqlCalls,
): Pick<
  CloudSqlPort,
  'getInstance' | 'deleteInstance' | 'patchBackupConfiguration' | 'setDeletionProtection' | 'restoreBackup' | 'cloneInstance' | 'insertInstance' | 'getLatestRecoveryTime'
> {
  return {
    async getInstance(project, instance) {
      const what = `Cloud SQL instances.get ${project}/${instance}`;
      const answer = await calls.get(what, () => instances.get({ project, instance }, calls.options));
      return answer === undefined ? undefined : toSqlInstance(what, answer[0], project);
    },

    async deleteInstance(project, instance, options = {}) {
      const what = `Cloud SQL instances.delete ${project}/${instance}`;
      const final = options.finalBackup;
      // The v1 delete takes the final backup itself (enableFinalBackup, kept finalBackupTtlDays
      // after deletion), as a `projects/{p}/backups/{id}` resource rather than a backup run.
      const request = {
        project,
        instance,
        ...(final === undefined
          ? {}
          : { enableFinalBackup: true, finalBackupTtlDays: final.retentionDays, finalBackupDescription: final.description }),
      };
      const [op] = await calls.call(what, () => instances.delete(request, calls.options));
      return toSqlOperation(what, op, { project, instance });
    },

    async patchBackupConfiguration(project, instance, configuration) {
      const what = `Cloud SQL instances.patch ${project}/${instance}`;
      // A patch body names only what changes: the rest of the settings are left as they are.
      const body: IDatabaseInstance = { settings: { backupConfiguration: fromBackupConfiguration(configuration) } };
      const [op] = await calls.call(what, () => instances.patch({ project, instance, body }, calls.options));
      return toSqlOperation(what, op, { project, instance });
    },

    async setDeletionProtection(project, instance, enabled) {
      const what = `Cloud SQL instances.patch ${project}/${instance} (deletion protection ${enabled ? 'on' : 'off'})`;
      const body: IDatabaseInstance = { settings: { deletionProtectionEnabled: { value: enabled } } };
      const [op] = await calls.call(what, () => instances.patch({ project, instance, body }, calls.options));
      return toSqlOperation(what, op, { project, instance });
    },

    async restoreBackup(project, targetInstance, source) {
      const what = `Cloud SQL instances.restoreBackup ${project}/${targetInstance} from ${source.project}/${source.instance}/${source.backupRunId}`;
      const body = { restoreBackupContext: { backupRunId: source.backupRunId, instanceId: source.instance, project: source.project } };
      const [op] = await calls.call(what, () => instances.restoreBackup({ project, instance: targetInstance, body }, calls.options));
      return toSqlOperation(what, op, { project, instance: targetInstance });
    },

    async cloneInstance(project, instance, body) {
      const what = `Cloud SQL instances.clone ${project}/${instance} to ${body.destinationInstanceName} at ${body.pointInTime}`;
      const at = Date.parse(body.pointInTime);
      if (Number.isNaN(at)) {
        throw new ControlPlaneError('failed-precondition', `${what}: pointInTime is not an RFC 3339 time`, { details: { what } });
      }
      const pointInTime = { seconds: Math.floor(at / 1000), nanos: (at % 1000) * 1_000_000 };
      const request = { project, instance, body: { cloneContext: { destinationInstanceName: body.destinationInstanceName, pointInTime } } };
      const [op] = await calls.call(what, () => instances.clone(request, calls.options));
      return toSqlOperation(what, op, { project, instance });
    },

    async insertInstance(project, spec) {
      const what = `Cloud SQL instances.insert ${project}/${spec.name}`;
      const [op] = await calls.call(what, () => instances.insert({ project, body: fromInstanceSpec(spec) }, calls.options));
      return toSqlOperation(what, op, { project, instance: spec.name });
    },

    async getLatestRecoveryTime(project, instance) {
      const what = `Cloud SQL instances.getLatestRecoveryTime ${project}/${instance}`;
      const [answer] = await calls.call(what, () => instances.getLatestRecoveryTime({ project, instance }, calls.options));
      // An instance without point-in-time recovery has no latest recovery time to give.
      return toIsoTime(answer.latestRecoveryTime);
    },
  };
}

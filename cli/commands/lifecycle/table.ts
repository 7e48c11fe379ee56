/**
 * The lifecycle commands, one row each, in the order `mi --help` lists them: the options and
 * flags schema of each, what it checks that needs no backup service (the lifecycle function
 * checks the rest, such as the recovery window), and the request it builds from its flags.
 */
import semver from 'semver';
import * as z from 'zod';
import {
  backupPayloadSchema,
  checkPayloadSchema,
  createPayloadSchema,
  domainSchema,
  environmentSchema,
  INSTANCE_CHECKS,
  instanceIdSchema,
  instanceSpecSchema,
  isoTimestampSchema,
  regionSchema,
  restorePayloadSchema,
  slugSchema,
  tierSchema,
  versionSchema,
  type InstanceRecord,
  type InstanceSpec,
} from '../../../shared/events/index.js';
import { paths } from '../../../shared/store/collections.js';
import { refused } from '../../errors.js';
import { parseFlags } from '../../flags.js';
import { requireInstance } from '../instance.js';
import { checkAvailable, specFromFile } from './checks.js';
import { lifecycleCommand, type LifecycleCommand } from './command.js';
import { commonFlags } from './flags.js';

const INSTANCE = { name: '[instance]', description: 'the instance id (default: the instance folder of the deployment repository you stand in)' };

export const LIFECYCLE_COMMAND_TABLE: readonly LifecycleCommand[] = [
  lifecycleCommand({
    name: 'backup',
    description: 'take an on-demand backup of an instance (Cloud SQL and GKE)',
    argument: INSTANCE,
    options: [{ flags: '--note <text>', description: 'a note kept with the backup' }],
    flags: z.object({ ...commonFlags, note: backupPayloadSchema.shape.note }),
    async prepare(flags, ctx) {
      const instance = await requireInstance(ctx.store(), flags.instance);
      checkAvailable(instance, ['active', 'degraded']);
      const payload = flags.note === undefined ? {} : { note: flags.note };
      return { request: { type: 'instance.backup', instanceId: instance.id, payload }, summary: instance.id };
    },
  }),

  lifecycleCommand({
    name: 'check',
    description: 'run the read-only checks of an instance: it answers healthy on the version it is recorded on (health), its backup configuration meets the policy (backup-policy); nothing is changed',
    argument: INSTANCE,
    options: [
      { flags: '--only <check...>', description: `the checks to run: ${INSTANCE_CHECKS.join(', ')} (default: all)` },
      { flags: '--note <text>', description: 'a note kept with the operation' },
    ],
    flags: z.object({ ...commonFlags, only: checkPayloadSchema.shape.checks, note: checkPayloadSchema.shape.note }),
    async prepare(flags, ctx) {
      const instance = await requireInstance(ctx.store(), flags.instance);
      checkAvailable(instance, ['active', 'degraded']);
      const payload = { ...(flags.only === undefined ? {} : { checks: flags.only }), ...(flags.note === undefined ? {} : { note: flags.note }) };
      return { request: { type: 'instance.check', instanceId: instance.id, payload }, summary: `${instance.id} (${(flags.only ?? INSTANCE_CHECKS).join(', ')})` };
    },
  }),

  lifecycleCommand({
    name: 'upgrade',
    description:
      'upgrade an instance to a newer version: a health check, both backups, the migration job and the rollout, then the instance must answer healthy on the new version; --rollback redeploys the version before its last upgrade',
    argument: INSTANCE,
    options: [
      { flags: '--to <version>', description: 'the version to run, such as 5.5.0' },
      { flags: '--rollback', description: 'go back to the version before the last upgrade (refused when that upgrade ran database migrations: restore its backups instead)' },
    ],
    flags: z
      .object({ ...commonFlags, to: versionSchema.optional(), rollback: z.boolean().optional() })
      .refine((f) => (f.to === undefined) !== (f.rollback !== true), { error: 'give --to <version> or --rollback (one of them)' }),
    async prepare(flags, ctx) {
      const instance = await requireInstance(ctx.store(), flags.instance);
      if (flags.rollback === true) {
        const last = instance.lastUpgrade;
        if (last === undefined) throw refused(`instance ${instance.id} has no recorded upgrade to roll back`);
        checkAvailable(instance, ['active', 'degraded']);
        return {
          request: { type: 'instance.upgrade', instanceId: instance.id, payload: { rollback: true } },
          summary: `${instance.id} (roll back ${instance.version} → ${last.fromVersion})`,
        };
      }
      const to = flags.to ?? '';
      if (semver.valid(instance.version) !== null && !semver.gt(to, instance.version)) {
        throw refused(`--to ${to} is not newer than ${instance.id}'s running version ${instance.version}`);
      }
      if (instance.status === 'degraded') throw refused(`instance ${instance.id} is degraded (it failed a health gate): roll it back first (mi upgrade ${instance.id} --rollback), or restore it`);
      checkAvailable(instance);
      return {
        request: { type: 'instance.upgrade', instanceId: instance.id, payload: { targetVersion: to } },
        summary: `${instance.id} (${instance.version} → ${to})`,
      };
    },
  }),

  lifecycleCommand({
    name: 'create',
    description: 'create an instance: provision it, put both backups under policy, verify, activate',
    argument: { name: '[instance]', description: 'the instance id (or id: in --file)' },
    options: [
      { flags: '-f, --file <config.yaml>', description: 'the instance spec, as in the deployment repository' },
      { flags: '--env <environment>', description: 'dev or prod' },
      { flags: '--tier <tier>', description: 'internal or customer (every dev instance is internal)', default: 'internal' },
      { flags: '--slug <slug>', description: 'unique within the environment' },
      { flags: '--domain <domain>', description: 'such as acme.example.com' },
      { flags: '--region <region>', description: 'such as us-central1' },
      { flags: '--version <version>', description: 'the application version to provision' },
      { flags: '--ttl-hours <n>', description: 'dev only: lifetime in hours (default 7 days)' },
    ],
    flags: z.object({
      ...commonFlags,
      instance: instanceIdSchema.optional(),
      file: z.string().optional(),
      env: environmentSchema.optional(),
      tier: tierSchema.optional(),
      slug: slugSchema.optional(),
      domain: domainSchema.optional(),
      region: regionSchema.optional(),
      version: versionSchema.optional(),
      ttlHours: z.coerce.number().optional(),
    }),
    async prepare(flags, ctx) {
      const spec: InstanceSpec = flags.file
        ? await specFromFile(flags.file)
        : parseFlags(
            instanceSpecSchema,
            { id: flags.instance, environment: flags.env, tier: flags.tier, slug: flags.slug, domain: flags.domain, region: flags.region, version: flags.version },
            { ...ctx.labels, id: '<instance>', environment: '--env' },
          );
      const payload = parseFlags(createPayloadSchema, flags.ttlHours === undefined ? { spec } : { spec, ttlHours: flags.ttlHours }, { spec: '--file', ttlHours: '--ttl-hours' });
      const existing = await ctx.store().get<InstanceRecord>(paths.instance(spec.id));
      if (existing !== undefined) throw refused(`instance id ${spec.id} is in use (${existing.status})`);
      return {
        request: { type: 'instance.create', instanceId: spec.id, payload },
        summary: `${spec.id} (${spec.environment}, ${spec.region}, ${spec.version})`,
      };
    },
  }),

  lifecycleCommand({
    name: 'restore',
    description: 'restore an instance from named backups or to a point in time (a safety backup is taken first)',
    argument: INSTANCE,
    options: [
      { flags: '--backup-run <id>', description: 'a Cloud SQL backup run id to restore in place' },
      { flags: '--gke-backup <name>', description: 'a GKE backup name to restore through a restore plan' },
      { flags: '--to-time <timestamp>', description: 'a point in time (ISO 8601) inside the recovery window' },
    ],
    flags: z
      .object({
        ...commonFlags,
        backupRun: z.string().optional(),
        gkeBackup: z.string().optional(),
        toTime: isoTimestampSchema.optional(),
      })
      .refine((f) => (f.toTime === undefined) !== (f.backupRun === undefined && f.gkeBackup === undefined), {
        error: 'give either --to-time, or --backup-run and/or --gke-backup',
        path: ['toTime'],
      }),
    async prepare(flags, ctx) {
      const source =
        flags.toTime !== undefined
          ? { kind: 'point-in-time' as const, time: flags.toTime }
          : {
              kind: 'backup' as const,
              ...(flags.backupRun === undefined ? {} : { cloudSqlBackupRunId: flags.backupRun }),
              ...(flags.gkeBackup === undefined ? {} : { gkeBackup: flags.gkeBackup }),
            };
      const payload = parseFlags(restorePayloadSchema, { source }, { source: '--backup-run/--gke-backup/--to-time' });
      const instance = await requireInstance(ctx.store(), flags.instance);
      checkAvailable(instance, ['active', 'failed', 'degraded']);
      return {
        request: { type: 'instance.restore', instanceId: instance.id, payload },
        summary: `${instance.id} (${source.kind === 'point-in-time' ? `to ${source.time}` : 'from backup'})`,
      };
    },
  }),

  lifecycleCommand({
    name: 'delete',
    description: 'delete an instance after final backups that outlive it; prod needs --confirm <slug> and a second person (mi approve)',
    argument: INSTANCE,
    options: [{ flags: '--confirm <slug>', description: 'prod: the instance slug, as confirmation' }],
    flags: z.object({ ...commonFlags, confirm: z.string().optional() }),
    async prepare(flags, ctx) {
      const instance = await requireInstance(ctx.store(), flags.instance);
      if (instance.environment === 'prod' && flags.confirm !== instance.slug) {
        throw refused(`deleting prod instance ${instance.id} needs --confirm ${instance.slug}; then a second person runs mi approve <operation>`);
      }
      checkAvailable(instance, ['active', 'failed', 'degraded']);
      return {
        request: { type: 'instance.delete', instanceId: instance.id, payload: flags.confirm === undefined ? {} : { confirmSlug: flags.confirm } },
        summary: instance.id,
        ...(instance.environment === 'prod' ? { notice: (operationId: string) => `a second person must approve: mi approve ${operationId}` } : {}),
      };
    },
  }),

  lifecycleCommand({
    name: 'dr',
    description: 'disaster recovery: rebuild the instance in another region from its latest backups',
    argument: INSTANCE,
    options: [{ flags: '--to-region <region>', description: 'the region to recover into', required: true }],
    flags: z.object({ ...commonFlags, toRegion: regionSchema }),
    async prepare(flags, ctx) {
      const instance = await requireInstance(ctx.store(), flags.instance);
      if (flags.toRegion === instance.region) throw refused(`--to-region: ${instance.id} already runs in ${instance.region}`);
      checkAvailable(instance, ['active', 'failed']);
      return {
        request: { type: 'instance.disaster-recovery', instanceId: instance.id, payload: { targetRegion: flags.toRegion } },
        summary: `${instance.id} (${instance.region} → ${flags.toRegion})`,
      };
    },
  }),
];

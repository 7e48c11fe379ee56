/**
 * `mi create`, `mi restore`, `mi delete`, `mi dr`: publish the lifecycle command after the
 * checks that need no backup service (the lifecycle function checks the rest, such as the
 * recovery window), and follow the operation with `--wait`.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  createPayloadSchema,
  environmentSchema,
  instanceIdSchema,
  instanceSpecSchema,
  isoTimestampSchema,
  makeEnvelope,
  regionSchema,
  restorePayloadSchema,
  tierSchema,
  versionSchema,
  slugSchema,
  domainSchema,
  type InstanceSpec,
} from '../../shared/events/index.js';
import type { CliContext } from '../context.js';
import { refused } from '../errors.js';
import { parseFlags } from '../flags.js';
import { requireInstance } from './instance.js';
import type { InstanceRecord } from '../../shared/events/index.js';
import { addCommonOptions, checkAvailable, commonFlags, envelopeOf, publishAndFollow } from './operations.js';
import { paths } from '../../shared/store/collections.js';

const LABELS: Record<string, string> = {
  instance: '<instance>',
  reason: '--reason',
  timeout: '--timeout',
  file: '--file',
  env: '--env',
  tier: '--tier',
  slug: '--slug',
  domain: '--domain',
  region: '--region',
  version: '--version',
  ttlHours: '--ttl-hours',
  backupRun: '--backup-run',
  gkeBackup: '--gke-backup',
  toTime: '--to-time',
  confirm: '--confirm',
  toRegion: '--to-region',
};

const createFlags = z.object({
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
});

const restoreFlags = z
  .object({
    ...commonFlags,
    backupRun: z.string().optional(),
    gkeBackup: z.string().optional(),
    toTime: isoTimestampSchema.optional(),
  })
  .refine((f) => (f.toTime === undefined) !== (f.backupRun === undefined && f.gkeBackup === undefined), {
    error: 'give either --to-time, or --backup-run and/or --gke-backup',
    path: ['toTime'],
  });

const deleteFlags = z.object({ ...commonFlags, confirm: z.string().optional() });
const drFlags = z.object({ ...commonFlags, toRegion: regionSchema });

/** Reads a config.yaml (the deployment repository's instance spec) and checks it by schema. */
async function specFromFile(path: string): Promise<InstanceSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw refused(`--file: cannot read ${path}: ${(error as Error).message}`, error);
  }
  let value: unknown;
  try {
    // YAML turns an unquoted timestamp into a Date: the spec wants the text.
    value = JSON.parse(JSON.stringify(parseYaml(text)));
  } catch (error) {
    throw refused(`--file: ${path} is not YAML: ${(error as Error).message}`, error);
  }
  const parsed = instanceSpecSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw refused(`--file: ${path}: ${issue?.path.join('.') || 'spec'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** Registers the lifecycle commands of the issue after upgrade and backup. */
export function registerLifecycleCommands(program: Command, ctx: CliContext): void {
  addCommonOptions(
    program
      .command('create')
      .description('create an instance: provision it, put both backups under policy, verify, activate')
      .argument('[instance]', 'the instance id (or id: in --file)')
      .option('-f, --file <config.yaml>', 'the instance spec, as in the deployment repository')
      .option('--env <environment>', 'dev or prod')
      .option('--tier <tier>', 'internal or customer (every dev instance is internal)', 'internal')
      .option('--slug <slug>', 'unique within the environment')
      .option('--domain <domain>', 'such as acme.example.com')
      .option('--region <region>', 'such as us-central1')
      .option('--version <version>', 'the application version to provision')
      .option('--ttl-hours <n>', 'dev only: lifetime in hours (default 7 days)'),
  ).action(async (id: string | undefined, _options: unknown, command: Command) => {
    const flags = parseFlags(createFlags, { ...command.opts(), instance: id }, LABELS);
    const spec: InstanceSpec = flags.file
      ? await specFromFile(flags.file)
      : parseFlags(
          instanceSpecSchema,
          { id: flags.instance, environment: flags.env, tier: flags.tier, slug: flags.slug, domain: flags.domain, region: flags.region, version: flags.version },
          { ...LABELS, id: '<instance>', environment: '--env' },
        );
    const payload = parseFlags(createPayloadSchema, flags.ttlHours === undefined ? { spec } : { spec, ttlHours: flags.ttlHours }, { spec: '--file', ttlHours: '--ttl-hours' });
    const backend = ctx.backend(command);
    const existing = await backend.store.get<InstanceRecord>(paths.instance(spec.id));
    if (existing !== undefined) throw refused(`instance id ${spec.id} is in use (${existing.status})`);
    const envelope = envelopeOf(() => makeEnvelope({ type: 'instance.create', instanceId: spec.id, payload, actor: ctx.actor(), reason: flags.reason }));
    await publishAndFollow(ctx, command, envelope, flags, `${spec.id} (${spec.environment}, ${spec.region}, ${spec.version})`);
  });

  addCommonOptions(
    program
      .command('restore')
      .description('restore an instance from named backups or to a point in time (a safety backup is taken first)')
      .argument('<instance>', 'the instance id')
      .option('--backup-run <id>', 'a Cloud SQL backup run id to restore in place')
      .option('--gke-backup <name>', 'a GKE backup name to restore through a restore plan')
      .option('--to-time <timestamp>', 'a point in time (ISO 8601) inside the recovery window'),
  ).action(async (id: string, _options: unknown, command: Command) => {
    const flags = parseFlags(restoreFlags, { ...command.opts(), instance: id }, LABELS);
    const source =
      flags.toTime !== undefined
        ? { kind: 'point-in-time' as const, time: flags.toTime }
        : {
            kind: 'backup' as const,
            ...(flags.backupRun === undefined ? {} : { cloudSqlBackupRunId: flags.backupRun }),
            ...(flags.gkeBackup === undefined ? {} : { gkeBackup: flags.gkeBackup }),
          };
    const payload = parseFlags(restorePayloadSchema, { source }, { source: '--backup-run/--gke-backup/--to-time' });
    const instance = await requireInstance(ctx.backend(command).store, flags.instance);
    checkAvailable(instance, ['active', 'failed']);
    const envelope = envelopeOf(() => makeEnvelope({ type: 'instance.restore', instanceId: instance.id, payload, actor: ctx.actor(), reason: flags.reason }));
    await publishAndFollow(ctx, command, envelope, flags, `${instance.id} (${source.kind === 'point-in-time' ? `to ${source.time}` : 'from backup'})`);
  });

  addCommonOptions(
    program
      .command('delete')
      .description('delete an instance after final backups that outlive it; prod needs --confirm <slug> and a second person (mi approve)')
      .argument('<instance>', 'the instance id')
      .option('--confirm <slug>', 'prod: the instance slug, as confirmation'),
  ).action(async (id: string, _options: unknown, command: Command) => {
    const flags = parseFlags(deleteFlags, { ...command.opts(), instance: id }, LABELS);
    const instance = await requireInstance(ctx.backend(command).store, flags.instance);
    if (instance.environment === 'prod' && flags.confirm !== instance.slug) {
      throw refused(`deleting prod instance ${instance.id} needs --confirm ${instance.slug}; then a second person runs mi approve <operation>`);
    }
    checkAvailable(instance, ['active', 'failed']);
    const envelope = envelopeOf(() =>
      makeEnvelope({
        type: 'instance.delete',
        instanceId: instance.id,
        payload: flags.confirm === undefined ? {} : { confirmSlug: flags.confirm },
        actor: ctx.actor(),
        reason: flags.reason,
      }),
    );
    if (instance.environment === 'prod' && !flags.json) {
      ctx.io.stdout.write(`a second person must approve: mi approve op-${envelope.eventId}\n`);
    }
    await publishAndFollow(ctx, command, envelope, flags, instance.id);
  });

  addCommonOptions(
    program
      .command('dr')
      .description('disaster recovery: rebuild the instance in another region from its latest backups')
      .argument('<instance>', 'the instance id')
      .requiredOption('--to-region <region>', 'the region to recover into'),
  ).action(async (id: string, _options: unknown, command: Command) => {
    const flags = parseFlags(drFlags, { ...command.opts(), instance: id }, LABELS);
    const instance = await requireInstance(ctx.backend(command).store, flags.instance);
    if (flags.toRegion === instance.region) throw refused(`--to-region: ${instance.id} already runs in ${instance.region}`);
    checkAvailable(instance, ['active', 'failed']);
    const envelope = envelopeOf(() =>
      makeEnvelope({ type: 'instance.disaster-recovery', instanceId: instance.id, payload: { targetRegion: flags.toRegion }, actor: ctx.actor(), reason: flags.reason }),
    );
    await publishAndFollow(ctx, command, envelope, flags, `${instance.id} (${instance.region} → ${flags.toRegion})`);
  });
}

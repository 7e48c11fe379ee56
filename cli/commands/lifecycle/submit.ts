/**
 * `mi backup` and `mi upgrade`: publish a lifecycle command on `mi-lifecycle`, after checking
 * up front what the lifecycle function would refuse anyway (an unknown or busy instance, a
 * version that is not newer), and optionally follow the operation it starts (`--wait`).
 */
import type { Command } from 'commander';
import semver from 'semver';
import { z } from 'zod';
import { operationIdFor } from '../../shared/domain/lifecycle/operations.js';
import {
  DecodeError,
  backupPayloadSchema,
  instanceIdSchema,
  makeEnvelope,
  versionSchema,
  type Envelope,
  type EventType,
  type InstanceRecord,
} from '../../shared/events/index.js';
import { TOPICS } from '../../shared/topology.js';
import { DEFAULT_POLL_INTERVAL_MS, DEFAULT_REASON, DEFAULT_WAIT_TIMEOUT } from '../config.js';
import type { CliContext } from '../context.js';
import { refused } from '../errors.js';
import { durationSchema, parseFlags, reasonSchema } from '../flags.js';
import { line, printJson } from '../output.js';
import { waitForOperation } from '../wait.js';
import { requireInstance } from './instance.js';

export const commonFlags = {
  instance: instanceIdSchema,
  reason: reasonSchema,
  wait: z.boolean().optional(),
  timeout: durationSchema,
  json: z.boolean().optional(),
};

const backupFlags = z.object({ ...commonFlags, note: backupPayloadSchema.shape.note });
const upgradeFlags = z.object({ ...commonFlags, to: versionSchema });

const LABELS = { instance: '<instance>', reason: '--reason', timeout: '--timeout', note: '--note', to: '--to' };

/** Refuses what the lifecycle function would reject for any command: a busy or inactive instance. */
export function checkAvailable(instance: InstanceRecord, allowed: ReadonlyArray<InstanceRecord['status']> = ['active']): void {
  if (instance.lease !== null) {
    throw refused(
      `instance ${instance.id} is busy with ${instance.lease.operationType} operation ${instance.lease.operationId} (mi op get ${instance.lease.operationId} shows it)`,
    );
  }
  if (!allowed.includes(instance.status)) throw refused(`instance ${instance.id} is ${instance.status}, not ${allowed.join(' or ')}`);
}

/** Builds the envelope; a value the schema refuses (such as the actor) is reported by field. */
export function envelopeOf<T extends EventType>(build: () => Envelope<T>): Envelope<T> {
  try {
    return build();
  } catch (error) {
    if (error instanceof DecodeError) {
      const hint = error.field === 'actor' ? ' (set MI_ACTOR, or git config user.email)' : '';
      throw refused(`cannot build the command: ${error.message}${hint}`, error);
    }
    throw error;
  }
}

/** Publishes the command, reports it, and follows the operation when asked. */
export async function publishAndFollow(
  ctx: CliContext,
  command: Command,
  envelope: Envelope<EventType>,
  flags: { wait?: boolean | undefined; timeout: number; json?: boolean | undefined },
  summary: string,
): Promise<void> {
  const backend = ctx.backend(command);
  const { stdout } = ctx.io;
  const messageId = await backend.bus.publish(TOPICS.lifecycle, envelope);
  const operationId = operationIdFor(envelope.eventId);
  const published = { eventId: envelope.eventId, operationId, messageId, envelope };
  if (!flags.json) {
    line(stdout, `published ${envelope.type} for ${summary} (event ${envelope.eventId})`);
    line(stdout, `operation ${operationId}${flags.wait ? '' : `: follow it with mi op get ${operationId}`}`);
  }
  if (!flags.wait) {
    if (flags.json) printJson(stdout, published);
    return;
  }
  if (!flags.json) line(stdout, `waiting up to ${command.opts<{ timeout: string }>().timeout} (Ctrl-C stops waiting, not the operation)`);
  const result = await waitForOperation(backend.store, {
    operationId,
    eventId: envelope.eventId,
    timeoutMs: flags.timeout,
    pollIntervalMs: ctx.io.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
    ...(flags.json ? {} : { progress: stdout }),
  });
  if (flags.json) {
    printJson(stdout, {
      ...published,
      outcome: result.kind === 'ended' ? result.operation.status : result.kind,
      operation: result.kind === 'rejected' ? null : (result.operation ?? null),
      rejection: result.kind === 'rejected' ? result.ledger : null,
    });
  }
  ctx.exitCode = result.exitCode;
}

export function addCommonOptions(command: Command): Command {
  return command
    .option('--reason <text>', 'why: recorded with the operation and in the audit trail', DEFAULT_REASON)
    .option('--wait', 'follow the operation, showing its steps as they pass; exit 0 only if it succeeds')
    .option('--timeout <duration>', 'with --wait: how long to wait (such as 90s, 30m, 2h)', DEFAULT_WAIT_TIMEOUT)
    .option('--json', 'print what was published (and with --wait, the operation document as stored) as JSON');
}

/** Registers `mi backup` and `mi upgrade`. */
export function registerOperationCommands(program: Command, ctx: CliContext): void {
  addCommonOptions(
    program
      .command('backup')
      .description('take an on-demand backup of an instance (Cloud SQL and GKE)')
      .argument('<instance>', 'the instance id')
      .option('--note <text>', 'a note kept with the backup'),
  ).action(async (id: string, _options: unknown, command: Command) => {
    const flags = parseFlags(backupFlags, { ...command.opts(), instance: id }, LABELS);
    const instance = await requireInstance(ctx.backend(command).store, flags.instance);
    checkAvailable(instance);
    const envelope = envelopeOf(() =>
      makeEnvelope({
        type: 'instance.backup',
        instanceId: instance.id,
        payload: flags.note === undefined ? {} : { note: flags.note },
        actor: ctx.actor(),
        reason: flags.reason,
      }),
    );
    await publishAndFollow(ctx, command, envelope, flags, instance.id);
  });

  addCommonOptions(
    program
      .command('upgrade')
      .description('upgrade an instance to a newer version (both backups are taken and confirmed first)')
      .argument('<instance>', 'the instance id')
      .requiredOption('--to <version>', 'the version to run, such as 5.5.0'),
  ).action(async (id: string, _options: unknown, command: Command) => {
    const flags = parseFlags(upgradeFlags, { ...command.opts(), instance: id }, LABELS);
    const instance = await requireInstance(ctx.backend(command).store, flags.instance);
    if (semver.valid(instance.version) !== null && !semver.gt(flags.to, instance.version)) {
      throw refused(`--to ${flags.to} is not newer than ${instance.id}'s running version ${instance.version}`);
    }
    checkAvailable(instance);
    const envelope = envelopeOf(() =>
      makeEnvelope({
        type: 'instance.upgrade',
        instanceId: instance.id,
        payload: { targetVersion: flags.to },
        actor: ctx.actor(),
        reason: flags.reason,
      }),
    );
    await publishAndFollow(ctx, command, envelope, flags, `${instance.id} (${instance.version} → ${flags.to})`);
  });
}

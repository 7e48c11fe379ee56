/**
 * `mi backup list <instance>`: an instance's Cloud SQL backup runs and GKE backups, newest
 * first, with the ids `mi restore` takes. Asked of the commands function, which reads them with
 * the control plane's own account: finding a backup in an incident needs no access grant.
 */
import type { Command } from 'commander';
import * as z from 'zod';
import { instanceIdSchema } from '../../shared/events/index.js';
import { sendCommand } from '../commands-client.js';
import type { CliContext } from '../context.js';
import { refused } from '../errors.js';
import { parseFlags } from '../flags.js';
import { line, printJson, table } from '../output.js';
import { NO_INSTANCE_HERE } from '../working-instance.js';

const listFlags = z.object({ instance: instanceIdSchema.optional(), limit: z.coerce.number().int().min(1).max(200).default(20), json: z.boolean().optional() });

interface Backups {
  instanceId: string;
  sql: Array<{ id: string; type: string; status: string; enqueuedTime: string; endTime: string | null; description: string | null }>;
  gke: Array<{ name: string; state: string; manual: boolean; createTime: string; completeTime: string | null; retainExpireTime: string | null }>;
}

/** Adds `list` under the lifecycle `mi backup` (which takes one); registered after the lifecycle commands. */
export function registerBackupListCommand(program: Command, ctx: CliContext): void {
  const backup = program.commands.find((c) => c.name() === 'backup');
  if (backup === undefined) throw new Error('mi backup is not registered yet: register the lifecycle commands first');
  backup
    .command('list')
    .description("an instance's Cloud SQL backup runs and GKE backups, newest first, with the ids mi restore takes")
    .argument('[instance]', 'the instance id (default: the instance folder you stand in)')
    .option('--limit <n>', 'at most this many of each (default 20)')
    .option('--json', 'print them as JSON')
    .action(async (id: string | undefined, _options: unknown, command: Command) => {
      // mi backup's own --json is the same flag: commander hands it to the parent.
      const given: Record<string, unknown> = { ...command.optsWithGlobals<Record<string, unknown>>(), ...command.opts<Record<string, unknown>>() };
      const flags = parseFlags(listFlags, { limit: given.limit, json: given.json, instance: id ?? ctx.instanceHere() }, { instance: '[instance]', limit: '--limit' });
      if (flags.instance === undefined) throw refused(NO_INSTANCE_HERE);
      const answer = (await sendCommand(ctx, command, { command: 'backup.list', instanceId: flags.instance, limit: flags.limit }, { what: `listing ${flags.instance}'s backups`, idempotent: true })) as unknown as Backups;
      if (flags.json) {
        printJson(ctx.io.stdout, { instanceId: answer.instanceId, sql: answer.sql, gke: answer.gke });
        return;
      }
      line(ctx.io.stdout, `Cloud SQL backup runs of ${flags.instance} (mi restore ${flags.instance} --backup-run <ID> --gke-backup <NAME>):`);
      for (const text of table(['ID', 'TYPE', 'STATUS', 'ENQUEUED', 'ENDED'], answer.sql.map((r) => [r.id, r.type, r.status, r.enqueuedTime, r.endTime ?? '']))) line(ctx.io.stdout, `  ${text}`);
      line(ctx.io.stdout, 'GKE backups:');
      for (const text of table(['NAME', 'STATE', 'MANUAL', 'CREATED', 'COMPLETED'], answer.gke.map((b) => [b.name, b.state, b.manual ? 'yes' : 'no', b.createTime, b.completeTime ?? '']))) line(ctx.io.stdout, `  ${text}`);
    });
}

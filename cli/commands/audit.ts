/**
 * `mi audit <instance>` and `mi audit --op <operation>`: the audit trail of one instance or one
 * operation, oldest first: who (the verified caller, or the part of the control plane that acted),
 * whose word that is (origin), what changed, why.
 */
import type { Command } from 'commander';
import * as z from 'zod';
import { instanceIdSchema } from '../../shared/events/index.js';
import type { AuditRecord } from '../../shared/store/records.js';
import { indexedQuery } from '../../shared/topology.js';
import type { CliContext } from '../context.js';
import { refused } from '../errors.js';
import { operationIdSchema, parseFlags } from '../flags.js';
import { line, printJson, table } from '../output.js';
import { NO_INSTANCE_HERE } from '../working-instance.js';

const auditFlags = z.object({
  instance: instanceIdSchema.optional(),
  op: operationIdSchema.optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
  json: z.boolean().optional(),
});

/** What an entry says beyond who and what: its reason, or what it changed. */
function detailOf(entry: AuditRecord): string {
  const why = [entry.reason, entry.why].find((v) => typeof v === 'string' && v !== '');
  if (typeof why === 'string') return why;
  const after = entry.after === null ? '' : JSON.stringify(entry.after);
  return after.length > 80 ? `${after.slice(0, 77)}...` : after;
}

export function registerAuditCommand(program: Command, ctx: CliContext): void {
  program
    .command('audit')
    .description('the audit trail of an instance (default: the instance folder you stand in) or of one operation, oldest first')
    .argument('[instance]', 'the instance id')
    .option('--op <operation>', "one operation's trail instead")
    .option('--limit <n>', 'at most this many entries (default 500)')
    .option('--json', 'print the entries as stored')
    .action(async (id: string | undefined, _options: unknown, command: Command) => {
      const given = command.opts<{ op?: string }>();
      const flags = parseFlags(auditFlags, { ...command.opts(), instance: id ?? (given.op === undefined ? ctx.instanceHere() : undefined) }, { instance: '[instance]', op: '--op', limit: '--limit' });
      if (flags.instance !== undefined && flags.op !== undefined) throw refused('give an instance or --op, not both');
      if (flags.instance === undefined && flags.op === undefined) throw refused(`${NO_INSTANCE_HERE}, or --op <operation>`);
      const query = indexedQuery(flags.op !== undefined ? 'audit-of-operation' : 'audit-of-instance');
      const field = flags.op !== undefined ? 'operationId' : 'instanceId';
      const docs = await ctx.backend(command).store.query<AuditRecord>({
        collection: query.collection,
        where: [{ field, op: '==', value: flags.op ?? flags.instance }],
        orderBy: [{ field: 'at', direction: 'asc' }],
        limit: flags.limit,
      });
      const entries = docs.map((d) => d.data);
      if (flags.json) {
        printJson(ctx.io.stdout, entries);
        return;
      }
      if (entries.length === 0) {
        line(ctx.io.stdout, `no audit entries for ${flags.op ?? flags.instance ?? ''}`);
        return;
      }
      const rows = entries.map((e) => [e.at, e.actor, typeof e.origin === 'string' ? e.origin : '', e.action, e.operationId ?? '', detailOf(e)]);
      for (const text of table(['AT', 'WHO', 'ORIGIN', 'ACTION', 'OPERATION', 'WHY / WHAT'], rows)) line(ctx.io.stdout, text);
    });
}

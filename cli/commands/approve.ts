/**
 * `mi approve <operation>`: the second person's approval of an operation that waits for one (a
 * prod delete). The commands function takes the approver from the caller's verified Google ID
 * token and refuses the requester's own.
 */
import type { Command } from 'commander';
import * as z from 'zod';
import { sendCommand } from '../commands-client.js';
import type { CliContext } from '../context.js';
import { operationIdSchema, parseFlags } from '../flags.js';
import { line, printJson } from '../output.js';

const approveFlags = z.object({ operation: operationIdSchema, json: z.boolean().optional() });

/** Registers `mi approve`. */
export function registerApproveCommand(program: Command, ctx: CliContext): void {
  program
    .command('approve')
    .description('approve an operation that waits for a second person (a prod delete); you are identified by your Google ID token, and cannot approve your own')
    .argument('<operation>', 'the operation id (op-<event id>)')
    .option('--json', "print the function's answer as JSON")
    .action(async (id: string, _options: unknown, command: Command) => {
      const flags = parseFlags(approveFlags, { ...command.opts(), operation: id }, { operation: '<operation>' });
      const answer = await sendCommand(ctx, command, { command: 'operation.approve', operationId: flags.operation }, { what: `approving ${flags.operation}`, idempotent: false });
      if (flags.json) printJson(ctx.io.stdout, answer);
      else line(ctx.io.stdout, `approved ${typeof answer.approved === 'string' ? answer.approved : flags.operation} as ${answer.by ?? 'you'}; it goes on (mi op get ${flags.operation})`);
    });
}

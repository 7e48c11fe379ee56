/**
 * `mi op get` and `mi op abandon`: one operation, and the operator's way out of a stuck one
 * (asked of the commands function, which releases the lease as the verified caller).
 */
import type { Command } from 'commander';
import { z } from 'zod';
import type { OperationRecord } from '../../shared/domain/lifecycle/operations.js';
import type { InstanceRecord } from '../../shared/events/index.js';
import type { StateStore } from '../../shared/ports.js';
import { sendCommand } from '../commands-client.js';
import type { CliContext } from '../context.js';
import { refused } from '../errors.js';
import { operationIdSchema, parseFlags, reasonSchema } from '../flags.js';
import { line, operationDetails, printJson } from '../output.js';
import { paths } from '../../shared/store/collections.js';

const LABELS = { operation: '<operation>', reason: '--reason' };

const getFlags = z.object({ operation: operationIdSchema, json: z.boolean().optional() });
const abandonFlags = z.object({ operation: operationIdSchema, reason: reasonSchema, json: z.boolean().optional() });

async function requireOperation(store: StateStore, id: string): Promise<OperationRecord> {
  const op = await store.get<OperationRecord>(paths.operation(id));
  if (op === undefined) throw refused(`no operation ${id} (mi instance get <instance> lists an instance's recent operations)`);
  return op;
}

/** Registers `mi op …`. */
export function registerOpCommands(program: Command, ctx: CliContext): void {
  const op = program.command('op').description('look at and act on lifecycle operations');

  op.command('get')
    .description('show an operation and its steps')
    .argument('<operation>', 'the operation id (op-<event id>)')
    .option('--json', 'print the operation document as stored')
    .action(async (id: string, _options: unknown, command: Command) => {
      const flags = parseFlags(getFlags, { ...command.opts(), operation: id }, LABELS);
      const found = await requireOperation(ctx.backend(command).store, flags.operation);
      if (flags.json) {
        printJson(ctx.io.stdout, found);
        return;
      }
      for (const text of operationDetails(found)) line(ctx.io.stdout, text);
    });

  op.command('abandon')
    .description("give up on a stuck operation: releases the instance's lease, recorded with who and why")
    .argument('<operation>', 'the operation id (op-<event id>)')
    .requiredOption('--reason <text>', 'why it is safe to give up (recorded in the audit trail)')
    .option('--json', 'print the abandoned operation document')
    .action(async (id: string, _options: unknown, command: Command) => {
      const flags = parseFlags(abandonFlags, { ...command.opts(), operation: id }, LABELS);
      const answer = await sendCommand(ctx, command, { command: 'operation.abandon', operationId: flags.operation, reason: flags.reason }, { what: `abandoning ${flags.operation}`, idempotent: false });
      const store = ctx.backend(command).store;
      const abandoned = await requireOperation(store, flags.operation);
      if (flags.json) {
        printJson(ctx.io.stdout, abandoned);
        return;
      }
      const instance = await store.get<InstanceRecord>(paths.instance(abandoned.instanceId));
      line(ctx.io.stdout, `abandoned ${abandoned.type} ${abandoned.id} on ${abandoned.instanceId}, recorded as by ${answer.by ?? 'you'}: ${flags.reason}`);
      line(ctx.io.stdout, `lease released; ${abandoned.instanceId} is ${instance?.status ?? 'missing'}`);
    });
}

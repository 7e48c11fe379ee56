/**
 * `mi op get` and `mi op abandon`: one operation, and the operator's way out of a stuck one.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import type { OperationRecord } from '../../shared/domain/lifecycle/operations.js';
import { createEngine } from '../../shared/engine/index.js';
import { ControlPlaneError } from '../../shared/errors.js';
import type { InstanceRecord } from '../../shared/events/index.js';
import { systemClock, type CloudSqlPort, type ExecutorPort, type GkeBackupPort, type StateStore } from '../../shared/ports.js';
import type { CliContext } from '../context.js';
import { refused } from '../errors.js';
import { operationIdSchema, parseFlags, reasonSchema } from '../flags.js';
import { line, operationDetails, printJson } from '../output.js';
import { paths } from '../../shared/store/collections.js';

const LABELS = { operation: '<operation>', reason: '--reason' };

const getFlags = z.object({ operation: operationIdSchema, json: z.boolean().optional() });
const abandonFlags = z.object({ operation: operationIdSchema, reason: reasonSchema, json: z.boolean().optional() });

/**
 * A port `mi` never calls: abandoning only touches the store and the bus, so the cloud
 * clients (and their cold start) stay out of the CLI. Any call is a bug, and says so.
 */
function notUsed<T extends object>(port: string): T {
  return new Proxy({} as T, {
    get(_target, property) {
      // Not a thenable: something awaiting the port itself must not call a throwing `then`.
      if (property === 'then') return undefined;
      return () => {
        throw new Error(`${port}.${String(property)} is not used by mi`);
      };
    },
  });
}

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
      const backend = ctx.backend(command);
      const engine = createEngine({
        store: backend.store,
        bus: backend.bus,
        cloudSql: notUsed<CloudSqlPort>('cloudSql'),
        gkeBackup: notUsed<GkeBackupPort>('gkeBackup'),
        executor: notUsed<ExecutorPort>('executor'),
        clock: systemClock,
      });
      const actor = ctx.actor();
      let abandoned: OperationRecord;
      try {
        abandoned = await engine.abandon(flags.operation, actor, flags.reason);
      } catch (error) {
        if (error instanceof ControlPlaneError && error.code === 'not-found') {
          throw refused(`no operation ${flags.operation} (mi instance get <instance> lists an instance's recent operations)`, error);
        }
        if (error instanceof ControlPlaneError && error.code === 'failed-precondition') throw refused(error.message, error);
        throw error;
      }
      if (flags.json) {
        printJson(ctx.io.stdout, abandoned);
        return;
      }
      const instance = await backend.store.get<InstanceRecord>(paths.instance(abandoned.instanceId));
      line(ctx.io.stdout, `abandoned ${abandoned.type} ${abandoned.id} on ${abandoned.instanceId}, recorded as by ${actor}: ${flags.reason}`);
      line(ctx.io.stdout, `lease released; ${abandoned.instanceId} is ${instance?.status ?? 'missing'}`);
    });
}

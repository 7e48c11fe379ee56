/**
 * `mi op list`, `mi op get` and `mi op abandon`: the operations to find one among, one
 * operation, and the operator's way out of a stuck one (asked of the commands function, which
 * releases the lease as the verified caller).
 */
import type { Command } from 'commander';
import * as z from 'zod';
import { OPERATION_STATUSES, OPERATION_TYPES, type OperationRecord } from '../../shared/domain/lifecycle/operations.js';
import { instanceIdSchema, type InstanceRecord } from '../../shared/events/index.js';
import { systemClock, type StateStore } from '../../shared/ports.js';
import { indexedQuery } from '../../shared/topology.js';
import { sendCommand } from '../commands-client.js';
import type { CliContext } from '../context.js';
import { refused } from '../errors.js';
import { durationSchema, operationIdSchema, parseFlags, reasonSchema } from '../flags.js';
import { line, operationDetails, printJson, table } from '../output.js';
import { COLLECTIONS, paths } from '../../shared/store/collections.js';

const LABELS = { operation: '<operation>', reason: '--reason', instance: '[instance]', status: '--status', type: '--type', since: '--since', limit: '--limit' };

/** The most operations a filtered list reads to find its matches. */
const SCANNED = 1000;

const listFlags = z.object({
  instance: instanceIdSchema.optional(),
  status: z.enum(OPERATION_STATUSES, { error: `expected one of ${OPERATION_STATUSES.join(', ')}` }).optional(),
  type: z.enum(OPERATION_TYPES, { error: `expected one of ${OPERATION_TYPES.join(', ')}` }).optional(),
  since: durationSchema.optional(),
  limit: z.coerce.number().int().min(1).max(SCANNED).default(20),
  json: z.boolean().optional(),
  wide: z.boolean().optional(),
});

const getFlags = z.object({ operation: operationIdSchema, json: z.boolean().optional() });
const abandonFlags = z.object({ operation: operationIdSchema, reason: reasonSchema, json: z.boolean().optional() });

async function requireOperation(store: StateStore, id: string): Promise<OperationRecord> {
  const op = await store.get<OperationRecord>(paths.operation(id));
  if (op === undefined) throw refused(`no operation ${id} (mi instance get <instance> lists an instance's recent operations)`);
  return op;
}

/** The operations a list asks for, newest first: one instance's, or one status's, or the fleet's; the type filtered as they are read. */
async function listOperations(store: StateStore, flags: z.output<typeof listFlags>, now: Date): Promise<{ operations: OperationRecord[]; scanned: number }> {
  const since = flags.since === undefined ? [] : [{ field: 'createdAt', op: '>=' as const, value: new Date(now.getTime() - flags.since).toISOString() }];
  const byIndex = flags.instance !== undefined ? indexedQuery('operations-of-instance') : flags.status !== undefined ? indexedQuery('operations-by-status') : undefined;
  const where = [
    ...(flags.instance !== undefined ? [{ field: 'instanceId', op: '==' as const, value: flags.instance }] : []),
    ...(flags.instance === undefined && flags.status !== undefined ? [{ field: 'status', op: '==' as const, value: flags.status }] : []),
    ...since,
  ];
  const filtered = flags.type !== undefined || (flags.instance !== undefined && flags.status !== undefined);
  const docs = await store.query<OperationRecord>({ collection: byIndex?.collection ?? COLLECTIONS.operations, where, orderBy: [{ field: 'createdAt', direction: 'desc' }], limit: filtered ? SCANNED : flags.limit });
  const operations = docs
    .map((d) => d.data)
    .filter((o) => (flags.type === undefined || o.type === flags.type) && (flags.status === undefined || o.status === flags.status))
    .slice(0, flags.limit);
  return { operations, scanned: docs.length };
}

/** Registers `mi op …`. */
export function registerOpCommands(program: Command, ctx: CliContext): void {
  const op = program.command('op').description('look at and act on lifecycle operations');

  op.command('list')
    .description("operations newest first: one instance's (default: the instance folder you stand in), or the fleet's")
    .argument('[instance]', 'the instance id')
    .option('--status <status>', `only in this status (${OPERATION_STATUSES.join(', ')})`)
    .option('--type <type>', `only of this type (${OPERATION_TYPES.join(', ')})`)
    .option('--since <duration>', 'only created within this long, e.g. 24h')
    .option('--limit <n>', 'at most this many (default 20)')
    .option('--json', 'print the operation documents')
    .option('--wide', 'more columns: the reason, the failed step and why, the rollout (-o wide)')
    .action(async (id: string | undefined, _options: unknown, command: Command) => {
      const flags = parseFlags(listFlags, { ...command.opts(), instance: id ?? ctx.instanceHere() }, LABELS);
      const { operations, scanned } = await listOperations(ctx.backend(command).store, flags, systemClock.now());
      if (flags.json) {
        printJson(ctx.io.stdout, operations);
        return;
      }
      if (operations.length === 0) {
        line(ctx.io.stdout, `no operations${flags.instance === undefined ? '' : ` of ${flags.instance}`} match`);
        return;
      }
      const head = ['OPERATION', 'INSTANCE', 'TYPE', 'STATUS', 'ACTOR', 'ORIGIN', 'CREATED', 'FINISHED'];
      const row = (o: OperationRecord) => [o.id, o.instanceId, o.type, o.status, o.actor, o.origin ?? 'unattributed', o.createdAt, o.finishedAt ?? ''];
      const wide = (o: OperationRecord) => [...row(o), o.reason, o.failure === null ? '-' : `${o.failure.step}: ${o.failure.reason.slice(0, 120)}`, o.rolloutId ?? '-'];
      const rendered = flags.wide === true ? table([...head, 'REASON', 'FAILURE', 'FAN-OUT'], operations.map(wide)) : table(head, operations.map(row));
      for (const text of rendered) line(ctx.io.stdout, text);
      if (scanned >= SCANNED && operations.length < flags.limit) line(ctx.io.stdout, `(the latest ${SCANNED} read; narrow with --since or an instance to see further back)`);
    });

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
      for (const text of leftBehind(abandoned)) line(ctx.io.stdout, text);
    });
}

/**
 * What an abandoned operation may have left for a person: a run cut off part-way (a build that
 * timed out or was cancelled) may hold its Terraform state lock, which the next run would wait on.
 */
export function leftBehind(operation: OperationRecord): string[] {
  const interrupted = operation.steps.filter((s) => s.status === 'failed' && s.kind === 'executor-run' && s.mayHaveStarted === true && (s.error ?? '').includes('was interrupted'));
  if (interrupted.length === 0) return [];
  return [
    'before anything else runs on this instance, release what the interrupted run may hold:',
    ...interrupted.map((s) => `  ${s.name}: ${s.error ?? ''}`),
  ];
}

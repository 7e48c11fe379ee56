/**
 * `mi instance list` and `mi instance get`: the fleet as Firestore holds it.
 */
import { registerOntoCommands } from './onto.js';
import { NO_INSTANCE_HERE } from '../working-instance.js';
import type { Command } from 'commander';
import * as z from 'zod';
import type { OperationRecord } from '../../shared/domain/lifecycle/operations.js';
import {
  INSTANCE_STATUSES,
  environmentSchema,
  instanceIdSchema,
  slugSchema,
  type InstanceRecord,
} from '../../shared/events/index.js';
import type { StateStore } from '../../shared/ports.js';
import { indexedQuery } from '../../shared/topology.js';
import { DEFAULT_PAGE_SIZE } from '../config.js';
import type { CliContext } from '../context.js';
import { refused } from '../errors.js';
import { parseFlags } from '../flags.js';
import { instanceDetails, instanceTable, line, printJson } from '../output.js';
import { COLLECTIONS, paths } from '../../shared/store/collections.js';

/** Reads an instance; an unknown (or deleted) one is refused with a pointer to the fleet. */
export async function requireInstance(store: StateStore, id: string, options: { allowDeleted?: boolean } = {}): Promise<InstanceRecord> {
  const instance = await store.get<InstanceRecord>(paths.instance(id));
  if (instance === undefined) throw refused(`no instance ${id} (mi instance list shows the fleet)`);
  if (instance.status === 'deleted' && options.allowDeleted !== true) throw refused(`instance ${id} was deleted (mi instance list shows the fleet)`);
  return instance;
}

const statusSchema = z.enum(INSTANCE_STATUSES, { error: `expected one of ${INSTANCE_STATUSES.join(', ')}` });

const listFlags = z.object({
  environment: environmentSchema.optional(),
  status: statusSchema.optional(),
  json: z.boolean().optional(),
  wide: z.boolean().optional(),
});

const getFlags = z.object({
  instance: instanceIdSchema.optional(),
  environment: environmentSchema.optional(),
  slug: slugSchema.optional(),
  json: z.boolean().optional(),
});

const LABELS = { instance: '<instance>', environment: '--environment', slug: '--slug', status: '--status' };

/** Every instance matching the filters, page by page in id order. */
async function listInstances(store: StateStore, where: Array<{ field: string; op: '=='; value: string }>, pageSize: number): Promise<InstanceRecord[]> {
  const all: InstanceRecord[] = [];
  let after: string | undefined;
  for (;;) {
    // Firestore orders by document id when no order is given, and the cursor pages on it.
    const page = await store.query<InstanceRecord>({
      collection: COLLECTIONS.instances,
      where,
      limit: pageSize,
      ...(after === undefined ? {} : { startAfterId: after }),
    });
    all.push(...page.map((doc) => doc.data));
    after = page.at(-1)?.id;
    if (page.length < pageSize || after === undefined) return all;
  }
}

/** The latest operations of one instance (the registered `operations-of-instance` query). */
async function recentOperations(store: StateStore, instanceId: string, limit = 5): Promise<OperationRecord[]> {
  const query = indexedQuery('operations-of-instance');
  const docs = await store.query<OperationRecord>({
    collection: query.collection,
    where: [{ field: 'instanceId', op: '==', value: instanceId }],
    orderBy: [{ field: 'createdAt', direction: 'desc' }],
    limit,
  });
  return docs.map((doc) => doc.data);
}

/** Finds the instance with a slug in an environment. */
async function instanceBySlug(store: StateStore, environment: string, slug: string): Promise<InstanceRecord> {
  const docs = await store.query<InstanceRecord>({
    collection: COLLECTIONS.instances,
    where: [
      { field: 'environment', op: '==', value: environment },
      { field: 'slug', op: '==', value: slug },
    ],
    limit: 10,
  });
  // A deleted instance may have left its slug to a new one: the live one wins.
  const live = docs.filter((doc) => doc.data.status !== 'deleted');
  const candidates = live.length > 0 ? live : docs;
  const [first, second] = candidates;
  if (first === undefined) throw refused(`no instance with slug ${slug} in ${environment} (mi instance list -e ${environment} shows them)`);
  if (second !== undefined) {
    throw refused(`slug ${slug} in ${environment} names several instances (${candidates.map((d) => d.id).join(', ')}): ask by id`);
  }
  return first.data;
}

/** Registers `mi instance …`. */
export function registerInstanceCommands(program: Command, ctx: CliContext): void {
  const instance = program.command('instance').description('query the fleet of managed instances, and get onto one');
  registerOntoCommands(instance, ctx);

  instance
    .command('list')
    .description('list instances (id, env, tier, slug, version, status, lease), sorted by id')
    .option('-e, --environment <env>', 'only this environment: dev or prod')
    .option('--status <status>', `only this status: ${INSTANCE_STATUSES.join(', ')}`)
    .option('--json', 'print the instance documents as stored, as one JSON array')
    .option('--wide', 'more columns: region, domain, maintenance window, expiry, last change (-o wide)')
    .action(async (_options: unknown, command: Command) => {
      const flags = parseFlags(listFlags, command.opts(), LABELS);
      const where: Array<{ field: string; op: '=='; value: string }> = [];
      if (flags.environment) where.push({ field: 'environment', op: '==', value: flags.environment });
      if (flags.status) where.push({ field: 'status', op: '==', value: flags.status });
      const instances = await listInstances(ctx.backend(command).store, where, ctx.io.pageSize ?? DEFAULT_PAGE_SIZE);
      if (flags.json) {
        printJson(ctx.io.stdout, instances);
        return;
      }
      if (instances.length === 0) {
        line(ctx.io.stdout, where.length === 0 ? 'no instances' : 'no instances match');
        return;
      }
      for (const text of instanceTable(instances, { wide: flags.wide === true })) line(ctx.io.stdout, text);
    });

  instance
    .command('get')
    .description('show one instance, by id, by environment and slug, or the one whose folder of the deployment repository you stand in')
    .argument('[instance]', 'the instance id (default: the instance folder you stand in)')
    .option('-e, --environment <env>', 'with --slug: the environment, dev or prod')
    .option('--slug <slug>', 'with -e: the slug, unique within its environment')
    .option('--json', 'print the instance document as stored')
    .action(async (id: string | undefined, _options: unknown, command: Command) => {
      const given = command.opts<{ environment?: string; slug?: string }>();
      // An explicit id or -e/--slug wins over the folder mi stands in.
      const here = id === undefined && given.environment === undefined && given.slug === undefined ? ctx.instanceHere() : undefined;
      const flags = parseFlags(getFlags, { ...command.opts(), instance: id ?? here }, LABELS);
      const bySlug = flags.environment !== undefined || flags.slug !== undefined;
      if (flags.instance !== undefined && bySlug) throw refused('give an instance id, or -e <env> --slug <slug>, not both');
      if (flags.instance === undefined && !(flags.environment !== undefined && flags.slug !== undefined)) {
        throw refused(`${NO_INSTANCE_HERE}, or both -e <env> and --slug <slug>`);
      }
      const store = ctx.backend(command).store;
      const found =
        flags.instance !== undefined
          ? await requireInstance(store, flags.instance, { allowDeleted: true })
          : await instanceBySlug(store, flags.environment ?? '', flags.slug ?? '');
      if (flags.json) {
        // `metadata.name` is the id, as mi2's documents carried it (scripts read it), beside the stored fields.
        printJson(ctx.io.stdout, { metadata: { name: found.id }, ...found });
        return;
      }
      for (const text of instanceDetails(found, await recentOperations(store, found.id))) line(ctx.io.stdout, text);
    });
}

/**
 * `mi apply list`, `show`, `diff` and `confirm`: the module applies the deployment repository's
 * merges asked for. The list reads `moduleApplies` and groups what waits by module and commit, with
 * the plan summaries; show is one apply with its plan's digest and the raw plan; diff groups one
 * change's plans by their shape and prints each distinct plan once. The raw plans are read from
 * the plans bucket by the commands function (people hold no grant on it). A confirmation goes to
 * the commands function too, which records who confirmed from the caller's verified Google ID token.
 */
import type { Command } from 'commander';
import * as z from 'zod';
import { ACTIVE_APPLY_STATUSES, INSTANCE_DELETE_MODULE, WAVES, groupPlansByShape, type ModuleApplyRecord } from '../../shared/domain/deployments/applies.js';
import { moduleChangeId, type RolloutRecord } from '../../shared/domain/rollout/index.js';
import { refused } from '../errors.js';
import { deploymentPaths, rolloutPaths } from '../../shared/store/collections.js';
import { sendCommand } from '../commands-client.js';
import type { CliContext } from '../context.js';
import { parseFlags } from '../flags.js';
import { line, printJson, table } from '../output.js';
import { COLLECTIONS } from '../../shared/store/collections.js';


const listFlags = z.object({ all: z.boolean().optional(), json: z.boolean().optional() });
const showFlags = z.object({ id: z.string().regex(/^[a-z0-9][a-z0-9._()-]{0,200}$/, { error: 'expected a module apply id (mi apply list shows them)' }), plan: z.boolean(), json: z.boolean().optional() });
const diffFlags = z.object({
  module: z.string({ error: 'give --module' }).regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { error: 'expected a module name' }),
  commit: z.string({ error: 'give --commit' }).regex(/^[0-9a-f]{7,64}$/, { error: 'expected a commit id (at least 7 hex digits)' }),
  plan: z.boolean(),
  json: z.boolean().optional(),
});

/** A saved plan's text as the commands function read it from the plans bucket. */
interface PlanText {
  applyId: string;
  object: string;
  text: string;
  bytes: number;
  truncated: boolean;
}

/** Reads an apply's saved plan through the commands function (which holds the grant on the plans bucket). */
async function readPlanText(ctx: CliContext, command: Command, applyId: string): Promise<PlanText> {
  return (await sendCommand(ctx, command, { command: 'apply.plan', applyId }, { what: `reading the saved plan of ${applyId}`, idempotent: true })) as unknown as PlanText;
}

/** The raw plan, between two rules that name where it was read from. */
function printPlanText(ctx: CliContext, plan: PlanText): void {
  line(ctx.io.stdout, `--- ${plan.object}${plan.truncated ? ` (its first ${plan.bytes} bytes: the plan is longer)` : ''}`);
  ctx.io.stdout.write(plan.text.endsWith('\n') ? plan.text : `${plan.text}\n`);
  line(ctx.io.stdout, '---');
}

function planCounts(apply: ModuleApplyRecord): string {
  const p = apply.plan;
  return p?.add === undefined ? '-' : `+${p.add} ~${p.change ?? 0} -${p.destroy ?? 0}`;
}
const confirmFlags = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._()-]{0,200}$/, { error: 'expected a module apply id (mi apply list shows them)' }).optional(),
    module: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { error: 'expected a module name' }).optional(),
    commit: z.string().regex(/^[0-9a-f]{7,64}$/, { error: 'expected a commit id (at least 7 hex digits)' }).optional(),
    json: z.boolean().optional(),
  })
  .refine((f) => (f.id !== undefined) !== (f.module !== undefined || f.commit !== undefined), { error: 'give an apply id, or --module and --commit (not both)' })
  .refine((f) => f.id !== undefined || (f.module !== undefined && f.commit !== undefined), { error: '--module and --commit go together' });

/** Groups applies by module and commit, newest commit first. */
export function groupApplies(applies: readonly ModuleApplyRecord[]): Array<{ module: string; commit: string; applies: ModuleApplyRecord[] }> {
  const groups = new Map<string, { module: string; commit: string; committedAt: string; applies: ModuleApplyRecord[] }>();
  for (const apply of applies) {
    const key = `${apply.module}\n${apply.commit}`;
    const group = groups.get(key) ?? { module: apply.module, commit: apply.commit, committedAt: apply.committedAt, applies: [] };
    group.applies.push(apply);
    groups.set(key, group);
  }
  return [...groups.values()]
    .sort((a, b) => b.committedAt.localeCompare(a.committedAt) || a.module.localeCompare(b.module))
    .map(({ module, commit, applies: list }) => ({ module, commit, applies: list.sort((x, y) => x.wave - y.wave || x.instanceId.localeCompare(y.instanceId)) }));
}

/** Registers `mi apply list` and `mi apply confirm`. */
export function registerApplyCommands(program: Command, ctx: CliContext): void {
  const apply = program.command('apply').description('module applies asked for by merges on the deployment repository');

  apply
    .command('list')
    .description('what waits (plans to confirm, applies waiting for their wave), grouped by module and commit with the plan summaries')
    .option('--all', 'also applied, failed, halted and superseded ones')
    .option('--json', 'print the applies as JSON')
    .action(async (_options: unknown, command: Command) => {
      const flags = parseFlags(listFlags, command.opts(), {});
      const { store } = ctx.backend(command);
      const docs = await store.query<ModuleApplyRecord>({
        collection: COLLECTIONS.moduleApplies,
        ...(flags.all ? { limit: 1000 } : { where: [{ field: 'status', op: 'in', value: ACTIVE_APPLY_STATUSES }], limit: 1000 }),
      });
      const groups = groupApplies(docs.map((d) => d.data));
      if (flags.json) {
        printJson(ctx.io.stdout, groups);
        return;
      }
      if (groups.length === 0) {
        line(ctx.io.stdout, 'nothing waits: no module apply is pending');
        return;
      }
      for (const group of groups) {
        line(ctx.io.stdout, `${group.module} at ${group.commit.slice(0, 12)} (${group.applies.length} instance${group.applies.length === 1 ? '' : 's'}; mi apply confirm --module ${group.module} --commit ${group.commit.slice(0, 12)})`);
        // Its module change on the rollout planner: when it halted, the applies after the failure wait for an operator.
        const change = group.module === INSTANCE_DELETE_MODULE ? undefined : await store.get<RolloutRecord>(rolloutPaths.rollout(moduleChangeId(group.module, group.commit)));
        if (change !== undefined) {
          const then = change.status === 'halted' ? `: ${change.halt?.reason ?? ''}; mi workflow resume ${change.id} (accepting it) or mi workflow abort ${change.id}` : `: mi workflow status ${change.id}`;
          line(ctx.io.stdout, `  module change ${change.id} ${change.status.toUpperCase()}${then}`);
        }
        const rows = group.applies.map((a) => [a.id, a.instanceId, WAVES[a.wave] ?? String(a.wave), a.mode, a.status, a.planSummary ?? a.failure ?? '', a.confirmedBy ?? '']);
        for (const text of table(['APPLY', 'INSTANCE', 'WAVE', 'MODE', 'STATUS', 'PLAN / FAILURE', 'CONFIRMED BY'], rows)) line(ctx.io.stdout, `  ${text}`);
        line(ctx.io.stdout);
      }
    });

  apply
    .command('show')
    .description("one apply: its plan (summary, counts, the saved plan file's sha256 and its shape), who confirmed which digest, what ran, then the raw plan as terraform show printed it")
    .argument('<id>', 'the apply id (mi apply list shows it)')
    .option('--no-plan', 'leave out the raw plan (it is read from the plans bucket through the commands function)')
    .option('--json', 'print the apply as JSON (with the raw plan as planText)')
    .action(async (id: string, _options: unknown, command: Command) => {
      const flags = parseFlags(showFlags, { ...command.opts(), id }, { id: '<id>' });
      const { store } = ctx.backend(command);
      const found = await store.get<ModuleApplyRecord>(deploymentPaths.moduleApply(flags.id));
      if (found === undefined) throw refused(`no module apply ${flags.id} (mi apply list --all shows them)`);
      const saved = flags.plan && found.plan?.object !== undefined;
      if (flags.json) {
        printJson(ctx.io.stdout, saved ? { ...found, planText: await readPlanText(ctx, command, found.id) } : found);
        return;
      }
      const rows: Array<[string, string]> = [
        ['apply', found.id],
        ['instance', found.instanceId],
        ['module', `${found.module} at ${found.commit}`],
        ['status', found.status],
        ['plan', found.planSummary ?? '-'],
        ['changes', planCounts(found)],
        ['plan digest', found.plan?.digest === undefined ? '- (the plan run reported none: its apply runs the commit afresh)' : `sha256:${found.plan.digest}`],
        ['plan shape', found.plan?.shape === undefined ? '-' : `sha256:${found.plan.shape} (mi apply diff --module ${found.module} --commit ${found.commit.slice(0, 12)})`],
        ['saved plan', found.plan?.object ?? '- (the plan run saved none where the control plane can read it)'],
        ['confirmed', found.confirmedBy === null ? '-' : `by ${found.confirmedBy} at ${found.confirmedAt ?? ''}${found.confirmedDigest ? `, plan sha256:${found.confirmedDigest}` : ''}`],
        ['operation', found.operationId ?? '-'],
        ['failure', found.failure ?? '-'],
      ];
      for (const text of table(['FIELD', 'VALUE'], rows)) line(ctx.io.stdout, text);
      if (saved) {
        line(ctx.io.stdout);
        printPlanText(ctx, await readPlanText(ctx, command, found.id));
      }
    });

  apply
    .command('diff')
    .description("the plans of one module at one commit, grouped: instances whose plans differ only by their own names (project, instance, region...) are one plan, shown once")
    .requiredOption('--module <module>', 'the module')
    .requiredOption('--commit <commit>', 'the merge commit (7 digits or more)')
    .option('--no-plan', "leave out each distinct plan's raw text (read through the commands function)")
    .option('--json', 'print the groups as JSON (each with its first instance\'s raw plan as planText)')
    .action(async (_options: unknown, command: Command) => {
      const flags = parseFlags(diffFlags, command.opts(), { module: '--module', commit: '--commit' });
      const { store } = ctx.backend(command);
      const docs = await store.query<ModuleApplyRecord>({ collection: COLLECTIONS.moduleApplies, where: [{ field: 'module', op: '==', value: flags.module }], limit: 10_000 });
      const applies = docs.map((d) => d.data).filter((a) => a.commit.startsWith(flags.commit) && a.planSummary !== null);
      if (applies.length === 0) throw refused(`no plan of ${flags.module} at ${flags.commit} has run yet (mi apply list shows what waits)`);
      const groups = groupPlansByShape(applies);
      // Each distinct plan is read once: its first instance's (the others differ only by their own names).
      const byInstance = new Map(applies.map((a) => [a.instanceId, a]));
      const texts = await Promise.all(
        groups.map(async (group) => {
          const first = byInstance.get(group.instances[0] ?? '');
          return flags.plan && first?.plan?.object !== undefined ? readPlanText(ctx, command, first.id) : undefined;
        }),
      );
      if (flags.json) {
        printJson(ctx.io.stdout, groups.map((group, i) => ({ ...group, ...(texts[i] === undefined ? {} : { planText: texts[i] }) })));
        return;
      }
      line(ctx.io.stdout, `${flags.module} at ${flags.commit}: ${applies.length} plan(s), ${groups.length} distinct`);
      for (const [i, group] of groups.entries()) {
        line(ctx.io.stdout);
        line(ctx.io.stdout, `plan ${i + 1}${group.shape === null ? ' (no shape reported: compared with nothing)' : ` sha256:${group.shape.slice(0, 16)}`}: ${group.summary ?? ''}`);
        line(ctx.io.stdout, `  ${group.instances.length} instance(s): ${group.instances.join(', ')}`);
        const text = texts[i];
        if (text !== undefined) printPlanText(ctx, text);
      }
    });

  apply
    .command('confirm')
    .description('confirm a plan (or an instance delete from the repository); you are identified by your Google ID token')
    .argument('[id]', 'the apply id (mi apply list shows it)')
    .option('--module <module>', 'confirm this module for every instance at --commit')
    .option('--commit <commit>', 'the merge commit (12 digits or more)')
    .option('--json', "print the function's answer as JSON")
    .action(async (id: string | undefined, _options: unknown, command: Command) => {
      const flags = parseFlags(confirmFlags, { ...command.opts(), ...(id === undefined ? {} : { id }) }, { id: '<id>', module: '--module', commit: '--commit' });
      const answer = await sendCommand(
        ctx,
        command,
        { command: 'apply.confirm', ...(flags.id !== undefined ? { applyId: flags.id } : { module: flags.module, commit: flags.commit }) },
        { what: `confirming ${flags.id ?? `${flags.module ?? ''} at ${flags.commit ?? ''}`}`, idempotent: false },
      );
      const confirmed = Array.isArray(answer.confirmed) ? answer.confirmed.map(String) : [];
      if (flags.json) printJson(ctx.io.stdout, answer);
      else line(ctx.io.stdout, `confirmed ${confirmed.join(', ')} as ${answer.by ?? 'you'}; they apply in waves (mi apply list)`);
    });
}

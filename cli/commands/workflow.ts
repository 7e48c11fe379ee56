/**
 * `mi workflow run|status|output|approve|pause|resume|promote|abort`: one of the executor's
 * actions (plan a module, apply the plans a plan workflow saved, take a backup) run across a
 * filtered set of one environment's instances, on the rollout planner's waves with a
 * concurrency limit and a failure budget. Starting, approving and controlling one go to the
 * commands function as the verified caller, and so does reading its outputs (a plan's text is
 * in the plans bucket, which people hold no grant on); its progress is read from Firestore.
 */
import type { Command } from 'commander';
import * as z from 'zod';
import {
  WORKFLOW_ACTIONS,
  WorkflowSpecError,
  forecastMembers,
  groupOutputs,
  workflowMembersOf,
  windowCalendar,
  workflowWaves,
  type MemberOutput,
  type RolloutRecord,
} from '../../shared/domain/rollout/index.js';
import { ENVIRONMENTS } from '../../shared/events/index.js';
import { systemClock, type StateStore } from '../../shared/ports.js';
import { readFleet } from '../../shared/rollout/reads.js';
import { latestWorkflow, readRolloutView, renderRolloutView, type RolloutView } from '../../shared/rollout/status.js';
import { savedPlans } from '../../shared/rollout/workflow-start.js';
import { rolloutPaths } from '../../shared/store/collections.js';
import { isLocalMode, localClock, sendCommand } from '../commands-client.js';
import { DEFAULT_REASON, EXIT } from '../config.js';
import type { CliContext } from '../context.js';
import { refused } from '../errors.js';
import { durationSchema, parseFlags, reasonSchema } from '../flags.js';
import { line, printJson } from '../output.js';
import { registerControls, renderForecast, showFanOut } from './rollout.js';

const LABELS = { action: '<action>', environment: '-e/--environment', module: '--module', plans: '--plans', filter: '--filter', concurrency: '--concurrency', budget: '--budget', reason: '--reason', interval: '--interval', workflow: '<workflow>', runTime: '--run-time' };
const workflowIdSchema = z.string().regex(/^wf-[a-z0-9-]{1,60}$/, { error: 'expected a workflow id such as wf-20261201-100000-ab12' });
/** What status and the operator's actions take: a workflow, or a merge's module change (mi apply list names it). */
const fanOutIdSchema = z.string().regex(/^(wf|mc)-[a-z0-9-]{1,60}$/, { error: 'expected a workflow id such as wf-20261201-100000-ab12, or a module change id such as mc-0123456789ab-networking' });
const count = (what: string, min: number) => z.coerce.number({ error: `expected ${what}` }).int({ error: `expected a whole number` }).min(min, { error: `expected at least ${min}` });

const runFlags = z.object({
  action: z.enum(WORKFLOW_ACTIONS, { error: `expected an action: ${WORKFLOW_ACTIONS.join(', ')}` }),
  environment: z.enum(ENVIRONMENTS, { error: `expected an environment: ${ENVIRONMENTS.join(', ')}` }),
  module: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { error: 'expected a module name (a folder under terraform/stacks)' }).optional(),
  plans: workflowIdSchema.optional(),
  filter: z.array(z.string()).default([]),
  concurrency: count('the number of instances to run on at once', 1).pipe(z.number().max(100, { error: 'expected at most 100' })),
  budget: count('the number of failures tolerated per wave', 0).optional(),
  reason: reasonSchema.default(DEFAULT_REASON),
  dryRun: z.boolean().optional(),
  runTime: durationSchema.optional(),
  wait: z.boolean().default(true),
  together: z.boolean().optional(),
  interval: durationSchema.optional(),
  json: z.boolean().optional(),
});
const statusFlags = z.object({ workflow: fanOutIdSchema.optional(), watch: z.boolean().optional(), interval: durationSchema.optional(), json: z.boolean().optional() });
const outputFlags = z.object({ workflow: workflowIdSchema.optional(), together: z.boolean().optional(), json: z.boolean().optional() });
const controlFlags = z.object({ workflow: fanOutIdSchema.optional(), reason: reasonSchema.default(DEFAULT_REASON), json: z.boolean().optional() });

async function findWorkflow(store: StateStore, id: string | undefined): Promise<RolloutRecord> {
  const found = id === undefined ? await latestWorkflow(store) : await store.get<RolloutRecord>(rolloutPaths.rollout(id));
  if (found?.kind !== 'workflow' && found?.kind !== 'module-change') throw refused(id === undefined ? 'no workflow yet (mi workflow run <action> -e <env> --concurrency N)' : `no workflow or module change ${id}`);
  return found;
}

/** Every finished member's output, read a page at a time through the commands function. */
async function readOutputs(ctx: CliContext, command: Command, workflowId: string): Promise<{ outputs: MemberOutput[]; unfinished: number }> {
  const outputs: MemberOutput[] = [];
  let unfinished = 0;
  let after: string | undefined;
  for (;;) {
    const page = await sendCommand(ctx, command, { command: 'workflow.output', workflowId, ...(after === undefined ? {} : { after }) }, { what: `reading the outputs of ${workflowId}`, idempotent: true });
    outputs.push(...(page.outputs as MemberOutput[]));
    unfinished += Number(page.unfinished ?? 0);
    if (typeof page.next !== 'string') return { outputs, unfinished };
    after = page.next;
  }
}

function printText(ctx: CliContext, text: string): void {
  ctx.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** The outputs grouped by identical output (the default) or each instance's in turn. */
export function printOutputs(ctx: CliContext, read: { outputs: MemberOutput[]; unfinished: number }, together: boolean): void {
  const { outputs, unfinished } = read;
  if (outputs.length === 0) line(ctx.io.stdout, 'no output yet: no member has finished');
  if (together) {
    for (const o of [...outputs].sort((a, b) => a.instanceId.localeCompare(b.instanceId))) {
      line(ctx.io.stdout, `=== ${o.instanceId} (${o.state}): ${o.summary}`);
      if (o.text !== undefined) printText(ctx, o.text);
    }
  } else {
    const groups = groupOutputs(outputs);
    groups.forEach((group, i) => {
      const { sample } = group;
      const same = sample.shape !== undefined ? 'the same plan, each with its own names' : 'the same output';
      line(ctx.io.stdout, `=== group ${i + 1} of ${groups.length}: ${group.instances.length} instance(s), ${same} (${sample.state}): ${group.instances.join(', ')}`);
      line(ctx.io.stdout, sample.summary);
      if (sample.text !== undefined) {
        line(ctx.io.stdout, `--- as planned for ${sample.instanceId}:`);
        printText(ctx, sample.text);
        line(ctx.io.stdout, '---');
      }
    });
  }
  if (unfinished > 0) line(ctx.io.stdout, `${unfinished} member(s) not finished yet: their output comes later (mi workflow output)`);
}

/** One line of progress: each wave's counts, with in flight apart from done. */
function progressLine(view: RolloutView, now: Date): string {
  const waves = view.waves.map((w) => `${w.wave} ${w.succeeded + w.failed + w.skipped}/${w.total} done (ok ${w.succeeded}, failed ${w.failed}), ${w.inFlight} running, ${w.waiting} waiting`);
  return `${now.toISOString().slice(11, 19)} ${view.rollout.status}: ${waves.join('; ')}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Registers `mi workflow …`. */
export function registerWorkflowCommands(program: Command, ctx: CliContext): void {
  const workflow = program.command('workflow').description("run one of the executor's actions across a filtered set of instances, in waves with a concurrency limit, and collect each instance's output");

  workflow
    .command('run')
    .description('start a workflow; by default follow it, then print the outputs grouped by identical output')
    .argument('<action>', `${WORKFLOW_ACTIONS.join(', ')} (plan a module; apply the plans a plan workflow saved; take a backup; check health; run every read-only check)`)
    .requiredOption('-e, --environment <env>', `the environment: ${ENVIRONMENTS.join(' or ')}`)
    .option('--module <name>', 'plan: the module (a folder under terraform/stacks)')
    .option('--plans <workflow>', 'apply: the completed plan workflow whose saved plans to apply')
    .option('--filter <key=value>', 'only instances matching it (id, slug, tier, version, region or status; globs such as id=cus-*); repeat to narrow', (v: string, all: string[]) => [...all, v], [] as string[])
    .requiredOption('--concurrency <n>', 'instances running at once, per wave')
    .option('--budget <k>', 'failures a wave tolerates before the workflow halts (default 0; health and check: no limit, a failed check is a finding)')
    .option('--reason <text>', 'why (recorded in the audit trail)')
    .option('--dry-run', 'start nothing: print its members per wave, when windows open and when it would finish')
    .option('--run-time <duration>', 'with --dry-run: how long one instance takes (default 10m)')
    .option('--no-wait', 'return once it started')
    .option('--together', "print each instance's output in turn instead of grouping identical ones")
    .option('--interval <duration>', 'how often progress is read while following (default 5s)')
    .option('--json', 'print the workflow document (with --dry-run: the forecast; when followed: the outputs)')
    .addHelpText(
      'after',
      `
Examples:
  mi workflow run plan -e dev --module networking --concurrency 2
  mi workflow run plan -e prod --module networking --filter tier=customer --concurrency 5 --budget 1
  mi workflow run apply -e prod --plans wf-20261201-100000-ab12 --concurrency 5   # waits for a second person
  mi workflow run backup -e prod --filter id=cus-* --concurrency 10 --dry-run
  mi workflow run check -e prod --concurrency 20    # health and backup configuration, nothing changed

A workflow that changes prod (apply) waits for \`mi workflow approve\` by someone else; customers
are applied in their maintenance windows and nothing is applied during a change freeze.`,
    )
    .action(async (action: string, _options: unknown, command: Command) => {
      const flags = parseFlags(runFlags, { ...command.opts(), action }, LABELS);
      const store = ctx.backend(command).store;
      if (flags.dryRun) {
        const now = systemClock.now();
        let forecast;
        try {
          const plans = flags.action === 'apply' ? await savedPlans(store, { id: flags.plans ?? '' }) : undefined;
          // `mi dev` reads windows on its own calendar: forecast them as it will.
          const { windowClock } = isLocalMode(ctx.io.env) ? await localClock(ctx.io.env) : { windowClock: undefined };
          const { members, sizes } = workflowMembersOf({ action: flags.action, environment: flags.environment, filter: flags.filter }, await readFleet(store), now, plans, windowCalendar(windowClock));
          const waves = workflowWaves(sizes, flags.concurrency, flags.budget, flags.action);
          const runMs = flags.runTime ?? 10 * 60_000;
          forecast = forecastMembers({ targetVersion: '', waves, members, now, upgradeMs: runMs, ...(windowClock === undefined ? {} : { windowClock }) }, [`each instance takes ${Math.round(runMs / 60_000)} min and none fails`, 'an instance busy with another operation is tried again 30 s later (not counted)']);
        } catch (error) {
          if (error instanceof WorkflowSpecError) throw refused(error.message, error);
          throw error;
        }
        if (flags.json) printJson(ctx.io.stdout, forecast);
        else for (const text of renderForecast(forecast, `a ${flags.action} workflow in ${flags.environment}`, 'TO RUN')) line(ctx.io.stdout, text);
        return;
      }
      const answer = await sendCommand(
        ctx,
        command,
        {
          command: 'workflow.start',
          action: flags.action,
          environment: flags.environment,
          filter: flags.filter,
          concurrency: flags.concurrency,
          ...(flags.budget === undefined ? {} : { budget: flags.budget }),
          reason: flags.reason,
          ...(flags.module === undefined ? {} : { module: flags.module }),
          ...(flags.plans === undefined ? {} : { plans: flags.plans }),
        },
        { what: `starting a ${flags.action} workflow in ${flags.environment}`, idempotent: false },
      );
      const started = answer.workflow as RolloutRecord;
      const sizes = Object.entries(started.membership.sizes).map(([wave, n]) => `${wave} ${n}`).join(', ');
      if (!flags.json) line(ctx.io.stderr, `started workflow ${started.id} as ${answer.by ?? 'you'}: ${flags.action}${started.workflow?.module === undefined ? '' : ` ${started.workflow.module}`} on ${sizes} instance(s), ${flags.concurrency} at once`);
      if (started.status === 'awaiting-approval') {
        line(ctx.io.stderr, `it changes prod: it waits for a second person: mi workflow approve ${started.id}`);
        if (flags.json) printJson(ctx.io.stdout, started);
        return;
      }
      if (!flags.wait) {
        if (flags.json) printJson(ctx.io.stdout, started);
        else line(ctx.io.stdout, `follow it with: mi workflow status ${started.id} --watch; its outputs: mi workflow output ${started.id}`);
        return;
      }
      const interval = flags.interval ?? ctx.io.pollIntervalMs ?? 5_000;
      let last = '';
      let view: RolloutView;
      for (;;) {
        view = await readRolloutView(store, await findWorkflow(store, started.id));
        const now = systemClock.now();
        const text = progressLine(view, now);
        // Progress goes to stderr, a line each time it moves: the outputs on stdout stay clean for a script.
        if (text.slice(9) !== last) line(ctx.io.stderr, text);
        last = text.slice(9);
        if (view.rollout.status !== 'running' && view.rollout.status !== 'paused') break;
        await sleep(interval);
      }
      const read = await readOutputs(ctx, command, started.id);
      if (flags.json) printJson(ctx.io.stdout, { workflow: view.rollout, ...read });
      else {
        if (view.rollout.status === 'halted') for (const text of renderRolloutView(view, systemClock.now())) line(ctx.io.stderr, text);
        printOutputs(ctx, read, flags.together === true);
      }
      const failed = read.outputs.some((o) => o.state === 'failed');
      ctx.exitCode = view.rollout.status === 'completed' && !failed ? EXIT.ok : EXIT.failed;
    });

  workflow
    .command('status')
    .description('each wave with a progress bar; when halted, why; when waiting for approval, who may give it')
    .argument('[workflow]', 'the workflow id, or a module change id from mi apply list (default: the latest workflow)')
    .option('--watch', 'show it again every few seconds until it halts or ends')
    .option('--interval <duration>', 'how often --watch reads (default 5s)')
    .option('--json', 'print the workflow and its live counts')
    .action(async (id: string | undefined, _options: unknown, command: Command) => {
      const flags = parseFlags(statusFlags, { ...command.opts(), ...(id === undefined ? {} : { workflow: id }) }, LABELS);
      const store = ctx.backend(command).store;
      await showFanOut(ctx, store, (pinned) => findWorkflow(store, pinned ?? flags.workflow), flags);
    });

  workflow
    .command('output')
    .description("each finished instance's output (a plan's text, a backup's ids, what failed), grouped by identical output")
    .argument('[workflow]', 'the workflow id (default: the latest)')
    .option('--together', "each instance's output in turn instead of grouped")
    .option('--json', 'print every output')
    .action(async (id: string | undefined, _options: unknown, command: Command) => {
      const flags = parseFlags(outputFlags, { ...command.opts(), ...(id === undefined ? {} : { workflow: id }) }, LABELS);
      const found = await findWorkflow(ctx.backend(command).store, flags.workflow);
      const read = await readOutputs(ctx, command, found.id);
      if (flags.json) printJson(ctx.io.stdout, read);
      else printOutputs(ctx, read, flags.together === true);
    });

  workflow
    .command('approve')
    .description('approve a workflow that changes prod (not your own): it starts')
    .argument('<workflow>', 'the workflow id')
    .option('--reason <text>', 'why (recorded in the audit trail)')
    .option('--json', 'print the workflow document')
    .action(async (id: string, _options: unknown, command: Command) => {
      const flags = parseFlags(controlFlags, { ...command.opts(), workflow: id }, LABELS);
      const answer = await sendCommand(ctx, command, { command: 'workflow.approve', workflowId: flags.workflow ?? id, reason: flags.reason }, { what: `approving workflow ${id}`, idempotent: false });
      if (flags.json) printJson(ctx.io.stdout, answer.workflow);
      else line(ctx.io.stdout, `workflow ${id}: ${String(answer.detail)} (as ${answer.by ?? 'you'})`);
    });

  registerControls(workflow, ctx, {
    noun: 'workflow',
    argument: 'the workflow id, or a module change id from mi apply list (default: the latest workflow)',
    target: async (id, command) => {
      const flags = parseFlags(controlFlags, { ...command.opts(), ...(id === undefined ? {} : { workflow: id }) }, LABELS);
      return { found: await findWorkflow(ctx.backend(command).store, flags.workflow), reason: flags.reason, json: flags.json === true };
    },
    descriptions: {
      pause: 'stop starting members (those running finish)',
      resume: 'start members again after a pause, or after a halt (accepting the failures so far)',
      promote: 'pass the manual gate of the wave waiting at one',
      abort: 'end the workflow: no more members start (those running finish)',
    },
  });
}

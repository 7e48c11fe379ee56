/**
 * `mi rollout start|status|pause|resume|promote|abort`: a release fanned out across the fleet
 * in waves. Starting and controlling one go to the commands function (as the verified caller);
 * the status, and the fleet a dry run forecasts over, are read from Firestore.
 */
import type { Command } from 'commander';
import * as z from 'zod';
import { DEFAULT_WAVES, ROLLOUT_ACTIONS, WaveSpecError, forecastRollout, parseWaves, scaleSoaks, type RolloutAction, type RolloutForecast, type RolloutRecord, type WaveSpec } from '../../shared/domain/rollout/index.js';
import { versionSchema } from '../../shared/events/index.js';
import { readFleet } from '../../shared/rollout/reads.js';
import { systemClock, type StateStore } from '../../shared/ports.js';
import { latestRollout, readRolloutView, renderRolloutView } from '../../shared/rollout/status.js';
import { EXIT, DEFAULT_REASON } from '../config.js';
import { isLocalMode, localClock, sendCommand } from '../commands-client.js';
import type { CliContext } from '../context.js';
import { refused } from '../errors.js';
import { durationSchema, parseFlags, reasonSchema } from '../flags.js';
import { line, printJson, table } from '../output.js';
import { rolloutPaths } from '../../shared/store/collections.js';
import { framesFor, paintFor } from '../style.js';

const LABELS = { to: '--to', waves: '--waves', reason: '--reason', busyRetry: '--busy-retry', interval: '--interval', rollout: '<rollout>', upgradeTime: '--upgrade-time' };
const rolloutIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: 'expected a rollout id such as ro-20261126-100000-ab12' });

const startFlags = z.object({
  to: versionSchema,
  waves: z.string().optional(),
  reason: reasonSchema.default(DEFAULT_REASON),
  busyRetry: durationSchema.optional(),
  dryRun: z.boolean().optional(),
  upgradeTime: durationSchema.optional(),
  json: z.boolean().optional(),
});
const statusFlags = z.object({ rollout: rolloutIdSchema.optional(), watch: z.boolean().optional(), interval: durationSchema.optional(), json: z.boolean().optional() });
const controlFlags = z.object({ rollout: rolloutIdSchema.optional(), reason: reasonSchema.default(DEFAULT_REASON), json: z.boolean().optional() });

/** The text of `mi rollout start --dry-run` (and of `mi workflow run --dry-run`, which names its own subject and work). */
export function renderForecast(forecast: RolloutForecast, subject = `a rollout to ${forecast.targetVersion}`, work = 'TO UPGRADE'): string[] {
  const minutes = (ms: number) => (ms === 0 ? '0' : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${Math.round(ms / 60_000)}m`);
  const rows = forecast.waves.map((w) => [
    w.wave,
    String(w.members),
    String(w.toUpgrade),
    String(w.skipped),
    String(w.maxInFlight),
    String(w.budget),
    w.firstEligibleAt === null ? '-' : w.firstEligibleAt === w.lastEligibleAt ? w.firstEligibleAt : `${w.firstEligibleAt} .. ${w.lastEligibleAt}`,
    w.startsAt,
    w.finishesAt,
    `${minutes(w.soakMs)}${w.manualGate ? ', gate' : ''}`,
  ]);
  return [
    `dry run: ${subject} would cover ${forecast.members.length} instance(s); nothing was started`,
    ...table(['WAVE', 'MEMBERS', work, 'ON TARGET', 'MAX', 'BUDGET', 'FIRST STARTS (WINDOWS)', 'STARTS', 'FINISHES', 'SOAK'], rows),
    `expected to finish ${forecast.finishesAt}, assuming:`,
    ...forecast.assumptions.map((a) => `  - ${a}`),
    'each member and when it may first start: --json',
  ];
}

/**
 * `status` of a rollout, a workflow or a module change: its waves with their live counts; with
 * `watch`, again every interval until it halts or ends (pinned to the one first shown, even if
 * another starts meanwhile). Exit 1 when it halted.
 */
export async function showFanOut(ctx: CliContext, store: StateStore, find: (pinned: string | undefined) => Promise<RolloutRecord>, flags: { watch?: boolean | undefined; interval?: number | undefined; json?: boolean | undefined }): Promise<void> {
  const interval = flags.interval ?? ctx.io.pollIntervalMs ?? 5_000;
  // On a terminal --watch redraws the view in place, in colour (unless NO_COLOR); elsewhere one frame after another.
  const frames = framesFor(ctx.io.stdout);
  const paint = paintFor(ctx.io.stdout, ctx.io.env);
  let pinned: string | undefined;
  try {
    for (;;) {
      const found = await find(pinned);
      const view = await readRolloutView(store, found);
      if (flags.json) printJson(ctx.io.stdout, view);
      else frames.show([...renderRolloutView(view, systemClock.now(), paint), ...(flags.watch === true ? [paint.dim(`read ${systemClock.now().toISOString()}; every ${Math.round(interval / 1000)} s`)] : [])]);
      if (flags.watch !== true || (found.status !== 'running' && found.status !== 'paused')) {
        ctx.exitCode = found.status === 'halted' ? EXIT.failed : EXIT.ok;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, interval));
      pinned = found.id;
    }
  } finally {
    frames.done();
  }
}

async function findRollout(store: StateStore, id: string | undefined): Promise<RolloutRecord> {
  const found = id === undefined ? await latestRollout(store) : await store.get<RolloutRecord>(rolloutPaths.rollout(id));
  if (found === undefined) throw refused(id === undefined ? 'no rollout yet (mi rollout start --to <version>)' : `no rollout ${id}`);
  return found;
}

function wavesFrom(text: string | undefined): WaveSpec[] {
  if (text === undefined) return DEFAULT_WAVES.map((w) => ({ ...w }));
  try {
    return parseWaves(text);
  } catch (error) {
    if (error instanceof WaveSpecError) throw refused(`--waves: ${error.message}`, error);
    throw error;
  }
}

/**
 * `pause|resume|promote|abort` of one kind of fan-out (a rollout, a workflow or module change),
 * sent to the commands function as the caller; `target` reads the flags and finds the fan-out.
 */
export function registerControls(
  group: Command,
  ctx: CliContext,
  spec: {
    noun: string;
    argument: string;
    target: (id: string | undefined, command: Command) => Promise<{ found: RolloutRecord; reason: string; json: boolean }>;
    descriptions: Record<RolloutAction, string>;
  },
): void {
  for (const action of ROLLOUT_ACTIONS) {
    group
      .command(action)
      .description(spec.descriptions[action])
      .argument(`[${spec.noun}]`, spec.argument)
      .option('--reason <text>', 'why (recorded in the audit trail)')
      .option('--json', `print the ${spec.noun} document`)
      .action(async (id: string | undefined, _options: unknown, command: Command) => {
        const { found, reason, json } = await spec.target(id, command);
        const answer = await sendCommand(ctx, command, { command: 'rollout.control', rolloutId: found.id, action, reason }, { what: `${action} of ${spec.noun} ${found.id}`, idempotent: false });
        if (json) printJson(ctx.io.stdout, answer.rollout);
        else line(ctx.io.stdout, `${spec.noun} ${found.id}: ${String(answer.detail)} (as ${answer.by ?? 'you'})`);
      });
  }
}

/** Registers `mi rollout …`. */
export function registerRolloutCommands(program: Command, ctx: CliContext): void {
  const rollout = program.command('rollout').description('fan a release out across the fleet in waves: dev, internal prod, a customer canary, all customers');

  rollout
    .command('start')
    .description('start a rollout to a version (one rollout at a time)')
    .requiredOption('--to <version>', 'the target version, e.g. 5.5.0')
    .option(
      '--waves <spec>',
      'waves in order with settings, e.g. "dev,internal,canary:budget=2:soak=30m,customers:max=50:gate" (max=N in flight, budget=N or P%, soak=duration, gate, percent=P for the canary)',
    )
    .option('--busy-retry <duration>', 'how long to wait before trying a busy instance again (default 5m)')
    .option('--reason <text>', 'why (recorded in the audit trail)')
    .option('--dry-run', 'start nothing: print its members per wave, when windows open and when each wave would finish')
    .option('--upgrade-time <duration>', 'with --dry-run: how long one upgrade takes (default 30m)')
    .option('--json', 'print the rollout document (with --dry-run: the forecast, each member with when it may start)')
    .action(async (_options: unknown, command: Command) => {
      const flags = parseFlags(startFlags, command.opts(), LABELS);
      // Checked here too, so that a mistyped spec is named by its flag before anything is sent.
      const waves = wavesFrom(flags.waves);
      if (flags.dryRun) {
        // `mi dev` runs soaks on its own clock and says so in its identity file: forecast them as it will.
        const { soakScale, windowClock } = isLocalMode(ctx.io.env) ? await localClock(ctx.io.env) : { soakScale: 1, windowClock: undefined };
        const soaks = soakScale === 1 ? waves : scaleSoaks(waves, soakScale);
        const forecast = forecastRollout({
          targetVersion: flags.to,
          waves: soaks,
          fleet: await readFleet(ctx.backend(command).store),
          now: systemClock.now(),
          upgradeMs: flags.upgradeTime ?? 30 * 60_000,
          ...(windowClock === undefined ? {} : { windowClock }),
        });
        if (flags.json) printJson(ctx.io.stdout, forecast);
        else for (const text of renderForecast(forecast)) line(ctx.io.stdout, text);
        return;
      }
      const answer = await sendCommand(
        ctx,
        command,
        { command: 'rollout.start', targetVersion: flags.to, reason: flags.reason, ...(flags.waves === undefined ? {} : { waves: flags.waves }), ...(flags.busyRetry === undefined ? {} : { busyRetryMs: flags.busyRetry }) },
        { what: `starting a rollout to ${flags.to}`, idempotent: false },
      );
      const started = answer.rollout as RolloutRecord;
      if (flags.json) {
        printJson(ctx.io.stdout, started);
        return;
      }
      line(ctx.io.stdout, `started rollout ${started.id} to ${flags.to} as ${answer.by ?? 'you'}: waves ${waves.map((w) => w.name).join(' → ')}`);
      line(ctx.io.stdout, `follow it with: mi rollout status ${started.id} --watch`);
    });

  rollout
    .command('status')
    .description('each wave with a progress bar; when halted, why')
    .argument('[rollout]', 'the rollout id (default: the latest)')
    .option('--watch', 'show it again every few seconds until the rollout halts or ends')
    .option('--interval <duration>', 'how often --watch reads (default 5s)')
    .option('--json', 'print the rollout and its live counts')
    .action(async (id: string | undefined, _options: unknown, command: Command) => {
      const flags = parseFlags(statusFlags, { ...command.opts(), ...(id === undefined ? {} : { rollout: id }) }, LABELS);
      const store = ctx.backend(command).store;
      await showFanOut(ctx, store, (pinned) => findRollout(store, pinned ?? flags.rollout), flags);
    });

  registerControls(rollout, ctx, {
    noun: 'rollout',
    argument: 'the rollout id (default: the latest)',
    target: async (id, command) => {
      const flags = parseFlags(controlFlags, { ...command.opts(), ...(id === undefined ? {} : { rollout: id }) }, LABELS);
      return { found: await findRollout(ctx.backend(command).store, flags.rollout), reason: flags.reason, json: flags.json === true };
    },
    descriptions: {
      pause: 'stop starting upgrades (those in flight finish)',
      resume: 'start upgrades again after a pause, or after a halt (accepting the failures so far)',
      promote: 'pass the manual gate of the wave waiting at one',
      abort: 'end the rollout: no more upgrades start (those in flight finish)',
    },
  });
}

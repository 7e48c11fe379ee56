/**
 * `mi rollout start|status|pause|resume|promote|abort`: a release fanned out across the fleet
 * in waves. The CLI writes the rollout document (with an audit record) and publishes a tick;
 * the rollout function does the rest.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { DEFAULT_WAVES, WaveSpecError, parseWaves, type RolloutAction, type RolloutRecord, type WaveSpec } from '../../shared/domain/rollout/index.js';
import { versionSchema } from '../../shared/events/index.js';
import { systemClock, type StateStore } from '../../shared/ports.js';
import { createRollouts } from '../../shared/rollout/index.js';
import { latestRollout, readRolloutView, renderRolloutView } from '../../shared/rollout/status.js';
import { EXIT, DEFAULT_REASON } from '../config.js';
import type { CliContext } from '../context.js';
import { refused } from '../errors.js';
import { durationSchema, parseFlags, reasonSchema } from '../flags.js';
import { line, printJson } from '../output.js';
import { rolloutPaths } from '../../shared/store/collections.js';

const LABELS = { to: '--to', waves: '--waves', reason: '--reason', busyRetry: '--busy-retry', interval: '--interval', rollout: '<rollout>' };
const rolloutIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: 'expected a rollout id such as ro-20261126-100000-ab12' });

const startFlags = z.object({
  to: versionSchema,
  waves: z.string().optional(),
  reason: reasonSchema.default(DEFAULT_REASON),
  busyRetry: durationSchema.optional(),
  json: z.boolean().optional(),
});
const statusFlags = z.object({ rollout: rolloutIdSchema.optional(), watch: z.boolean().optional(), interval: durationSchema.optional(), json: z.boolean().optional() });
const controlFlags = z.object({ rollout: rolloutIdSchema.optional(), reason: reasonSchema.default(DEFAULT_REASON), json: z.boolean().optional() });

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
    .option('--json', 'print the rollout document')
    .action(async (_options: unknown, command: Command) => {
      const flags = parseFlags(startFlags, command.opts(), LABELS);
      const waves = wavesFrom(flags.waves);
      const backend = ctx.backend(command);
      const service = createRollouts({ store: backend.store, bus: backend.bus, clock: systemClock });
      const outcome = await service.start({ targetVersion: flags.to, waves, actor: ctx.actor(), reason: flags.reason, ...(flags.busyRetry === undefined ? {} : { busyRetryMs: flags.busyRetry }) });
      if (outcome.kind === 'refused') throw refused(outcome.message);
      if (flags.json) {
        printJson(ctx.io.stdout, outcome.rollout);
        return;
      }
      line(ctx.io.stdout, `started rollout ${outcome.rollout.id} to ${flags.to}: waves ${waves.map((w) => w.name).join(' → ')}`);
      line(ctx.io.stdout, `follow it with: mi rollout status ${outcome.rollout.id} --watch`);
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
      const interval = flags.interval ?? ctx.io.pollIntervalMs ?? 5_000;
      for (;;) {
        const found = await findRollout(store, flags.rollout);
        const view = await readRolloutView(store, found);
        if (flags.json) printJson(ctx.io.stdout, view);
        else for (const text of renderRolloutView(view, systemClock.now())) line(ctx.io.stdout, text);
        if (!flags.watch || found.status !== 'running' && found.status !== 'paused') {
          ctx.exitCode = found.status === 'halted' ? EXIT.failed : EXIT.ok;
          return;
        }
        line(ctx.io.stdout, '');
        await new Promise((resolve) => setTimeout(resolve, interval));
        // Pin the rollout being watched, even if another starts meanwhile.
        flags.rollout = found.id;
      }
    });

  const control = (action: RolloutAction, description: string) =>
    rollout
      .command(action)
      .description(description)
      .argument('[rollout]', 'the rollout id (default: the latest)')
      .option('--reason <text>', 'why (recorded in the audit trail)')
      .option('--json', 'print the rollout document')
      .action(async (id: string | undefined, _options: unknown, command: Command) => {
        const flags = parseFlags(controlFlags, { ...command.opts(), ...(id === undefined ? {} : { rollout: id }) }, LABELS);
        const backend = ctx.backend(command);
        const target = await findRollout(backend.store, flags.rollout);
        const service = createRollouts({ store: backend.store, bus: backend.bus, clock: systemClock });
        const outcome = await service.control(target.id, action, ctx.actor(), flags.reason);
        if (outcome.kind === 'refused') throw refused(outcome.message);
        if (flags.json) printJson(ctx.io.stdout, outcome.rollout);
        else line(ctx.io.stdout, `rollout ${target.id}: ${outcome.detail}`);
      });
  control('pause', 'stop starting upgrades (those in flight finish)');
  control('resume', 'start upgrades again after a pause, or after a halt (accepting the failures so far)');
  control('promote', 'pass the manual gate of the wave waiting at one');
  control('abort', 'end the rollout: no more upgrades start (those in flight finish)');
}

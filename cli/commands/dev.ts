/**
 * `mi dev`: the whole system on one machine. This file only parses the flags; the stack itself
 * lives in cli/dev/stack.ts, loaded on demand so other commands never pay for it.
 */
import type { Command } from 'commander';
import * as z from 'zod';
import { FAULT_CATALOGUE, faultClearSchema, faultRequestSchema } from '../../shared/sim/fault-control.js';
import type { CliContext } from '../context.js';
import { parseFlags, portSchema, projectIdSchema } from '../flags.js';
import { line, printJson, table } from '../output.js';

const devFlags = z.object({
  project: projectIdSchema.optional(),
  seed: z.boolean(),
  port: portSchema.optional(),
});

const FAULT_LABELS = { service: '<service>', instance: '<instance>', what: '<what>' };

/** The catalogue as help text: each service, what can fail in it, and what that does. */
function catalogueHelp(): string {
  const rows = Object.entries(FAULT_CATALOGUE).flatMap(([service, faults]) => Object.entries(faults).map(([what, does]) => `  ${service.padEnd(11)} ${what.padEnd(18)} ${does}`));
  return ['', 'Faults:', ...rows].join('\n');
}

/** Registers `mi dev` and `mi dev fault`. */
export function registerDevCommand(program: Command, ctx: CliContext): void {
  const dev = program
    .command('dev')
    .description('run the whole system locally: emulators, topics, functions, local clock, a seeded simulated fleet (Ctrl-C stops it)')
    .option('--no-seed', 'start with an empty fleet')
    .option('--port <port>', 'where the functions listen on 127.0.0.1')
    .action(async (_options: unknown, command: Command) => {
      // Only an explicit --project: local mode defaults to its own project, not GOOGLE_CLOUD_PROJECT's.
      const flags = parseFlags(devFlags, command.optsWithGlobals(), { project: '--project', port: '--port' });
      const { runDev } = await import('../dev/stack.js');
      await runDev({
        seed: flags.seed,
        ...(flags.project === undefined ? {} : { projectId: flags.project }),
        ...(flags.port === undefined ? {} : { port: flags.port }),
      });
    });

  // Faults go to the running `mi dev` (its simulators live in that process), through their own APIs.
  const fault = dev
    .command('fault')
    .description('make the running mi dev\'s simulated fleet fail something: the next backup, an upgrade (list, clear)')
    .argument('<service>', Object.keys(FAULT_CATALOGUE).join(', '))
    .argument('<instance>', 'the instance id, such as cus-acme')
    .argument('<what>', 'what fails (see Faults below)')
    .option('--json', 'print the injected fault as JSON')
    .addHelpText('after', catalogueHelp())
    .action(async (service: string, instance: string, what: string, _options: unknown, command: Command) => {
      const request = parseFlags(faultRequestSchema, { service, instance, what }, FAULT_LABELS);
      const { injectFault } = await import('../dev/fault-client.js');
      const injected = await injectFault(ctx.io.env, request);
      if (command.opts<{ json?: boolean }>().json === true) return printJson(ctx.io.stdout, injected);
      line(ctx.io.stdout, `injected ${injected.service} ${injected.what} on ${injected.instance}: ${injected.detail}`);
    });
  fault
    .command('list')
    .description('the faults the simulated fleet still holds, read from the simulators')
    .option('--json', 'print them as JSON')
    .action(async (_options: unknown, command: Command) => {
      const { listFaults } = await import('../dev/fault-client.js');
      const faults = await listFaults(ctx.io.env);
      if (command.optsWithGlobals<{ json?: boolean }>().json === true) return printJson(ctx.io.stdout, faults);
      if (faults.length === 0) return line(ctx.io.stdout, 'no faults injected');
      for (const text of table(['SERVICE', 'INSTANCE', 'WHAT', 'DETAIL'], faults.map((f) => [f.service, f.instance, f.what, f.detail]))) line(ctx.io.stdout, text);
    });
  fault
    .command('clear')
    .description("forget injected faults: all, one service's, or one instance's")
    .argument('[service]', `only this service's (${Object.keys(FAULT_CATALOGUE).join(', ')})`)
    .argument('[instance]', 'only this instance\'s')
    .action(async (service: string | undefined, instance: string | undefined) => {
      const filter = parseFlags(faultClearSchema, { service, instance }, FAULT_LABELS);
      const { clearFaults } = await import('../dev/fault-client.js');
      const cleared = await clearFaults(ctx.io.env, filter);
      line(ctx.io.stdout, `cleared ${cleared} fault${cleared === 1 ? '' : 's'}`);
    });
}

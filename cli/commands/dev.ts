/**
 * `mi dev`: the whole system on one machine. This file only parses the flags; the stack itself
 * lives in cli/dev/stack.ts, loaded on demand so other commands never pay for it.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import type { CliContext } from '../context.js';
import { parseFlags, portSchema, projectIdSchema } from '../flags.js';

const devFlags = z.object({
  project: projectIdSchema.optional(),
  seed: z.boolean(),
  port: portSchema.optional(),
});

/** Registers `mi dev`. */
export function registerDevCommand(program: Command, _ctx: CliContext): void {
  program
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
}

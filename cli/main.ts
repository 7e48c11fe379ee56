/**
 * The `mi` command: builds the program with commander, runs one invocation, and turns its
 * outcome into an exit code. `runCli` runs in process (tests capture output and codes);
 * `main` is what bin/mi.js calls.
 */
import { Command, CommanderError } from 'commander';
import { describeError } from '../shared/errors.js';
import { registerCommands } from './commands/index.js';
import { credentialsProblem } from './backend.js';
import { refuseAsOutsideLocalMode } from './commands-client.js';
import { EXIT } from './config.js';
import { documentEnvironment } from './environment.js';
import { documentExamples } from './examples.js';
import { createContext, type CliContext, type CliIo } from './context.js';
import { CliError, refused } from './errors.js';
import { line } from './output.js';
import { packageVersion } from './report-maker.js';

export type { CliIo } from './context.js';


/**
 * `-o json|yaml`: the command's --json, printed in that format; `-o wide`: its --wide table;
 * `-o text` is the default. Refused where the command has no such output.
 */
function applyOutputFormat(action: Command, ctx: CliContext): void {
  const format = action.optsWithGlobals<{ output?: string }>().output;
  if (format === undefined || format === 'text') return;
  if (format === 'wide') {
    if (!action.options.some((o) => o.long === '--wide')) throw refused(`-o wide: mi ${action.name()} has no wide table (text, json or yaml)`);
    action.setOptionValue('wide', true);
    return;
  }
  if (format !== 'json' && format !== 'yaml') throw refused(`-o ${format}: expected text, json, yaml or wide`);
  if (!action.options.some((o) => o.long === '--json')) throw refused(`-o ${format}: mi ${action.name()} prints no document (it has no --json)`);
  action.setOptionValue('json', true);
  const out = ctx.io.stdout;
  ctx.io.stdout = { write: (text) => out.write(text), documents: format, ...(out.isTTY === undefined ? {} : { isTTY: out.isTTY }) };
}

/** The commander program for one invocation, writing to `ctx.io`: every command group, or only those named. */
export async function buildProgram(ctx: CliContext, groups?: ReadonlySet<string>): Promise<Command> {
  const program = new Command();
  // Set before any subcommand exists: subcommands inherit these settings when created.
  program
    .name('mi')
    .description('Operate the fleet of managed instances: query state, send commands as your verified Google identity, run the system locally.')
    .version(packageVersion(), '-V, --version')
    .option('--project <id>', 'Google Cloud project (default: GOOGLE_CLOUD_PROJECT, or demo-mi-local when emulator variables are set)')
    .option('-o, --output <format>', 'text (the default), wide (more columns, where a table has them), json or yaml: documents in that format, for scripts (--json is -o json)')
    .option('--as <email>', "local stack only: act as this person (default your git email); in the cloud you are your Google credentials' account")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.io.stdout.write(text),
      writeErr: (text) => ctx.io.stderr.write(text),
    })
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Exit codes: 0 done (with --wait: the operation succeeded); 1 the operation failed, was abandoned
or rejected; 2 nothing done (invalid flags, unknown instance or operation, refused up front);
3 Firestore or the commands function unreachable, or your credentials refused;
4 --wait timed out while the operation goes on.`,
    );
  // Before any command reads or sends anything: a claimed identity is the local stack's alone.
  program.hook('preAction', (_program, action) => {
    refuseAsOutsideLocalMode(action, ctx.io.env);
    applyOutputFormat(action, ctx);
  });
  await registerCommands(program, ctx, groups);
  documentExamples(program);
  documentEnvironment(program);
  return program;
}

/**
 * Runs one invocation (arguments without `node` and the script) and returns its exit code.
 * `groups`: only these command groups are loaded (the ones the invocation's command is made of).
 */
export async function runCli(args: readonly string[], io: CliIo, groups?: ReadonlySet<string>): Promise<number> {
  const ctx = createContext(io);
  try {
    const program = await buildProgram(ctx, groups);
    await program.parseAsync([...args], { from: 'user' });
    return ctx.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its own message (or the help) already.
      return error.exitCode === 0 ? EXIT.ok : EXIT.refused;
    }
    if (error instanceof CliError) {
      line(io.stderr, `mi: ${error.message}`);
      return error.exitCode;
    }
    line(io.stderr, `mi: unexpected error: ${describeError(error)}`);
    if (io.env.MI_DEBUG && error instanceof Error && error.stack) line(io.stderr, error.stack);
    return EXIT.failed;
  } finally {
    await ctx.close();
  }
}

/** The entry point of bin/mi.js (through cli/start.ts): runs `argv` (process.argv) against the real process. */
export async function main(argv: readonly string[] = process.argv, groups?: ReadonlySet<string>): Promise<number> {
  // Local mode never needs the GCE metadata server; probing it only prints warnings.
  if ((process.env.FIRESTORE_EMULATOR_HOST || process.env.PUBSUB_EMULATOR_HOST) && process.env.METADATA_SERVER_DETECTION === undefined) {
    process.env.METADATA_SERVER_DETECTION = 'none';
  }
  // The Google clients reject some promises of their own that no caller holds: without
  // credentials, gax fails creating its stub before our call's deadline can report anything.
  // Those end the command with the message it deserves rather than a stack trace.
  // `mi instance list | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
    throw error;
  });
  process.on('unhandledRejection', (reason) => {
    const problem = credentialsProblem(reason);
    line(process.stderr, `mi: ${problem ? problem.message : `unexpected error: ${describeError(reason)}`}`);
    process.exit(problem ? problem.exitCode : EXIT.failed);
  });
  return runCli(argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }, groups);
}

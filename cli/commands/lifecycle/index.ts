/**
 * `mi backup`, `mi upgrade`, `mi create`, `mi restore`, `mi delete`, `mi dr`: the lifecycle
 * commands, table-driven. table.ts has one row per command (name, options, flags schema, the
 * up-front checks and the request built from the flags; command.ts says what a row is, and
 * checks.ts and flags.ts hold what the rows share), and submit.ts the one helper that publishes the envelope and, with `--wait`,
 * follows the operation. Adding a command is one row.
 */
import type { Command } from 'commander';
import type { CliContext } from '../../context.js';
import type { LifecycleCommand } from './command.js';
import { COMMON_OPTIONS, type OptionSpec } from './flags.js';
import { submitAndFollow } from './submit.js';
import { refused } from '../../errors.js';
import { NO_INSTANCE_HERE } from '../../working-instance.js';
import { LIFECYCLE_COMMAND_TABLE } from './table.js';

export { LIFECYCLE_COMMAND_TABLE } from './table.js';

function addOption(command: Command, option: OptionSpec): Command {
  if (option.required) return command.requiredOption(option.flags, option.description, option.default);
  return command.option(option.flags, option.description, option.default);
}

/** Registers one row: its argument and options, and an action that prepares and submits. */
function registerRow(program: Command, ctx: CliContext, row: LifecycleCommand): void {
  const command = program.command(row.name).description(row.description).argument(row.argument.name, row.argument.description);
  for (const option of [...row.options, ...COMMON_OPTIONS]) addOption(command, option);
  command.action(async (id: string | undefined, _options: unknown, invoked: Command) => {
    // An explicit id wins; create names its instance in its file.
    const instance = id ?? (row.name === 'create' ? undefined : ctx.instanceHere());
    if (instance === undefined && row.name !== 'create') throw refused(NO_INSTANCE_HERE);
    const { flags, submission } = await row.prepare({ ...invoked.opts(), instance }, () => ctx.backend(invoked).store);
    await submitAndFollow(ctx, invoked, submission, flags);
  });
}

/** Registers every lifecycle command of the table, in its order. */
export function registerLifecycleCommands(program: Command, ctx: CliContext): void {
  for (const row of LIFECYCLE_COMMAND_TABLE) registerRow(program, ctx, row);
}

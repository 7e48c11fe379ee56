/**
 * The help manifest (cli/invocation.ts), made from the command tree itself: what `mi` prints for
 * each help and version invocation, and which command groups make up each top-level command
 * (a group may add a subcommand to another's command: compliance adds `instance extend`).
 * `npm run build` writes it beside the compiled CLI (write-help-manifest.ts).
 */
import { Command } from 'commander';
import { createContext } from './context.js';
import { REGISTRATIONS } from './commands/index.js';
import type { HelpManifest, Reply } from './invocation.js';
import { buildProgram, runCli } from './main.js';

/** Help is the same whatever the environment: it is rendered under none. */
const NO_ENV = {};

async function replyTo(args: readonly string[]): Promise<Reply> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, env: NO_ENV });
  return { stdout, stderr, code };
}

function pathsOf(command: Command, prefix: string[] = []): string[][] {
  return command.commands.flatMap((sub) => [[...prefix, sub.name()], ...pathsOf(sub, [...prefix, sub.name()])]);
}

/** A top-level command's shape: its subcommands and options, all the way down. */
function shapeOf(command: Command): string {
  return JSON.stringify([command.options.map((o) => o.flags), command.commands.map((c) => [c.name(), shapeOf(c)])]);
}

/** Which groups make up each top-level command: those whose registration created or changed it. */
async function groupsOfCommands(): Promise<Record<string, string[]>> {
  const ctx = createContext({ stdout: { write: () => true }, stderr: { write: () => true }, env: NO_ENV });
  const program = await buildProgram(ctx, new Set());
  const groups: Record<string, string[]> = {};
  for (const registration of REGISTRATIONS) {
    const before = new Map(program.commands.map((c) => [c.name(), shapeOf(c)]));
    (await registration.load())(program, ctx);
    for (const command of program.commands) {
      if (before.get(command.name()) !== shapeOf(command)) (groups[command.name()] ??= []).push(registration.key);
    }
  }
  // Completion is made from every command.
  groups.completion = REGISTRATIONS.map((r) => r.key);
  await ctx.close();
  return groups;
}

export async function buildHelpManifest(): Promise<HelpManifest> {
  const ctx = createContext({ stdout: { write: () => true }, stderr: { write: () => true }, env: NO_ENV });
  const program = await buildProgram(ctx);
  await ctx.close();
  const valueOptions = program.options.filter((o) => o.required || o.optional).flatMap((o) => [o.short, o.long].filter((f): f is string => f !== undefined));
  const paths = pathsOf(program);
  const invocations: string[][] = [[], ['--help'], ['--version'], ['help'], ...paths.map((p) => [...p, '--help']), ...program.commands.map((c) => ['help', c.name()])];
  const replies: Record<string, Reply> = {};
  for (const args of invocations) replies[args.join(' ')] = await replyTo(args);
  return { version: program.version() ?? '0.0.0', valueOptions, paths: paths.map((p) => p.join(' ')), replies, groups: await groupsOfCommands() };
}

/**
 * What one row of the lifecycle table says: the command's name, arguments and options as
 * commander shows them, its flags schema, and how the request is built from the parsed flags.
 * A refusal names the flag at fault by the row's own options, so a row restates nothing.
 */
import type { z } from 'zod';
import type { PersonLifecycleCommand } from '../../../shared/commands/index.js';
import type { LifecyclePayloads } from '../../../shared/events/index.js';
import type { StateStore } from '../../../shared/ports.js';
import { parseFlags } from '../../flags.js';
import { COMMON_OPTIONS, type CommonFlagValues, type OptionSpec } from './flags.js';

/** What a command asks the lifecycle function to do (the commands function adds the caller, the reason, ids). */
export type LifecycleRequest = {
  [K in PersonLifecycleCommand]: { type: K; instanceId: string; payload: LifecyclePayloads[K] };
}[PersonLifecycleCommand];

/** A request, how the "published" line names its target, and a line to print before publishing. */
export interface Submission {
  request: LifecycleRequest;
  summary: string;
  /** Printed (unless --json) once the operation id is known, before the command is published. */
  notice?: (operationId: string) => string;
}

/** What a row's `prepare` may use: the store (opened on first use), and the labels of its flags. */
export interface PrepareContext {
  store(): StateStore;
  /** The flag (or argument) each parsed field comes from, for a refusal that names it. */
  labels: Readonly<Record<string, string>>;
}

/** A row as written: typed by its own flags schema. */
export interface LifecycleCommandSpec<S extends z.ZodType<CommonFlagValues>> {
  name: string;
  description: string;
  /** `<instance>` or `[instance]`, with its help. */
  argument: { name: string; description: string };
  /** The command's own options, shown before the common ones. */
  options: readonly OptionSpec[];
  flags: S;
  /** Checks what the CLI can check up front (refusing with exit 2) and builds the request. */
  prepare(flags: z.output<S>, ctx: PrepareContext): Promise<Submission>;
}

/** A row of the table, its flags schema folded into `prepare`. */
export interface LifecycleCommand {
  name: string;
  description: string;
  argument: { name: string; description: string };
  options: readonly OptionSpec[];
  /** Parses the argument and options, then prepares the submission. */
  prepare(values: Record<string, unknown>, store: () => StateStore): Promise<{ flags: CommonFlagValues; submission: Submission }>;
}

/** `--ttl-hours` is parsed as `ttlHours`: commander's own camel case of a long flag. */
function camelCase(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** The label of each field: `<instance>` for the argument, each option's long flag for the rest. */
export function labelsOf(options: readonly OptionSpec[]): Record<string, string> {
  const labels: Record<string, string> = { instance: '<instance>' };
  for (const option of [...options, ...COMMON_OPTIONS]) {
    const long = /--([a-z][a-z0-9-]*)/.exec(option.flags)?.[1];
    if (long !== undefined) labels[camelCase(long)] = `--${long}`;
  }
  return labels;
}

/** Turns a typed row into a table row: the flags are parsed (naming a wrong one) before `prepare`. */
export function lifecycleCommand<S extends z.ZodType<CommonFlagValues>>(spec: LifecycleCommandSpec<S>): LifecycleCommand {
  return {
    name: spec.name,
    description: spec.description,
    argument: spec.argument,
    options: spec.options,
    async prepare(values, store) {
      const labels = labelsOf(spec.options);
      const flags = parseFlags(spec.flags, values, labels);
      return { flags, submission: await spec.prepare(flags, { store, labels }) };
    },
  };
}

/**
 * What every lifecycle command's flags share: the fields (`--reason`, `--wait`, `--timeout`,
 * `--json`, and the instance argument) and the options commander shows for them.
 */
import * as z from 'zod';
import { instanceIdSchema } from '../../../shared/events/index.js';
import { DEFAULT_REASON, DEFAULT_WAIT_TIMEOUT } from '../../config.js';
import { durationSchema, reasonSchema } from '../../flags.js';

/** One commander option: its flags text, help, and default or requiredness. */
export interface OptionSpec {
  flags: string;
  description: string;
  default?: string;
  required?: true;
}

/** What the submit-and-follow helper reads of every command's flags. */
export interface CommonFlagValues {
  reason: string;
  wait?: boolean | undefined;
  timeout: number;
  json?: boolean | undefined;
}

/** The fields every row's schema starts from (`create` makes the instance optional). */
export const commonFlags = {
  instance: instanceIdSchema,
  reason: reasonSchema,
  wait: z.boolean().optional(),
  timeout: durationSchema,
  json: z.boolean().optional(),
};

/** The options every lifecycle command has, after its own. */
export const COMMON_OPTIONS: readonly OptionSpec[] = [
  { flags: '--reason <text>', description: 'why: recorded with the operation and in the audit trail', default: DEFAULT_REASON },
  { flags: '--wait', description: 'follow the operation, showing its steps as they pass; exit 0 only if it succeeds' },
  { flags: '--timeout <duration>', description: 'with --wait: how long to wait (such as 90s, 30m, 2h)', default: DEFAULT_WAIT_TIMEOUT },
  { flags: '--json', description: 'print what was published (and with --wait, the operation document as stored) as JSON' },
];

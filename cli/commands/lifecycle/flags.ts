/**
 * The lifecycle commands' flags: those every one shares (`--reason`, `--wait`, `--timeout`,
 * `--json`), each command's schema, and the label a refusal names for each field.
 */
import { z } from 'zod';
import {
  backupPayloadSchema,
  domainSchema,
  environmentSchema,
  instanceIdSchema,
  isoTimestampSchema,
  regionSchema,
  slugSchema,
  tierSchema,
  versionSchema,
} from '../../../shared/events/index.js';
import { DEFAULT_REASON, DEFAULT_WAIT_TIMEOUT } from '../../config.js';
import { durationSchema, reasonSchema } from '../../flags.js';

/** The flag (or argument) each parsed field came from. */
export const LABELS: Record<string, string> = {
  instance: '<instance>',
  reason: '--reason',
  timeout: '--timeout',
  note: '--note',
  to: '--to',
  file: '--file',
  env: '--env',
  tier: '--tier',
  slug: '--slug',
  domain: '--domain',
  region: '--region',
  version: '--version',
  ttlHours: '--ttl-hours',
  backupRun: '--backup-run',
  gkeBackup: '--gke-backup',
  toTime: '--to-time',
  confirm: '--confirm',
  toRegion: '--to-region',
};

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

const commonFlags = {
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

export const backupFlags = z.object({ ...commonFlags, note: backupPayloadSchema.shape.note });

export const upgradeFlags = z.object({ ...commonFlags, to: versionSchema });

export const createFlags = z.object({
  ...commonFlags,
  instance: instanceIdSchema.optional(),
  file: z.string().optional(),
  env: environmentSchema.optional(),
  tier: tierSchema.optional(),
  slug: slugSchema.optional(),
  domain: domainSchema.optional(),
  region: regionSchema.optional(),
  version: versionSchema.optional(),
  ttlHours: z.coerce.number().optional(),
});

export const restoreFlags = z
  .object({
    ...commonFlags,
    backupRun: z.string().optional(),
    gkeBackup: z.string().optional(),
    toTime: isoTimestampSchema.optional(),
  })
  .refine((f) => (f.toTime === undefined) !== (f.backupRun === undefined && f.gkeBackup === undefined), {
    error: 'give either --to-time, or --backup-run and/or --gke-backup',
    path: ['toTime'],
  });

export const deleteFlags = z.object({ ...commonFlags, confirm: z.string().optional() });

export const drFlags = z.object({ ...commonFlags, toRegion: regionSchema });

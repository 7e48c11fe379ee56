/**
 * Flags and arguments are a boundary like any other: each is parsed with zod into a typed
 * value, and a failure names the flag that was wrong.
 */
import * as z from 'zod';
import { refused } from './errors.js';

/** Parses `values` with `schema`; on failure, a refusal naming the flag (from `labels`) at fault. */
export function parseFlags<S extends z.ZodType>(schema: S, values: unknown, labels: Record<string, string>): z.output<S> {
  const parsed = schema.safeParse(values, { reportInput: true });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const key = issue?.path[0];
  // A scalar schema (one argument) has no path: its label is under ''.
  const label = typeof key === 'string' ? (labels[key] ?? `--${key}`) : (labels[''] ?? 'arguments');
  throw refused(`${label}: ${issue?.message ?? 'invalid'}`);
}

const DURATION = /^([0-9]+)(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** A duration such as 500ms, 90s, 30m or 2h (a bare number is seconds), in milliseconds. */
export const durationSchema = z
  .string({ error: 'expected a duration such as 90s, 30m or 2h' })
  .regex(DURATION, { error: 'expected a duration such as 90s, 30m or 2h' })
  .transform((text) => {
    const [, amount = '0', unit = 's'] = DURATION.exec(text) ?? [];
    return Number(amount) * (UNIT_MS[unit] ?? 1_000);
  })
  .refine((ms) => ms > 0 && ms <= 7 * 24 * 3_600_000, { error: 'expected a duration above 0 and at most 7 days' });

/** Why the operator asks, recorded in the envelope and the audit trail. */
export const reasonSchema = z
  .string({ error: 'expected why (text)' })
  .trim()
  .min(1, { error: 'expected why, not an empty text' })
  .max(1000, { error: 'expected at most 1000 characters' });

/** A Google Cloud project id: 6-30 lowercase letters, digits or hyphens, starting with a letter. */
export const projectIdSchema = z
  .string({ error: 'expected a project id' })
  .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, {
    error: 'expected a Google Cloud project id: 6-30 lowercase letters, digits or hyphens, starting with a letter',
  });

/** An operation id as stored (a Firestore document id: no slashes). */
export const operationIdSchema = z
  .string({ error: 'expected an operation id' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,200}$/, { error: 'expected an operation id such as op-<event id>' });

/** A loopback or network port. */
export const portSchema = z.coerce
  .number({ error: 'expected a port number' })
  .int({ error: 'expected a whole port number' })
  .min(1, { error: 'expected a port between 1 and 65535' })
  .max(65_535, { error: 'expected a port between 1 and 65535' });

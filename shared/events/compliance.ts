import * as z from 'zod';
import { lazySchema } from '../lazy-schema.js';
import { isoTimestampSchema } from './instance.js';

/** Types on `mi-checks`: one message per instance (or per run, for the schedules) of a check run. */
export const COMPLIANCE_TYPES = ['compliance.check', 'compliance.run-requested'] as const;
export type ComplianceType = (typeof COMPLIANCE_TYPES)[number];

/** A compliance run id: `<schedule>-<slot start as yyyymmddThhmmZ>`, or `manual-…` for `mi compliance run`. */
export const RUN_ID_PATTERN = /^[a-z][a-z0-9-]{2,80}$/;

export const COMPLIANCE_PAYLOAD_SCHEMAS = {
  'compliance.check': lazySchema(() =>
    z.strictObject({
      runId: z.string().regex(RUN_ID_PATTERN, { error: 'expected a compliance run id' }),
      /** What to check: one instance's backups (the envelope names it), or the Cloud Scheduler jobs once per run. */
      target: z.enum(['instance', 'schedules'], { error: 'expected target "instance" or "schedules"' }),
      /** The moment the run judges against (the slot's publish time): every finding of a run uses the same. */
      asOf: isoTimestampSchema,
    }),
  ),
  /** `mi compliance run`: a run now, on `mi-compliance` beside the schedules' own messages; its run id is keyed to the event id. */
  'compliance.run-requested': lazySchema(() =>
    z.strictObject({
      schedule: z.enum(['verify-backups', 'check-retention', 'compliance-report', 'restore-drill'], {
        error: 'expected verify-backups, check-retention, compliance-report or restore-drill',
      }),
    }),
  ),
} as const satisfies Record<ComplianceType, z.ZodType>;

export type CompliancePayloads = { [K in ComplianceType]: z.infer<(typeof COMPLIANCE_PAYLOAD_SCHEMAS)[K]> };

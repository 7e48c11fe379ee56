import * as z from 'zod';
import { lazySchema } from '../lazy-schema.js';
import { isoTimestampSchema } from './instance.js';

/** Facts published on `mi-events` for anyone listening. */
export const FACT_TYPES = [
  'operation.accepted',
  'operation.rejected',
  'operation.succeeded',
  'operation.failed',
  'operation.stuck',
  'operation.abandoned',
  'instance.expiring',
  'alert',
] as const;
export type FactType = (typeof FACT_TYPES)[number];

/** What an alert is about: how notifications route and page it (shared/domain/notify). */
export const ALERT_KINDS = [
  'operation-stuck',
  'rollout-halted',
  'rollout-slot-reconciled',
  'compliance-failed',
  'compliance-incomplete',
  'break-glass',
  'access-review',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** Why an event was refused, so automated sources know whether to try again. */
export const REJECTION_CODES = [
  'busy',
  'unknown-instance',
  'invalid',
  'not-newer',
  'not-active',
  'not-implemented',
  'already-exists',
  'confirmation-required',
  'outside-recovery-window',
  'missing-backups',
  /** A rollback with nothing to go back to, or one that must be a restore (the upgrade ran migrations). */
  'no-rollback',
  /** The deployment lacks what the command needs (a central backup project). */
  'not-configured',
  /** An upgrade a rollout decided before it halted or was aborted: nothing decided before a halt runs after it. */
  'rollout-halted',
] as const;
export type RejectionCode = (typeof REJECTION_CODES)[number];

const operationRef = {
  operationId: lazySchema(() => z.string().min(1)),
  operationType: lazySchema(() => z.string().min(1)),
  /** The rollout that started it (an upgrade of a rollout): its outcome is recorded there. */
  rolloutId: lazySchema(() => z.string().min(1).optional()),
};

export const FACT_PAYLOAD_SCHEMAS = {
  'operation.accepted': lazySchema(() => z.strictObject({ ...operationRef })),
  'operation.rejected': lazySchema(() =>
    z.strictObject({
      code: z.enum(REJECTION_CODES),
      message: z.string(),
      causeEventId: z.string(),
      causeType: z.string(),
      rolloutId: z.string().min(1).optional(),
    }),
  ),
  'operation.succeeded': lazySchema(() => z.strictObject({ ...operationRef, result: z.record(z.string(), z.unknown()) })),
  'operation.failed': lazySchema(() => z.strictObject({ ...operationRef, failedStep: z.string(), reason: z.string() })),
  'operation.stuck': lazySchema(() => z.strictObject({ ...operationRef, deadline: isoTimestampSchema, stillRunning: z.array(z.string()) })),
  'operation.abandoned': lazySchema(() => z.strictObject({ ...operationRef, by: z.string(), why: z.string() })),
  'instance.expiring': lazySchema(() => z.strictObject({ expiresAt: isoTimestampSchema })),
  alert: lazySchema(() =>
    z.strictObject({
      // Optional for the alerts published before kinds existed; every publisher names one.
      kind: z.enum(ALERT_KINDS).optional(),
      severity: z.enum(['info', 'warning', 'critical']),
      summary: z.string(),
      details: z.record(z.string(), z.unknown()),
    }),
  ),
} as const satisfies Record<FactType, z.ZodType>;

export type FactPayloads = { [K in FactType]: z.infer<(typeof FACT_PAYLOAD_SCHEMAS)[K]> };

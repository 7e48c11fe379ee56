import * as z from 'zod';
import { lazySchema } from '../lazy-schema.js';
import { commitIdSchema } from './deployments.js';
import { instanceSpecSchema, isoTimestampSchema, regionSchema, versionSchema } from './instance.js';

/** The lifecycle commands a person may send (through the commands function). */
export const PERSON_LIFECYCLE_COMMANDS = ['instance.create', 'instance.upgrade', 'instance.restore', 'instance.delete', 'instance.disaster-recovery', 'instance.backup', 'instance.check'] as const;

/** Lifecycle commands, published on `mi-lifecycle`: a person's, and the control plane's own (module applies, remediations, drills). */
export const LIFECYCLE_COMMANDS = [...PERSON_LIFECYCLE_COMMANDS, 'instance.module-apply', 'instance.remediate', 'instance.restore-drill'] as const;
export type LifecycleCommandType = (typeof LIFECYCLE_COMMANDS)[number];

const noteSchema = lazySchema(() =>
  z.string({ error: 'expected a note (a string)' }).max(500, {
    error: 'expected a note of at most 500 characters',
  }),
);

/**
 * The deployment repository's commit the operation's builds run (on the protected branch): set
 * by the commands function when it accepts a person's command (the branch head, unless the
 * command names one it checked is on the branch).
 */
const atCommit = { commit: lazySchema(() => commitIdSchema.optional()) };

export const createPayloadSchema = lazySchema(() =>
  z.strictObject(
    {
      spec: instanceSpecSchema,
      ...atCommit,
      /** Lifetime of a dev instance when the spec names no expiry (default 7 days). */
      ttlHours: z
        .number({ error: 'expected a number of hours' })
        .int({ error: 'expected a whole number of hours' })
        .min(1, { error: 'expected at least 1 hour' })
        .max(24 * 90, { error: 'expected at most 2160 hours (90 days)' })
        .optional(),
    },
    { error: 'expected a payload object' },
  ),
);


/** The fan-out (a rollout or a workflow) that decided a command: refused (rollout-halted) once it halted or was aborted. */
const fanOutIdSchema = lazySchema(() => z.string({ error: 'expected a rollout or workflow id' }).regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: 'expected a rollout or workflow id such as ro-20261126-100000-ab12 or wf-20261201-100000-ab12' }));

/**
 * An upgrade to a newer version, or a rollback: the previous version recorded on the
 * instance's last upgrade, redeployed (refused when that upgrade ran database migrations).
 */
export const upgradePayloadSchema = lazySchema(() =>
  z
    .strictObject(
      {
        targetVersion: versionSchema.optional(),
        rollback: z.literal(true, { error: 'expected rollback: true (or no rollback)' }).optional(),
        /** The rollout that decided it: refused (rollout-halted) once that rollout halted or was aborted. */
        rolloutId: fanOutIdSchema.optional(),
        ...atCommit,
      },
      { error: 'expected a payload object' },
    )
    .refine((p) => (p.targetVersion === undefined) !== (p.rollback === undefined), {
      error: 'expected either targetVersion (the version to run) or rollback: true, not both or neither',
    }),
);

const backupSourceSchema = lazySchema(() =>
  z
    .strictObject(
      {
        kind: z.literal('backup', { error: 'expected "backup" or "point-in-time"' }),
        /** A Cloud SQL backup run id (int64 as a decimal string, as the API returns it). */
        cloudSqlBackupRunId: z
          .string({ error: 'expected a Cloud SQL backup run id (a string of digits)' })
          .regex(/^[0-9]{1,20}$/, { error: 'expected a Cloud SQL backup run id (a string of digits)' })
          .optional(),
        /** A Backup for GKE backup name: projects/P/locations/L/backupPlans/B/backups/ID. */
        gkeBackup: z
          .string({ error: 'expected a GKE backup name (a string)' })
          .regex(/^projects\/[^/]+\/locations\/[^/]+\/backupPlans\/[^/]+\/backups\/[^/]+$/, {
            error: 'expected a GKE backup name projects/P/locations/L/backupPlans/B/backups/ID',
          })
          .optional(),
      },
      { error: 'expected a restore source object' },
    )
    .refine((source) => source.cloudSqlBackupRunId !== undefined || source.gkeBackup !== undefined, {
      error: 'expected cloudSqlBackupRunId, gkeBackup or both',
    }),
);

const pointInTimeSourceSchema = lazySchema(() =>
  z.strictObject(
    {
      kind: z.literal('point-in-time', { error: 'expected "backup" or "point-in-time"' }),
      time: isoTimestampSchema,
    },
    { error: 'expected a restore source object' },
  ),
);

export const restorePayloadSchema = lazySchema(() =>
  z.strictObject(
    {
      ...atCommit,
      source: z.discriminatedUnion('kind', [backupSourceSchema, pointInTimeSourceSchema], {
        // A bad or absent kind is reported at source.kind; anything but an object at source.
        error: (issue) =>
          issue.code === 'invalid_union'
            ? 'expected "backup" or "point-in-time"'
            : 'expected a restore source object with kind "backup" or "point-in-time"',
      }),
    },
    { error: 'expected a payload object' },
  ),
);

export const deletePayloadSchema = lazySchema(() =>
  z.strictObject(
    {
      /** A prod delete must repeat the instance slug, so a wrong id cannot delete a customer. */
      confirmSlug: z.string({ error: 'expected the instance slug (a string)' }).optional(),
      ...atCommit,
    },
    { error: 'expected a payload object' },
  ),
);

export const disasterRecoveryPayloadSchema = lazySchema(() =>
  z.strictObject(
    { targetRegion: regionSchema, ...atCommit },
    { error: 'expected a payload object' },
  ),
);

export const backupPayloadSchema = lazySchema(() =>
  z.strictObject(
    { note: noteSchema.optional(), rolloutId: fanOutIdSchema.optional() },
    { error: 'expected a payload object' },
  ),
);

/**
 * The read-only checks of a running instance: `health`, it answers healthy and reports the
 * version it is recorded on; `backup-policy`, its Cloud SQL and GKE backup configuration meets
 * the policy. Nothing is changed, whatever they find.
 */
export const INSTANCE_CHECKS = ['health', 'backup-policy'] as const;
export type InstanceCheck = (typeof INSTANCE_CHECKS)[number];

export const checkPayloadSchema = lazySchema(() =>
  z.strictObject(
    {
      /** Which checks to run (default: all of them). */
      checks: z
        .array(z.enum(INSTANCE_CHECKS, { error: `expected a check: one of ${INSTANCE_CHECKS.join(', ')}` }), { error: 'expected a list of checks' })
        .min(1, { error: 'expected at least one check' })
        .refine((checks) => new Set(checks).size === checks.length, { error: 'expected each check at most once' })
        .optional(),
      note: noteSchema.optional(),
      rolloutId: fanOutIdSchema.optional(),
    },
    { error: 'expected a payload object' },
  ),
);

/** An infrastructure module of the deployment repository, planned or applied at a merge commit. */
export const moduleApplyPayloadSchema = lazySchema(() =>
  z.strictObject(
    {
      module: z.string({ error: 'expected a module name (a string)' }).regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { error: 'expected a module name (a folder under terraform/stacks)' }),
      commit: z.string({ error: 'expected a commit id (a string)' }).regex(/^([0-9a-f]{40}|[0-9a-f]{64})$/, { error: 'expected a full commit id' }),
      action: z.enum(['plan', 'apply'], { error: 'expected "plan" or "apply"' }),
      /** The moduleApplies document this run reports to. */
      applyId: z.string({ error: 'expected a module apply id (a string)' }).regex(/^[a-z0-9][a-z0-9._()-]{0,200}$/, { error: 'expected a module apply id' }),
      /** An apply of a confirmed plan: the sha256 of the saved plan file the person confirmed. */
      planDigest: z.string({ error: 'expected a plan digest (a string)' }).regex(/^[0-9a-f]{64}$/, { error: 'expected a plan digest: 64 lowercase hex digits (sha256)' }).optional(),
      /** A workflow's plan or apply: the workflow. */
      rolloutId: fanOutIdSchema.optional(),
    },
    { error: 'expected a payload object' },
  ),
);

const complianceRunIdSchema = lazySchema(() => z.string({ error: 'expected a compliance run id (a string)' }).regex(/^[a-z][a-z0-9-]{2,80}$/, { error: 'expected a compliance run id' }));

/** Drift a compliance run found safe to fix (backup settings, retention), patched to policy. */
export const remediatePayloadSchema = lazySchema(() =>
  z.strictObject(
    {
      runId: complianceRunIdSchema,
      controls: z.array(z.string().regex(/^[a-z]+\.[a-z-]+$/, { error: 'expected a control id such as sql.point-in-time-recovery' }), { error: 'expected a list of control ids' }).min(1, { error: 'expected at least one control' }),
    },
    { error: 'expected a payload object' },
  ),
);

/** The weekly restore drill of one instance: latest Cloud SQL backup into a throwaway instance. */
export const restoreDrillPayloadSchema = lazySchema(() => z.strictObject({ runId: complianceRunIdSchema }, { error: 'expected a payload object' }));

export const LIFECYCLE_PAYLOAD_SCHEMAS = {
  'instance.create': createPayloadSchema,
  'instance.upgrade': upgradePayloadSchema,
  'instance.restore': restorePayloadSchema,
  'instance.delete': deletePayloadSchema,
  'instance.disaster-recovery': disasterRecoveryPayloadSchema,
  'instance.backup': backupPayloadSchema,
  'instance.check': checkPayloadSchema,
  'instance.module-apply': moduleApplyPayloadSchema,
  'instance.remediate': remediatePayloadSchema,
  'instance.restore-drill': restoreDrillPayloadSchema,
} as const satisfies Record<LifecycleCommandType, z.ZodType>;

export type LifecyclePayloads = {
  [K in LifecycleCommandType]: z.infer<(typeof LIFECYCLE_PAYLOAD_SCHEMAS)[K]>;
};

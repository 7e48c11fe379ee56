import * as z from 'zod';
import { lazySchema } from '../lazy-schema.js';
import semver from 'semver';
import { quote } from './text.js';

/** Instance ids: lowercase letters, digits and hyphens, starting with a letter; immutable. */
export const INSTANCE_ID_PATTERN = /^[a-z][a-z0-9-]{0,38}[a-z0-9]$/;
export const instanceIdSchema = lazySchema(() =>
  z
    .string({ error: 'expected an instance id (a string)' })
    .regex(INSTANCE_ID_PATTERN, {
      error: 'expected an instance id: 2-40 lowercase letters, digits or hyphens, starting with a letter',
    }),
);

export const slugSchema = lazySchema(() =>
  z
    .string({ error: 'expected a slug (a string)' })
    .regex(/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/, {
      error: 'expected a slug: 1-32 lowercase letters, digits or hyphens, not starting or ending with a hyphen',
    }),
);

export const ENVIRONMENTS = ['dev', 'prod'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];
export const environmentSchema = lazySchema(() => z.enum(ENVIRONMENTS, { error: 'expected "dev" or "prod"' }));

export const TIERS = ['internal', 'customer'] as const;
export type Tier = (typeof TIERS)[number];
export const tierSchema = lazySchema(() => z.enum(TIERS, { error: 'expected "internal" or "customer"' }));

export const domainSchema = lazySchema(() =>
  z
    .string({ error: 'expected a domain name (a string)' })
    .max(253, { error: 'expected a domain name of at most 253 characters' })
    .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, {
      error: 'expected a lowercase domain name such as acme.example.com',
    }),
);

/** A Google Cloud region name such as us-central1 or northamerica-northeast2. */
export const regionSchema = lazySchema(() =>
  z
    .string({ error: 'expected a region (a string)' })
    .regex(/^[a-z]+-[a-z]+[1-9][0-9]?$/, { error: 'expected a Google Cloud region such as us-central1' }),
);

/** A strict semantic version (no leading "v", no ranges). */
export const versionSchema = lazySchema(() =>
  z
    .string({ error: 'expected a semantic version (a string)' })
    .refine((value) => semver.valid(value) === value, {
      error: (issue) => `expected a semantic version such as 5.4.2, got ${quote(issue.input)}`,
    }),
);

export const isoTimestampSchema = lazySchema(() =>
  z.iso.datetime({
    offset: true,
    error: 'expected an ISO 8601 timestamp such as 2026-11-26T10:00:00Z',
  }),
);

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/** When automated upgrades of a customer instance may start, in the instance's time zone. */
export const maintenanceWindowSchema = lazySchema(() =>
  z.strictObject(
    {
      days: z
        .array(z.enum(WEEKDAYS, { error: 'expected a day: mon, tue, wed, thu, fri, sat or sun' }), {
          error: 'expected a list of days',
        })
        .min(1, { error: 'expected at least one day' })
        .refine((days) => new Set(days).size === days.length, { error: 'expected each day at most once' }),
      start: z.string({ error: 'expected a start time "HH:MM"' }).regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, {
        error: 'expected a start time "HH:MM" between 00:00 and 23:59',
      }),
      hours: z
        .number({ error: 'expected a number of hours' })
        .int({ error: 'expected a whole number of hours' })
        .min(1, { error: 'expected at least 1 hour' })
        .max(24, { error: 'expected at most 24 hours' }),
      timeZone: z
        .string({ error: 'expected an IANA time zone such as America/New_York' })
        .refine(isTimeZone, { error: 'expected an IANA time zone such as America/New_York' }),
    },
    { error: 'expected a maintenance window {days, start, hours, timeZone}' },
  ),
);
export type MaintenanceWindow = z.infer<typeof maintenanceWindowSchema>;

/** The instance spec: `config.yaml` in the deployment repository and the spec part of `instances/{id}`. */
export const instanceSpecSchema = lazySchema(() =>
  z
    .strictObject(
      {
        id: instanceIdSchema,
        slug: slugSchema,
        environment: environmentSchema,
        tier: tierSchema,
        domain: domainSchema,
        region: regionSchema,
        version: versionSchema,
        maintenanceWindow: maintenanceWindowSchema.optional(),
        expiresAt: isoTimestampSchema.optional(),
        /** Who a dev instance belongs to: told of its expiry. */
        owner: z.email({ error: 'expected the owner\'s email' }).optional(),
      },
      { error: 'expected an instance spec object' },
    )
    .superRefine((spec, ctx) => {
      if (spec.environment === 'dev' && spec.tier !== 'internal') {
        ctx.addIssue({ code: 'custom', path: ['tier'], message: 'expected "internal": every dev instance is internal' });
      }
      if (spec.environment === 'dev' && spec.owner === undefined) {
        ctx.addIssue({ code: 'custom', path: ['owner'], message: "is missing (every dev instance names its owner's email: they are told before it expires)" });
      }
      if (spec.tier === 'customer' && spec.maintenanceWindow === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['maintenanceWindow'],
          message: 'is missing (every customer instance needs a maintenance window)',
        });
      }
      if (spec.environment === 'prod' && spec.expiresAt !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['expiresAt'], message: 'expected no expiry: a prod instance does not expire' });
      }
    }),
);
export type InstanceSpec = z.infer<typeof instanceSpecSchema>;

export const INSTANCE_STATUSES = [
  'provisioning',
  'active',
  'upgrading',
  'backing-up',
  'applying',
  'remediating',
  'drilling',
  /** Under read-only checks (health, backup configuration): nothing is changed. */
  'checking',
  'restoring',
  'recovering',
  'deleting',
  'deleted',
  'failed',
  /** Runs, but failed a health gate after a change: takes a rollback, a restore, a backup or a delete. */
  'degraded',
] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

/** The lease an operation holds on its instance while it runs. */
export interface Lease {
  operationId: string;
  operationType: string;
  acquiredAt: string;
}

/** The Google Cloud resources behind an instance, owned by the control plane. */
export interface InstanceResources {
  project: string;
  sqlInstance: string;
  gkeCluster: string;
  backupPlan: string;
  backupPlanRegion: string;
}

/** The last upgrade that changed the running version: what a rollback goes back to. */
export interface UpgradeRecord {
  operationId: string;
  fromVersion: string;
  toVersion: string;
  /** What its run reported; null when it did not say (then only a restore goes back). */
  migrationsRan: boolean | null;
  /** It was itself a rollback: there is nothing further back to roll to. */
  rollback: boolean;
  /** The backups taken just before it. */
  sqlBackupRunId?: string;
  gkeBackup?: string;
  at: string;
}

/** `instances/{id}`: the spec plus what the control plane owns. */
export interface InstanceRecord extends InstanceSpec {
  status: InstanceStatus;
  resources: InstanceResources;
  lease: Lease | null;
  generation: number;
  createdAt: string;
  updatedAt: string;
  lastOperationId?: string;
  lastUpgrade?: UpgradeRecord;
}

import * as z from 'zod';
import { lazySchema } from '../lazy-schema.js';
import { environmentSchema, instanceIdSchema, instanceSpecSchema, isoTimestampSchema, regionSchema, versionSchema } from './instance.js';

/** Types on `mi-deployments`: what a merge on the deployment repository changed, as references. */
export const DEPLOYMENT_TYPES = ['deployment.pushed', 'deployment.write-back'] as const;
export type DeploymentEventType = (typeof DEPLOYMENT_TYPES)[number];

/** A git commit id (SHA-1, or SHA-256 for repositories that use it). */
export const commitIdSchema = lazySchema(() =>
  z.string({ error: 'expected a commit id (a string)' }).regex(/^([0-9a-f]{40}|[0-9a-f]{64})$/, {
    error: 'expected a full commit id: 40 (or 64) lowercase hex digits',
  }),
);

const moduleNameSchema = lazySchema(() => z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { error: 'expected a module name (a folder under terraform/stacks)' }));

export const instanceChangeSchema = lazySchema(() =>
  z.strictObject({
    instanceId: instanceIdSchema,
    environment: environmentSchema,
    config: z.enum(['changed', 'removed']).nullable(),
    modules: z.array(moduleNameSchema).max(200),
  }),
);

/** At most this many instances travel in one message; past it the consumer compares the commits itself. */
export const MAX_CHANGES_IN_MESSAGE = 5_000;

export const DEPLOYMENT_PAYLOAD_SCHEMAS = {
  'deployment.pushed': lazySchema(() =>
    z.strictObject({
      /** owner/name of the deployment repository. */
      repository: z.string().min(3).max(200),
      ref: z.string().min(1).max(300),
      before: commitIdSchema,
      /** The merge commit: everything is read and applied at this commit. */
      after: commitIdSchema,
      /** GitHub's `forced`: false means `after` descends from `before` (a fast-forward). Absent on older messages: unknown. */
      forced: z.boolean().optional(),
      committedAt: isoTimestampSchema,
      /** Who merged, as GitHub names them (a claim carried for the audit, not an identity). */
      mergedBy: z.string().min(1).max(200),
      /** The GitHub logins of the pushed commits' authors (claims too; absent on older messages). */
      authors: z.array(z.string().min(1).max(100)).max(100).optional(),
      deliveryId: z.string().min(1).max(100),
      changes: z.discriminatedUnion('source', [
        z.strictObject({
          source: z.literal('payload'),
          instances: z.array(instanceChangeSchema).max(MAX_CHANGES_IN_MESSAGE),
          ignoredPaths: z.number().int().min(0),
        }),
        /** The payload may be incomplete: compare `before` and `after` through the repository. */
        z.strictObject({ source: z.literal('compare'), reason: z.string().min(1).max(500) }),
      ]),
    }),
  ),
  /** An operation changed an instance's spec: write it to its config.yaml, so the repository and the record agree. */
  'deployment.write-back': lazySchema(() =>
    z.strictObject({
      environment: environmentSchema,
      operationId: z.string().regex(/^op-[0-9a-z-]{1,120}$/, { error: 'expected an operation id' }),
      operationType: z.string().min(1).max(40),
      before: z.strictObject({ version: versionSchema.optional(), region: regionSchema.optional() }),
      after: z.strictObject({ version: versionSchema.optional(), region: regionSchema.optional() }).refine((a) => Object.keys(a).length > 0, { error: 'names no field to write' }),
      /** The whole spec, when the folder may hold no config.yaml yet (a create). */
      spec: instanceSpecSchema.optional(),
    }),
  ),
} as const satisfies Record<DeploymentEventType, z.ZodType>;

export type DeploymentPayloads = { [K in DeploymentEventType]: z.infer<(typeof DEPLOYMENT_PAYLOAD_SCHEMAS)[K]> };

import * as z from 'zod';
import { lazySchema } from '../lazy-schema.js';
import { isoTimestampSchema } from './instance.js';

/** Runs the executor knows how to do. */
export const EXECUTOR_ACTIONS = ['provision', 'upgrade', 'apply', 'plan', 'destroy', 'switch-over', 'verify'] as const;
export type ExecutorAction = (typeof EXECUTOR_ACTIONS)[number];

/** Types on `mi-executor-requests` and `mi-executor-results`. */
export const EXECUTOR_TYPES = ['executor.run-requested', 'executor.run-finished'] as const;
export type ExecutorType = (typeof EXECUTOR_TYPES)[number];

export const RUN_KEY_PATTERN = /^[a-z0-9][a-z0-9:._-]{0,199}$/;

export const EXECUTOR_PAYLOAD_SCHEMAS = {
  'executor.run-requested': lazySchema(() =>
    z.strictObject({
      /** The executor deduplicates runs by this key (operation and step). */
      runKey: z.string().regex(RUN_KEY_PATTERN, { error: 'expected a run key' }),
      action: z.enum(EXECUTOR_ACTIONS),
      params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
      /** The runner refuses the request after this time: it never starts a run asked for too long ago. */
      refuseAfter: isoTimestampSchema,
    }),
  ),
  'executor.run-finished': lazySchema(() =>
    z.strictObject({
      runKey: z.string().regex(RUN_KEY_PATTERN, { error: 'expected a run key' }),
      action: z.enum(EXECUTOR_ACTIONS),
      /** `interrupted`: the run ended part-way through (timed out, cancelled, lost), maybe holding a lock. */
      outcome: z.enum(['succeeded', 'failed', 'interrupted'], { error: 'expected outcome "succeeded", "failed" or "interrupted"' }),
      detail: z.string().max(2000),
      /** What the run's steps reported (an upgrade: whether migrations ran), kept on its step. */
      outputs: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,39}$/, { error: 'expected an output name' }), z.string().max(500)).optional(),
    }),
  ),
} as const satisfies Record<ExecutorType, z.ZodType>;

export type ExecutorPayloads = { [K in ExecutorType]: z.infer<(typeof EXECUTOR_PAYLOAD_SCHEMAS)[K]> };

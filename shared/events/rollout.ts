import * as z from 'zod';
import { lazySchema } from '../lazy-schema.js';

/** Types on `mi-rollout`: a nudge to plan the next upgrades of one rollout. */
export const ROLLOUT_TYPES = ['rollout.tick'] as const;
export type RolloutEventType = (typeof ROLLOUT_TYPES)[number];

/** Why a tick was published (for logs and the audit trail; a tick carries no state). */
export const TICK_CAUSES = ['start', 'upgrade-finished', 'control', 'schedule', 'more-to-start'] as const;

export const ROLLOUT_PAYLOAD_SCHEMAS = {
  'rollout.tick': lazySchema(() =>
    z.strictObject({
      rolloutId: z
        .string({ error: 'expected a rollout id (a string)' })
        .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: 'expected a rollout id such as ro-20261126-100000-ab12' }),
      cause: z.enum(TICK_CAUSES, { error: `expected a cause: ${TICK_CAUSES.join(', ')}` }),
    }),
  ),
} as const satisfies Record<RolloutEventType, z.ZodType>;

export type RolloutPayloads = { [K in RolloutEventType]: z.infer<(typeof ROLLOUT_PAYLOAD_SCHEMAS)[K]> };

/**
 * Cloud Build's Pub/Sub notifications (https://cloud.google.com/build/docs/subscribe-build-notifications):
 * the Build resource as base64 JSON in `data`, its id and status in the attributes. Read here
 * only far enough to know whether the build is one of ours and which run it is: what the build
 * ended as is then read from the Builds API, since notifications arrive late, twice, or out of order.
 */
import * as z from 'zod';
import { lazySchema } from '../lazy-schema.js';
import { BUILD_STATUSES, CONTROL_PLANE_TAG, RUN_KEY_SUBSTITUTION, runTagOf, type BuildStatus } from '../domain/executor/index.js';
import { decodeJsonData, DecodeError, EXECUTOR_ACTIONS, type DeliveredMessage, type ExecutorAction } from '../events/index.js';

export type BuildNotice =
  | { kind: 'ours'; runKey: string; buildId: string; status: BuildStatus; action: ExecutorAction }
  | { kind: 'foreign'; buildId: string; reason: string };

const NOTIFIED_BUILD = lazySchema(() =>
  z.looseObject({
    id: z.string({ error: 'expected the build id' }).min(1),
    status: z.enum(BUILD_STATUSES, { error: `expected one of ${BUILD_STATUSES.join(', ')}` }),
    tags: z.array(z.string()).optional(),
    substitutions: z.record(z.string(), z.string()).optional(),
  }),
);

/** What a notification says; a message that is not a Build at all throws a DecodeError (recorded, not redelivered). */
export function readBuildNotification(data: string | undefined, message: DeliveredMessage): BuildNotice {
  const parsed = NOTIFIED_BUILD.safeParse(decodeJsonData(data));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DecodeError('payload', issue && issue.path.length > 0 ? issue.path.map(String).join('.') : undefined, `is not a Cloud Build notification: ${issue?.message ?? 'invalid'}`);
  }
  const build = parsed.data;
  const attributeId = message.attributes.buildId;
  if (attributeId !== undefined && attributeId !== build.id) throw new DecodeError('payload', 'attributes.buildId', `names build ${attributeId}, but the data is build ${build.id}`);
  const tags = build.tags ?? [];
  if (!tags.includes(CONTROL_PLANE_TAG)) return { kind: 'foreign', buildId: build.id, reason: 'not a build of the control plane (no mi-run tag)' };
  const runKey = build.substitutions?.[RUN_KEY_SUBSTITUTION];
  if (runKey === undefined || !tags.includes(runTagOf(runKey))) return { kind: 'foreign', buildId: build.id, reason: 'its run key and its tags do not agree' };
  const action = EXECUTOR_ACTIONS.find((a) => tags.includes(`mi-action-${a}`));
  if (action === undefined) return { kind: 'foreign', buildId: build.id, reason: 'it names no action of the executor' };
  return { kind: 'ours', runKey, buildId: build.id, status: build.status, action };
}

/**
 * What a person may ask of the control plane through the `commands` function, one schema per
 * command. None of them names who asks: the caller is the verified ID token's, and a body that
 * tries to say otherwise is refused by name, so nobody believes a claimed identity was used.
 */
import * as z from 'zod';
import { lazySchema } from '../lazy-schema.js';
import { ROLLOUT_ACTIONS } from '../domain/rollout/control.js';
import { WORKFLOW_ACTIONS } from '../domain/rollout/types.js';
import { COMPLIANCE_PAYLOAD_SCHEMAS, ENVIRONMENTS, PERSON_LIFECYCLE_COMMANDS, checkStrings, DecodeError, instanceIdSchema, issueToDecodeError, versionSchema } from '../events/index.js';

export { PERSON_LIFECYCLE_COMMANDS };

export type PersonLifecycleCommand = (typeof PERSON_LIFECYCLE_COMMANDS)[number];

/** A body over this is not a command. */
export const MAX_COMMAND_BODY_BYTES = 64 * 1024;

/** Fields by which a body would claim who asks. */
const IDENTITY_FIELDS = new Set(['approver', 'approvedby', 'by', 'email', 'actor', 'user', 'username', 'caller', 'identity', 'principal', 'sub', 'subject', 'requestedby', 'confirmedby', 'origin']);

export const SELF_DECLARED_IDENTITY = 'who asks is taken from your ID token, not from the request';

const reason = lazySchema(() =>
  z
    .string({ error: 'expected why (text)' })
    .trim()
    .min(1, { error: 'expected why, not an empty text' })
    .max(1000, { error: 'expected at most 1000 characters' }),
);
/** Chosen by the caller, so that sending the same request again is one command, not two. */
const eventId = lazySchema(() => z.uuid({ error: 'expected a UUID the caller chose for this request' }).transform((id) => id.toLowerCase()));
const operationId = lazySchema(() => z.string({ error: 'expected an operation id' }).regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,200}$/, { error: 'expected an operation id such as op-<event id>' }));

const lifecycleRequest = lazySchema(() =>
  z.strictObject({
    command: z.enum(PERSON_LIFECYCLE_COMMANDS),
    eventId,
    instanceId: instanceIdSchema,
    reason,
    /** Checked against the command's own schema when the envelope is built. */
    payload: z.looseObject({}, { error: 'expected the payload of the command (an object)' }),
  }),
);

const approveRequest = lazySchema(() => z.strictObject({ command: z.literal('operation.approve'), operationId }));
const abandonRequest = lazySchema(() => z.strictObject({ command: z.literal('operation.abandon'), operationId, reason }));

const applyId = lazySchema(() => z.string().regex(/^[a-z0-9][a-z0-9._()-]{0,200}$/, { error: 'expected a module apply id such as cus-acme.networking.0123456789ab' }));

/** A saved plan's text, read from the plans bucket with the control plane's own account (people hold no grant on it). */
const applyPlanRequest = lazySchema(() => z.strictObject({ command: z.literal('apply.plan'), applyId }));

const confirmRequest = lazySchema(() =>
  z
    .strictObject({
      command: z.literal('apply.confirm'),
      applyId: applyId.optional(),
      module: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { error: 'expected a module name' }).optional(),
      commit: z.string().regex(/^[0-9a-f]{7,64}$/, { error: 'expected a commit id (at least 7 hex digits)' }).optional(),
    })
    .refine((r) => (r.applyId !== undefined) !== (r.module !== undefined && r.commit !== undefined) && (r.module === undefined) === (r.commit === undefined), {
      error: 'expected applyId, or module and commit, not both',
    }),
);

const extendRequest = lazySchema(() =>
  z.strictObject({
    command: z.literal('instance.extend'),
    instanceId: instanceIdSchema,
    hours: z.number({ error: 'expected a number of hours' }).int({ error: 'expected a whole number of hours' }).min(1, { error: 'expected at least 1 hour' }).max(24 * 90, { error: 'expected at most 2160 hours (90 days)' }),
    reason,
  }),
);

const rolloutStartRequest = lazySchema(() =>
  z.strictObject({
    command: z.literal('rollout.start'),
    targetVersion: versionSchema,
    /** The waves as `mi rollout start --waves` spells them; the default waves when absent. */
    waves: z.string({ error: 'expected a wave spec such as "dev,internal,canary,customers"' }).max(2000).optional(),
    busyRetryMs: z.number({ error: 'expected milliseconds' }).int().min(1_000).max(24 * 3_600_000).optional(),
    reason,
  }),
);

const fanOutId = lazySchema(() => z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: 'expected a rollout or workflow id such as ro-20261126-100000-ab12 or wf-20261201-100000-ab12' }));

const rolloutControlRequest = lazySchema(() =>
  z.strictObject({
    command: z.literal('rollout.control'),
    /** A rollout's or a workflow's: both are paused, resumed, promoted and aborted alike. */
    rolloutId: fanOutId,
    action: z.enum(ROLLOUT_ACTIONS, { error: `expected one of ${ROLLOUT_ACTIONS.join(', ')}` }),
    reason,
  }),
);

/** One executor action across a filtered set of one environment's instances, on the rollout planner's waves. */
const workflowStartRequest = lazySchema(() =>
  z.strictObject({
    command: z.literal('workflow.start'),
    action: z.enum(WORKFLOW_ACTIONS, { error: `expected an action: one of ${WORKFLOW_ACTIONS.join(', ')}` }),
    environment: z.enum(ENVIRONMENTS, { error: `expected an environment: one of ${ENVIRONMENTS.join(', ')}` }),
    /** key=value terms, all of which an instance must match (mi workflow run --filter). */
    filter: z.array(z.string().min(3, { error: 'expected key=value' }).max(200), { error: 'expected a list of key=value terms' }).max(20).optional(),
    module: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { error: 'expected a module name (a folder under terraform/stacks)' }).optional(),
    /** An apply: the plan workflow whose saved plans it applies. */
    plans: fanOutId.optional(),
    concurrency: z.number({ error: 'expected a number' }).int({ error: 'expected a whole number' }).min(1, { error: 'expected at least 1' }).max(100, { error: 'expected at most 100' }),
    budget: z.number({ error: 'expected a number' }).int({ error: 'expected a whole number' }).min(0, { error: 'expected at least 0' }).max(10_000).optional(),
    reason,
  }),
);

/** A second person's approval of a workflow that changes prod. */
const workflowApproveRequest = lazySchema(() => z.strictObject({ command: z.literal('workflow.approve'), workflowId: fanOutId, reason }));

/** A workflow's outputs: read with the control plane's own account (a plan's text is in the plans bucket). */
const workflowOutputRequest = lazySchema(() =>
  z.strictObject({
    command: z.literal('workflow.output'),
    workflowId: fanOutId,
    after: instanceIdSchema.optional(),
    limit: z.number().int().min(1).max(500).optional(),
  }),
);

/** Read with the control plane's own account, so that finding a backup in an incident needs no access grant. */
const backupListRequest = lazySchema(() =>
  z.strictObject({
    command: z.literal('backup.list'),
    instanceId: instanceIdSchema,
    limit: z.number().int().min(1).max(200).optional(),
  }),
);

const accessReviewRequest = lazySchema(() =>
  z.strictObject({
    command: z.literal('access.review'),
    /** The break-glass grant's id (the last part of its name). */
    grant: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/, { error: 'expected a grant id (mi access list shows them)' }),
    reason,
  }),
);

const complianceRunRequest = lazySchema(() =>
  z.strictObject({
    command: z.literal('compliance.run'),
    eventId,
    schedule: COMPLIANCE_PAYLOAD_SCHEMAS['compliance.run-requested'].shape.schedule,
  }),
);

/** Every command, as the `command` field names it. */
export const COMMAND_NAMES = [
  ...PERSON_LIFECYCLE_COMMANDS,
  'operation.approve',
  'operation.abandon',
  'apply.confirm',
  'apply.plan',
  'instance.extend',
  'rollout.start',
  'rollout.control',
  'workflow.start',
  'workflow.approve',
  'workflow.output',
  'compliance.run',
  'access.review',
  'backup.list',
] as const;

export const commandRequestSchema = lazySchema(() =>
  z.discriminatedUnion(
    'command',
    [lifecycleRequest, approveRequest, abandonRequest, confirmRequest, applyPlanRequest, extendRequest, rolloutStartRequest, rolloutControlRequest, workflowStartRequest, workflowApproveRequest, workflowOutputRequest, complianceRunRequest, accessReviewRequest, backupListRequest],
    { error: `expected a command: one of ${COMMAND_NAMES.join(', ')}` },
  ),
);
export type CommandRequest = z.infer<typeof commandRequestSchema>;
export type CommandName = CommandRequest['command'];
export type LifecycleRequest = z.infer<typeof lifecycleRequest>;


/** The identity fields a body (or its payload) names. */
function claimedIdentity(body: Record<string, unknown>): string[] {
  const payload = body.payload;
  const nested = typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? Object.keys(payload).map((k) => `payload.${k}`) : [];
  return [...Object.keys(body), ...nested].filter((field) => IDENTITY_FIELDS.has(field.replace(/^payload\./, '').toLowerCase()));
}

/** The request, or what is wrong with it (naming the field). */
export function parseCommandRequest(body: unknown): { request: CommandRequest } | { problem: string; field?: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || Buffer.isBuffer(body)) {
    return { problem: 'expected a JSON object { "command": "…", … } sent with Content-Type: application/json' };
  }
  const claimed = claimedIdentity(body as Record<string, unknown>);
  if (claimed.length > 0) return { problem: `${SELF_DECLARED_IDENTITY} (remove ${claimed.join(', ')})`, field: claimed[0] ?? '' };
  try {
    checkStrings(body, 'envelope');
  } catch (error) {
    if (error instanceof DecodeError) return { problem: error.message, ...(error.field === undefined ? {} : { field: error.field }) };
    throw error;
  }
  const parsed = commandRequestSchema.safeParse(body, { reportInput: true });
  if (parsed.success) return { request: parsed.data };
  const decoded = issueToDecodeError('envelope', parsed.error, []);
  return { problem: decoded.message, ...(decoded.field === undefined ? {} : { field: decoded.field }) };
}

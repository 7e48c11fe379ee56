/**
 * `approvals` (HTTP): a second person approves an operation waiting for approval (a prod
 * delete). The approver is the caller of a verified Google ID token, never a field of the
 * request: Pub/Sub messages and request bodies prove nothing about who sent them.
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { z } from 'zod';
import { ControlPlaneError } from '../../shared/errors.js';
import type { ApprovalResult } from '../../shared/engine/index.js';
import type { ApprovalDeps } from '../../shared/services.js';
import { authenticate, bodySize, reply } from './authenticated.js';

/** An approval names one operation: anything bigger is not an approval. */
export const MAX_APPROVAL_BODY_BYTES = 16 * 1024;

export const SELF_DECLARED_IDENTITY = 'the approver is taken from your ID token, not from the request';

/** Fields by which a body would claim who approves; refused by name, so nobody believes they were used. */
const IDENTITY_FIELDS = new Set(['approver', 'approvedby', 'by', 'email', 'actor', 'user', 'username', 'caller', 'identity', 'principal', 'sub', 'subject']);

const approvalBody = z.strictObject({
  operationId: z
    .string({ error: 'operationId: expected the operation id (text)' })
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,200}$/, { error: 'operationId: expected an operation id such as op-<event id>' }),
});

const STATUS_OF_REFUSAL = { 'not-found': 404, 'not-awaiting-approval': 409, 'self-approval': 403 } as const;

/** Why a body is not `{ "operationId": "…" }`, or the operation id. */
function parseBody(body: unknown): { operationId: string } | { problem: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || Buffer.isBuffer(body)) {
    return { problem: 'expected a JSON object { "operationId": "…" } sent with Content-Type: application/json' };
  }
  const claimed = Object.keys(body).filter((field) => IDENTITY_FIELDS.has(field.toLowerCase()));
  if (claimed.length > 0) return { problem: `${SELF_DECLARED_IDENTITY} (remove ${claimed.join(', ')})` };
  const parsed = approvalBody.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (issue?.code === 'unrecognized_keys') return { problem: `unknown field ${issue.keys.join(', ')}: the body is { "operationId": "…" } only` };
  if (issue?.path[0] === 'operationId' && issue.code === 'invalid_type') return { problem: 'operationId: missing, expected the operation id (text)' };
  return { problem: issue?.message ?? 'invalid body' };
}

/** The raw handler: authenticate, parse, approve, answer. Exported for tests. */
export async function handleApproval(req: Request, res: Response, deps: ApprovalDeps): Promise<void> {
  if (req.method !== 'POST') {
    res.set('Allow', 'POST');
    reply(res, 405, { error: 'method-not-allowed', message: `${req.method} is not allowed: POST { "operationId": "…" }` });
    return;
  }
  if (bodySize(req) > MAX_APPROVAL_BODY_BYTES) {
    reply(res, 413, { error: 'too-large', message: `the body is over ${MAX_APPROVAL_BODY_BYTES} bytes: an approval is { "operationId": "…" }` });
    return;
  }

  // Authenticate before reading the body: an anonymous caller learns nothing about operations.
  const caller = await authenticate(req, res, deps, 'mi-approvals', 'mi approve');
  if (caller === undefined) return;

  const body = parseBody(req.body);
  if ('problem' in body) {
    reply(res, 400, { error: 'invalid-request', message: body.problem });
    return;
  }

  let outcome: ApprovalResult;
  try {
    outcome = await deps.approver.approve(body.operationId, caller);
  } catch (error) {
    if (error instanceof ControlPlaneError && error.retryable) {
      // The transaction may or may not have committed: a retry then answers 409 if it did.
      reply(res, 503, { error: error.code, message: `the approval of ${body.operationId} could not be recorded (${error.message}); try again` });
      return;
    }
    throw error;
  }
  if (outcome.kind === 'approved') {
    reply(res, 200, { approved: outcome.operationId, by: caller.email });
    return;
  }
  reply(res, STATUS_OF_REFUSAL[outcome.code], { error: outcome.code, message: outcome.message });
}

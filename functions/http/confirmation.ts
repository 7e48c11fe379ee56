/**
 * `applyConfirmations` (HTTP): a person confirms a planned module apply, or an instance delete
 * found in the deployment repository: one apply by id, or every instance of one module at one
 * commit. Who confirms is the caller of a verified Google ID token, never a field of the body.
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { z } from 'zod';
import { ControlPlaneError } from '../../shared/errors.js';
import { authenticate, bodySize, reply } from './authenticated.js';
import type { ConfirmationDeps } from '../../shared/services.js';

export const MAX_CONFIRMATION_BODY_BYTES = 16 * 1024;

const bodySchema = z.union([
  z.strictObject({ applyId: z.string().regex(/^[a-z0-9][a-z0-9._()-]{0,200}$/, { error: 'applyId: expected a module apply id such as cus-acme.networking.0123456789ab' }) }),
  z.strictObject({
    module: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { error: 'module: expected a module name' }),
    commit: z.string().regex(/^[0-9a-f]{7,64}$/, { error: 'commit: expected a commit id (at least 7 hex digits)' }),
  }),
]);

const STATUS_OF_REFUSAL = { 'not-found': 404, 'not-awaiting-confirmation': 409 } as const;

/** The raw handler: authenticate, parse, confirm, answer. Exported for tests. */
export async function handleConfirmation(req: Request, res: Response, deps: ConfirmationDeps): Promise<void> {
  if (req.method !== 'POST') {
    res.set('Allow', 'POST');
    reply(res, 405, { error: 'method-not-allowed', message: 'POST { "applyId": "…" } or { "module": "…", "commit": "…" }' });
    return;
  }
  if (bodySize(req) > MAX_CONFIRMATION_BODY_BYTES) {
    reply(res, 413, { error: 'too-large', message: 'a confirmation names one apply, or one module and commit' });
    return;
  }
  const caller = await authenticate(req, res, deps, 'mi-apply-confirmations', 'mi apply confirm');
  if (caller === undefined) return;
  const parsed = bodySchema.safeParse(req.body);
  if (!parsed.success) {
    reply(res, 400, { error: 'invalid-request', message: 'expected { "applyId": "…" } or { "module": "…", "commit": "…" }; who confirms comes from your ID token' });
    return;
  }
  const target = 'applyId' in parsed.data ? { id: parsed.data.applyId } : parsed.data;
  let outcome;
  try {
    outcome = await deps.confirmer.confirm(target, caller);
  } catch (error) {
    if (error instanceof ControlPlaneError && error.retryable) {
      reply(res, 503, { error: error.code, message: `the confirmation could not be recorded (${error.message}); try again` });
      return;
    }
    throw error;
  }
  if (outcome.kind === 'confirmed') {
    reply(res, 200, { confirmed: outcome.confirmed, by: outcome.by });
    return;
  }
  reply(res, STATUS_OF_REFUSAL[outcome.code], { error: outcome.code, message: outcome.message });
}

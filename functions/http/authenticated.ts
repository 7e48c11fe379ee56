/**
 * The front door of the people's function (`commands`): answers that are never cached, a size
 * limit, and the caller taken from a verified Google ID token, never from the request body.
 *
 * Deployed privately, Cloud Run checks the invoker's token itself and passes the checked header
 * on with its signature removed. So `mi` sends its token twice: in `X-Serverless-Authorization`,
 * which Cloud Run checks (when present it checks that one alone), and in `Authorization`, which
 * reaches the function intact and is verified here. A token without its signature proves nothing
 * and is refused, naming the header it came in.
 */
import type { Request, Response } from '@google-cloud/functions-framework';
import { ControlPlaneError } from '../../shared/errors.js';
import type { IdentityPort, VerifiedCaller } from '../../shared/ports.js';

/** A JSON answer that no proxy keeps. */
export function reply(res: Response, status: number, body: Record<string, unknown>): void {
  res.status(status).set('Cache-Control', 'no-store').json(body);
}

/** The larger of the declared and the received size of the body. */
export function bodySize(req: Request): number {
  const declared = Number(req.get('content-length') ?? 0);
  return Math.max(Number.isFinite(declared) ? declared : 0, req.rawBody?.length ?? 0);
}

/** Who may call: tokens for one of these audiences, with a verified email, of one of these domains (any when absent). */
export interface CallerPolicy {
  identity: IdentityPort;
  audiences: readonly string[];
  allowedDomains?: readonly string[];
}

const BOTH_HEADERS = 'send the ID token in both X-Serverless-Authorization (checked by Cloud Run) and Authorization (verified by this function), as mi does';

/** The token to verify (from Authorization), or why there is none to verify. */
export function callerToken(authorization: string | undefined, serverless: string | undefined): { token: string } | { missing: string } {
  if (authorization === undefined || authorization.trim() === '') {
    if (serverless !== undefined && serverless.trim() !== '') return { missing: `no Authorization header: Cloud Run removes the signature of the X-Serverless-Authorization token it checks, so ${BOTH_HEADERS}` };
    return { missing: 'missing Authorization header: send "Authorization: Bearer <Google ID token>" (mi does)' };
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (match?.[1] === undefined) return { missing: 'the Authorization header must be "Bearer <Google ID token>"' };
  const parts = match[1].split('.');
  if (parts.length === 2 || (parts.length === 3 && parts[2] === '')) {
    return { missing: `the ID token in the Authorization header has no signature (Cloud Run removes it from the header it checked): ${BOTH_HEADERS}` };
  }
  return { token: match[1] };
}

function domainOf(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1);
}

/**
 * The verified caller, or undefined once the answer is sent: 401 for a missing or invalid
 * token, 403 for a verified caller of a domain not allowed, 503 when the keys cannot be had
 * right now (not the caller's fault).
 */
export async function authenticate(req: Request, res: Response, policy: CallerPolicy, realm: string): Promise<VerifiedCaller | undefined> {
  const found = callerToken(req.get('authorization'), req.get('x-serverless-authorization'));
  if ('missing' in found) {
    res.set('WWW-Authenticate', `Bearer realm="${realm}"`);
    reply(res, 401, { error: 'unauthenticated', message: found.missing });
    return undefined;
  }
  let caller: VerifiedCaller;
  try {
    caller = await policy.identity.verify(found.token, policy.audiences);
  } catch (error) {
    if (error instanceof ControlPlaneError && error.code === 'unauthenticated') {
      res.set('WWW-Authenticate', `Bearer realm="${realm}", error="invalid_token"`);
      reply(res, 401, { error: 'unauthenticated', message: error.message });
      return undefined;
    }
    if (error instanceof ControlPlaneError && error.retryable) {
      reply(res, 503, { error: error.code, message: `cannot verify ID tokens right now (${error.message}); try again` });
      return undefined;
    }
    throw error;
  }
  const allowed = policy.allowedDomains;
  if (allowed !== undefined && allowed.length > 0 && !allowed.includes(domainOf(caller.email))) {
    reply(res, 403, { error: 'forbidden', message: `${caller.email} is not of an allowed domain (${allowed.join(', ')})` });
    return undefined;
  }
  return caller;
}

/**
 * What the authenticated HTTP functions (approvals, applyConfirmations) share: answers that are
 * never cached, a size limit, and the caller taken from a verified Google ID token in the
 * Authorization header, never from the request body.
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

/** The bearer token of the Authorization header, or why there is none. */
export function bearerToken(header: string | undefined, hint: string): { token: string } | { missing: string } {
  if (header === undefined || header.trim() === '') return { missing: `missing Authorization header: send "Authorization: Bearer <Google ID token>" (${hint} does)` };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match?.[1] === undefined) return { missing: 'the Authorization header must be "Bearer <Google ID token>"' };
  return { token: match[1] };
}

/**
 * The verified caller, or undefined once the answer is sent: 401 for a missing or invalid
 * token, 503 when the keys cannot be had right now (not the caller's fault).
 */
export async function authenticate(
  req: Request,
  res: Response,
  deps: { identity: IdentityPort; audience: string },
  realm: string,
  hint: string,
): Promise<VerifiedCaller | undefined> {
  const bearer = bearerToken(req.get('authorization'), hint);
  if ('missing' in bearer) {
    res.set('WWW-Authenticate', `Bearer realm="${realm}"`);
    reply(res, 401, { error: 'unauthenticated', message: bearer.missing });
    return undefined;
  }
  try {
    return await deps.identity.verify(bearer.token, deps.audience);
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
}

/**
 * The identity port on Google ID tokens: an RS256 JWT whose signature is checked against the
 * key its `kid` names, then its audience, issuer, lifetime and verified email. In the cloud the
 * keys are Google's published JWKS; offline (tests, `mi dev`) they are a locally generated key
 * pair's, so the very same checks run everywhere.
 */
import { createRemoteJWKSet, decodeProtectedHeader, errors, importJWK, importSPKI, importX509, jwtVerify, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { ControlPlaneError } from '../errors.js';
import { systemClock, type Clock, type IdentityPort, type VerifiedCaller } from '../ports.js';

/** The issuers Google's ID tokens carry (both spellings are in use). */
export const GOOGLE_ISSUERS: readonly string[] = ['https://accounts.google.com', 'accounts.google.com'];

/** Google's public signing keys for ID tokens, as a JWKS. */
export const GOOGLE_CERTS_URL = 'https://www.googleapis.com/oauth2/v3/certs';

/**
 * The audience of a person's token printed by `gcloud auth print-identity-token` (no
 * `--audiences`: gcloud refuses those for user accounts): gcloud's own OAuth client.
 */
export const GCLOUD_CLIENT_ID = '32555940559.apps.googleusercontent.com';

/**
 * The audience of tokens from application-default credentials (`gcloud auth
 * application-default login`): another client, which Cloud Run's IAM check refuses.
 */
export const APPLICATION_DEFAULT_CLIENT_ID = '764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com';

/** Clock skew tolerated on `exp` and `iat`: the caller's and our clocks never agree exactly. */
export const DEFAULT_CLOCK_SKEW_SECONDS = 60;

/** A public key: PEM (SPKI `PUBLIC KEY` or X.509 `CERTIFICATE`) or a JWK. */
export type PublicKeyMaterial = string | JWK;

/**
 * Where the verification keys come from, by key id. Called on every verification (so it should
 * cache); called again with `refresh` when a token names a key id it did not return, since Google
 * rotates its keys.
 */
export type KeySource = (options?: { refresh?: boolean }) => Promise<Record<string, PublicKeyMaterial>>;

export interface GoogleIdentityOptions {
  keys: KeySource;
  /** Accepted `iss` values; default GOOGLE_ISSUERS. */
  issuers?: readonly string[];
  clock?: Clock;
  /** Refuse tokens issued longer ago than this (on top of `exp`); default: only `exp` counts. */
  maxTokenAgeSeconds?: number;
  /** Default DEFAULT_CLOCK_SKEW_SECONDS. */
  clockSkewSeconds?: number;
}

const ALGORITHM = 'RS256';

/** A refusal of the token: the caller must get a new one; retrying the same token cannot help. */
function refused(message: string): ControlPlaneError {
  return new ControlPlaneError('unauthenticated', `invalid ID token: ${message}`, { retryable: false });
}

/** The verification key of a key id; imported keys are kept, since importing costs more than verifying. */
function keyImporter(): (kid: string, material: PublicKeyMaterial) => Promise<CryptoKey | Uint8Array> {
  const imported = new Map<string, Promise<CryptoKey | Uint8Array>>();
  return (kid, material) => {
    const cacheKey = `${kid}\n${typeof material === 'string' ? material : JSON.stringify(material)}`;
    let key = imported.get(cacheKey);
    if (key === undefined) {
      key =
        typeof material !== 'string'
          ? importJWK({ ...material, alg: material.alg ?? ALGORITHM }, ALGORITHM)
          : material.includes('BEGIN CERTIFICATE')
            ? importX509(material, ALGORITHM)
            : importSPKI(material, ALGORITHM);
      // A key that fails to import is not kept: the next call may bring a good one.
      key.catch(() => imported.delete(cacheKey));
      imported.set(cacheKey, key);
    }
    return key;
  };
}

/** Why jose refused the token, in words that name the claim and never repeat the token. */
function describeJoseFailure(error: unknown, audiences: readonly string[], issuers: readonly string[]): string | undefined {
  if (error instanceof errors.JWTExpired) return 'expired (its exp has passed)';
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'aud': {
        const claimed = error.payload.aud;
        const fromAdc = claimed === APPLICATION_DEFAULT_CLIENT_ID || (Array.isArray(claimed) && claimed.includes(APPLICATION_DEFAULT_CLIENT_ID));
        if (fromAdc) return 'it comes from application-default credentials, which are not accepted: use `gcloud auth print-identity-token` after `gcloud auth login` (mi does)';
        return `wrong audience: it is not for ${audiences.join(' or ')}`;
      }
      case 'iss':
        return `wrong issuer: expected one of ${issuers.join(', ')}`;
      case 'nbf':
        return 'not valid yet (its nbf is in the future)';
      case 'iat':
        return `bad iat: ${error.reason === 'check_failed' ? 'issued in the future or too long ago' : 'missing or not a number'}`;
      default:
        return `claim ${error.claim} ${error.reason === 'missing' ? 'is missing' : 'is invalid'}`;
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (error instanceof errors.JOSEAlgNotAllowed) return `algorithm not allowed: only ${ALGORITHM}`;
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'malformed token';
  return undefined;
}

function numberClaim(payload: JWTPayload, claim: 'exp' | 'iat'): number {
  const value = payload[claim];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw refused(`claim ${claim} is missing or not a number`);
  return value;
}

/** An IdentityPort that verifies Google ID tokens against the keys `options.keys` gives. */
export function createGoogleIdentity(options: GoogleIdentityOptions): IdentityPort {
  const issuers = options.issuers ?? GOOGLE_ISSUERS;
  const clock = options.clock ?? systemClock;
  const skew = options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
  const importKey = keyImporter();

  async function keysFor(kid: string): Promise<PublicKeyMaterial | undefined> {
    const load = async (refresh: boolean) => {
      try {
        return await options.keys(refresh ? { refresh } : undefined);
      } catch (error) {
        // Not the caller's fault: the keys could not be fetched. Retryable, and not a 401.
        throw new ControlPlaneError('unavailable', 'cannot load the public keys to verify ID tokens', { cause: error });
      }
    };
    return (await load(false))[kid] ?? (await load(true))[kid];
  }

  return {
    async verify(idToken, audience): Promise<VerifiedCaller> {
      const audiences: readonly string[] = typeof audience === 'string' ? [audience] : audience;
      // An empty list would accept no token; a misconfiguration, said as such rather than as the caller's fault.
      if (audiences.length === 0) throw new ControlPlaneError('internal', 'no audience configured to verify ID tokens against', { retryable: false });
      if (typeof idToken !== 'string' || idToken.split('.').length !== 3) throw refused('malformed token (expected three dot-separated parts)');
      let header;
      try {
        header = decodeProtectedHeader(idToken);
      } catch {
        throw refused('malformed token (its header is not base64url JSON)');
      }
      // Checked before any key is looked at: `none` and HMAC tokens never reach a verifier.
      if (header.alg !== ALGORITHM) throw refused(`algorithm not allowed: ${String(header.alg)} (only ${ALGORITHM})`);
      if (typeof header.kid !== 'string' || header.kid === '') throw refused('no key id (kid) in its header');
      const material = await keysFor(header.kid);
      if (material === undefined) throw refused(`unknown key id ${JSON.stringify(header.kid.slice(0, 64))}`);
      let key;
      try {
        key = await importKey(header.kid, material);
      } catch (error) {
        throw new ControlPlaneError('internal', `the public key ${header.kid} cannot be imported`, { cause: error, retryable: false });
      }

      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(idToken, key, {
          algorithms: [ALGORITHM],
          audience: [...audiences],
          issuer: [...issuers],
          clockTolerance: skew,
          currentDate: clock.now(),
          requiredClaims: ['exp', 'iat', 'sub'],
        }));
      } catch (error) {
        const why = describeJoseFailure(error, audiences, issuers);
        if (why !== undefined) throw refused(why);
        // Not something jose reports about tokens: keep the cause (it holds no token) for whoever debugs it.
        throw new ControlPlaneError('unauthenticated', 'invalid ID token: it cannot be verified', { cause: error, retryable: false });
      }

      // jose checks `iat` only together with a maximum age; a token from the future is refused either way.
      const nowSeconds = Math.floor(clock.now().getTime() / 1000);
      const issuedAt = numberClaim(payload, 'iat');
      numberClaim(payload, 'exp');
      if (issuedAt > nowSeconds + skew) throw refused('issued in the future (its iat is after now)');
      if (options.maxTokenAgeSeconds !== undefined && nowSeconds - issuedAt > options.maxTokenAgeSeconds + skew) {
        throw refused(`too old (issued more than ${options.maxTokenAgeSeconds} s ago)`);
      }
      const email = payload.email;
      if (typeof email !== 'string' || email.trim() === '') throw refused('no email claim (ask for a token with the email scope)');
      if (payload.email_verified !== true) throw refused('its email is not verified');
      const subject = payload.sub;
      if (typeof subject !== 'string' || subject === '') throw refused('no subject (sub) claim');
      // Email addresses are compared case-insensitively everywhere (self-approval, audit).
      return { email: email.trim().toLowerCase(), subject };
    },
  };
}

/** The public keys as a record by key id (keys without a `kid` cannot be named by a token). */
export function keysById(keys: readonly JWK[]): Record<string, JWK> {
  return Object.fromEntries(keys.filter((k): k is JWK & { kid: string } => typeof k.kid === 'string').map((k) => [k.kid, k]));
}

/** Google's ID-token keys from its JWKS URL, cached by jose and refetched when stale or asked (production only). */
export function googleJwks(url: string = GOOGLE_CERTS_URL): KeySource {
  const remote = createRemoteJWKSet(new URL(url));
  return async (options) => {
    // The cooldown keeps a flood of tokens with made-up key ids from refetching on every request.
    if (remote.jwks() === undefined || !remote.fresh || (options?.refresh === true && !remote.coolingDown)) await remote.reload();
    return keysById(remote.jwks()?.keys ?? []);
  };
}

/**
 * Google-shaped ID tokens signed by a locally generated RS256 key, for tests and `mi dev`, where
 * Google's keys cannot be reached. The tokens carry Google's issuer, so the production verifier
 * (createGoogleIdentity) checks them unchanged: only the keys it is given differ.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { systemClock, type Clock, type IdentityPort } from '../ports.js';
import { GOOGLE_ISSUERS, createGoogleIdentity, type KeySource } from './google.js';

/** What a local token says; everything but email and audience has a valid default. */
export interface LocalTokenOptions {
  email: string;
  audience: string;
  /** Lifetime from `issuedAt`; default 3600 s, as Google's. */
  expiresInSeconds?: number;
  /** Default: the signer's clock's now. */
  issuedAt?: Date;
  /** Default: the signer's issuer. */
  issuer?: string;
  /** Default true. */
  emailVerified?: boolean;
  /** Default: derived from the email, stable across tokens. */
  subject?: string;
  /** The `kid` header; default the signer's own (tests name unknown ones). */
  kid?: string;
}

export interface LocalSigner {
  readonly kid: string;
  readonly issuer: string;
  /** A signed ID token (compact JWS). */
  sign(options: LocalTokenOptions): Promise<string>;
  /** The public key by key id, as createGoogleIdentity takes them. */
  keys: KeySource;
  publicJwk(): JWK;
  /** The private key as a JWK (with its kid), for `mi dev` to hand to `mi approve`. Secret. */
  exportPrivateJwk(): Promise<JWK>;
}

export interface LocalSignerOptions {
  /** Default: a random `local-…` id. */
  kid?: string;
  /** Default: Google's (`https://accounts.google.com`), so the default verifier accepts the tokens. */
  issuer?: string;
  clock?: Clock;
  /** Reuse a key exported by exportPrivateJwk (its kid is kept); default: generate one. */
  privateJwk?: JWK;
}

const ALGORITHM = 'RS256';
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'] as const;

/** The public half of an RSA private JWK. */
function publicPart(jwk: JWK): JWK {
  const copy: Record<string, unknown> = { ...jwk };
  for (const member of PRIVATE_MEMBERS) delete copy[member];
  return copy;
}

/** A signer with a fresh RS256 key pair (or the given one). */
export async function createLocalSigner(options: LocalSignerOptions = {}): Promise<LocalSigner> {
  const clock = options.clock ?? systemClock;
  const issuer = options.issuer ?? GOOGLE_ISSUERS[0] ?? 'https://accounts.google.com';
  let privateKey: CryptoKey;
  let privateJwk: JWK;
  if (options.privateJwk !== undefined) {
    if (options.privateJwk.kty !== 'RSA' || typeof options.privateJwk.d !== 'string') throw new Error('the local signing key must be an RSA private JWK');
    privateJwk = options.privateJwk;
    const imported = await importJWK(privateJwk, ALGORITHM);
    if (imported instanceof Uint8Array) throw new Error('the local signing key must be an RSA private JWK');
    privateKey = imported;
  } else {
    // Extractable so `mi dev` can hand it to `mi approve` in another process.
    const pair = await generateKeyPair(ALGORITHM, { extractable: true });
    privateKey = pair.privateKey;
    privateJwk = await exportJWK(pair.privateKey);
  }
  const kid = options.kid ?? options.privateJwk?.kid ?? `local-${randomBytes(8).toString('hex')}`;
  const publicJwk: JWK = { ...publicPart(privateJwk), kid, alg: ALGORITHM, use: 'sig' };

  return {
    kid,
    issuer,
    async sign(token) {
      const issuedAt = Math.floor((token.issuedAt ?? clock.now()).getTime() / 1000);
      return new SignJWT({ email: token.email, email_verified: token.emailVerified ?? true })
        .setProtectedHeader({ alg: ALGORITHM, kid: token.kid ?? kid, typ: 'JWT' })
        .setIssuer(token.issuer ?? issuer)
        .setAudience(token.audience)
        .setSubject(token.subject ?? `local:${token.email.toLowerCase()}`)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + (token.expiresInSeconds ?? 3600))
        .sign(privateKey);
    },
    keys: () => Promise.resolve({ [kid]: publicJwk }),
    publicJwk: () => ({ ...publicJwk }),
    exportPrivateJwk: () => Promise.resolve({ ...privateJwk, kid, alg: ALGORITHM }),
  };
}

/** The identity port of local mode and tests: the production verifier, on the signer's public key. */
export function localIdentity(signer: LocalSigner, options: { clock?: Clock; maxTokenAgeSeconds?: number } = {}): IdentityPort {
  return createGoogleIdentity({
    keys: signer.keys,
    issuers: [signer.issuer],
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.maxTokenAgeSeconds === undefined ? {} : { maxTokenAgeSeconds: options.maxTokenAgeSeconds }),
  });
}

import { SignJWT, exportSPKI, generateKeyPair, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { ControlPlaneError } from '../../../shared/errors.js';
import { APPLICATION_DEFAULT_CLIENT_ID, GCLOUD_CLIENT_ID, createGoogleIdentity, createLocalSigner, localIdentity, type KeySource } from '../../../shared/identity/index.js';
import type { Clock, IdentityPort } from '../../../shared/ports.js';
import { controlPlaneFailure } from '../../support/failures.js';

const NOW = new Date('2030-01-01T12:00:00Z');
const clock: Clock = { now: () => NOW };
const AUDIENCE = 'https://commands.example.run.app';
const EMAIL = 'approver@example.com';

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Verifies and returns the refusal; fails the test when the token is accepted. */
async function refusal(identity: IdentityPort, token: string, audience = AUDIENCE): Promise<ControlPlaneError> {
  const refused = await controlPlaneFailure(identity.verify(token, audience));
  expect(refused.code).toBe('unauthenticated');
  expect(refused.retryable).toBe(false);
  // Never echo the token, nor any of its three parts.
  for (const part of token.split('.').filter((p) => p.length > 8)) expect(refused.message).not.toContain(part);
  return refused;
}

// RSA key generation takes about half a second here: one signer serves every test that needs no other.
const shared = createLocalSigner({ clock });

async function fixture() {
  const signer = await shared;
  return { signer, identity: localIdentity(signer, { clock }) };
}

describe('Google ID token verification', () => {
  it('accepts a valid token and returns its verified email and subject', async () => {
    const { signer, identity } = await fixture();
    const token = await signer.sign({ email: EMAIL, audience: AUDIENCE });
    await expect(identity.verify(token, AUDIENCE)).resolves.toEqual({ email: EMAIL, subject: `local:${EMAIL}` });
  });

  it('accepts Google issuers by default, with either spelling', async () => {
    const signer = await createLocalSigner({ clock, issuer: 'accounts.google.com' });
    const identity = createGoogleIdentity({ keys: signer.keys, clock });
    const token = await signer.sign({ email: EMAIL, audience: AUDIENCE });
    await expect(identity.verify(token, AUDIENCE)).resolves.toMatchObject({ email: EMAIL });
  });

  it('lower-cases the email, so the same person is the same approver', async () => {
    const { signer, identity } = await fixture();
    const token = await signer.sign({ email: 'Approver@Example.COM', audience: AUDIENCE, subject: '1234' });
    await expect(identity.verify(token, AUDIENCE)).resolves.toEqual({ email: EMAIL, subject: '1234' });
  });

  it("accepts a token for any of several audiences (the function's URL, gcloud's client id), and no other", async () => {
    const { signer, identity } = await fixture();
    const audiences = [AUDIENCE, GCLOUD_CLIENT_ID];
    for (const audience of audiences) {
      await expect(identity.verify(await signer.sign({ email: EMAIL, audience }), audiences)).resolves.toMatchObject({ email: EMAIL });
    }
    const elsewhere = await signer.sign({ email: EMAIL, audience: 'https://elsewhere.example' });
    const refused = await controlPlaneFailure(identity.verify(elsewhere, audiences));
    expect(refused.message).toBe(`invalid ID token: wrong audience: it is not for ${AUDIENCE} or ${GCLOUD_CLIENT_ID}`);
  });

  it('says why a token from application-default credentials is refused, and what to use instead', async () => {
    const { signer, identity } = await fixture();
    const token = await signer.sign({ email: EMAIL, audience: APPLICATION_DEFAULT_CLIENT_ID });
    expect((await refusal(identity, token, AUDIENCE)).message).toMatch(/application-default credentials, which are not accepted: use `gcloud auth print-identity-token`/);
  });

  it('refuses to verify against no audience at all: a configuration fault, not the caller\'s', async () => {
    const { signer, identity } = await fixture();
    const failure = await controlPlaneFailure(identity.verify(await signer.sign({ email: EMAIL, audience: AUDIENCE }), []));
    expect([failure.code, failure.retryable]).toEqual(['internal', false]);
  });

  it('refuses an expired token', async () => {
    const { signer, identity } = await fixture();
    const token = await signer.sign({ email: EMAIL, audience: AUDIENCE, issuedAt: new Date(NOW.getTime() - 2 * 3600_000), expiresInSeconds: 3600 });
    expect((await refusal(identity, token)).message).toMatch(/expired/);
  });

  it('tolerates a small clock skew on exp, not more', async () => {
    const { signer, identity } = await fixture();
    const justExpired = await signer.sign({ email: EMAIL, audience: AUDIENCE, issuedAt: new Date(NOW.getTime() - 3630_000), expiresInSeconds: 3600 });
    await expect(identity.verify(justExpired, AUDIENCE)).resolves.toMatchObject({ email: EMAIL });
    const expired = await signer.sign({ email: EMAIL, audience: AUDIENCE, issuedAt: new Date(NOW.getTime() - 3700_000), expiresInSeconds: 3600 });
    expect((await refusal(identity, expired)).message).toMatch(/expired/);
  });

  it('refuses a token issued in the future', async () => {
    const { signer, identity } = await fixture();
    const token = await signer.sign({ email: EMAIL, audience: AUDIENCE, issuedAt: new Date(NOW.getTime() + 10 * 60_000) });
    expect((await refusal(identity, token)).message).toMatch(/iat|future/);
  });

  it('refuses a token older than maxTokenAgeSeconds when one is set', async () => {
    const signer = await createLocalSigner({ clock });
    const identity = localIdentity(signer, { clock, maxTokenAgeSeconds: 300 });
    const token = await signer.sign({ email: EMAIL, audience: AUDIENCE, issuedAt: new Date(NOW.getTime() - 20 * 60_000) });
    await refusal(identity, token);
  });

  it('refuses a token for another audience', async () => {
    const { signer, identity } = await fixture();
    const token = await signer.sign({ email: EMAIL, audience: 'https://other.example.run.app' });
    expect((await refusal(identity, token)).message).toMatch(/wrong audience/);
  });

  it('refuses a token from another issuer', async () => {
    const { signer, identity } = await fixture();
    const token = await signer.sign({ email: EMAIL, audience: AUDIENCE, issuer: 'https://evil.example.com' });
    expect((await refusal(identity, token)).message).toMatch(/wrong issuer/);
  });

  it('refuses a token whose key id it does not know, after asking for fresh keys once', async () => {
    const { signer } = await fixture();
    const asked: Array<boolean | undefined> = [];
    const keys: KeySource = async (options) => {
      asked.push(options?.refresh);
      return signer.keys();
    };
    const identity = createGoogleIdentity({ keys, clock, issuers: [signer.issuer] });
    const token = await signer.sign({ email: EMAIL, audience: AUDIENCE, kid: 'rotated-away' });
    expect((await refusal(identity, token)).message).toMatch(/unknown key id/);
    expect(asked).toEqual([undefined, true]);
  });

  it('picks up a rotated key on refresh', async () => {
    const old = await createLocalSigner({ clock });
    const fresh = await createLocalSigner({ clock });
    const keys: KeySource = async (options) => (options?.refresh ? { ...(await old.keys()), ...(await fresh.keys()) } : old.keys());
    const identity = createGoogleIdentity({ keys, clock });
    await expect(identity.verify(await fresh.sign({ email: EMAIL, audience: AUDIENCE }), AUDIENCE)).resolves.toMatchObject({ email: EMAIL });
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const { signer, identity } = await fixture();
    const [header, , signature] = (await signer.sign({ email: 'someone@example.com', audience: AUDIENCE })).split('.');
    const forged = base64url({ email: EMAIL, email_verified: true, aud: AUDIENCE, iss: signer.issuer, sub: 'x', iat: NOW.getTime() / 1000, exp: NOW.getTime() / 1000 + 600 });
    expect((await refusal(identity, `${header}.${forged}.${signature}`)).message).toMatch(/bad signature/);
  });

  it('refuses a token signed with another key under a known key id', async () => {
    const { signer, identity } = await fixture();
    const impostor = await createLocalSigner({ clock, kid: signer.kid });
    const token = await impostor.sign({ email: EMAIL, audience: AUDIENCE });
    expect((await refusal(identity, token)).message).toMatch(/bad signature/);
  });

  it('refuses a token whose email is not verified, or that has none', async () => {
    const { signer, identity } = await fixture();
    expect((await refusal(identity, await signer.sign({ email: EMAIL, audience: AUDIENCE, emailVerified: false }))).message).toMatch(/email is not verified/);
    const withoutEmail = await new SignJWT({ email_verified: true })
      .setProtectedHeader({ alg: 'RS256', kid: signer.kid })
      .setIssuer(signer.issuer)
      .setAudience(AUDIENCE)
      .setSubject('s')
      .setIssuedAt(NOW.getTime() / 1000)
      .setExpirationTime(NOW.getTime() / 1000 + 600)
      .sign(await importJWK(await signer.exportPrivateJwk(), 'RS256'));
    expect((await refusal(identity, withoutEmail)).message).toMatch(/no email/);
  });

  it.each([
    ['not a JWT', 'hello'],
    ['two parts', 'abc.def'],
    ['a header that is not JSON', `${Buffer.from('nope').toString('base64url')}.e30.c2ln`],
    ['an empty token', ''],
  ])('refuses a malformed token: %s', async (_what, token) => {
    const { identity } = await fixture();
    expect((await refusal(identity, token)).message).toMatch(/malformed/);
  });

  it('refuses an unsigned token (alg none)', async () => {
    const { signer, identity } = await fixture();
    const claims = { email: EMAIL, email_verified: true, aud: AUDIENCE, iss: signer.issuer, sub: 'x', iat: NOW.getTime() / 1000, exp: NOW.getTime() / 1000 + 600 };
    const token = `${base64url({ alg: 'none', kid: signer.kid, typ: 'JWT' })}.${base64url(claims)}.`;
    expect((await refusal(identity, token)).message).toMatch(/algorithm not allowed: none/);
  });

  it('refuses an HMAC token keyed with the public key (algorithm confusion)', async () => {
    const { signer, identity } = await fixture();
    const secret = new TextEncoder().encode(JSON.stringify(signer.publicJwk()));
    const token = await new SignJWT({ email: EMAIL, email_verified: true })
      .setProtectedHeader({ alg: 'HS256', kid: signer.kid })
      .setIssuer(signer.issuer)
      .setAudience(AUDIENCE)
      .setSubject('x')
      .setIssuedAt(NOW.getTime() / 1000)
      .setExpirationTime(NOW.getTime() / 1000 + 600)
      .sign(secret);
    expect((await refusal(identity, token)).message).toMatch(/algorithm not allowed: HS256/);
  });

  it('verifies against PEM public keys as well as JWKs', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const identity = createGoogleIdentity({ keys: async () => ({ pem: await exportSPKI(publicKey) }), clock });
    const token = await new SignJWT({ email: EMAIL, email_verified: true })
      .setProtectedHeader({ alg: 'RS256', kid: 'pem' })
      .setIssuer('https://accounts.google.com')
      .setAudience(AUDIENCE)
      .setSubject('1077')
      .setIssuedAt(NOW.getTime() / 1000)
      .setExpirationTime(NOW.getTime() / 1000 + 600)
      .sign(privateKey);
    await expect(identity.verify(token, AUDIENCE)).resolves.toEqual({ email: EMAIL, subject: '1077' });
  });

  it('reports keys it cannot load as unavailable (retryable), not as a bad token', async () => {
    const { signer } = await fixture();
    const identity = createGoogleIdentity({ keys: () => Promise.reject(new Error('ECONNREFUSED')), clock });
    const token = await signer.sign({ email: EMAIL, audience: AUDIENCE });
    const error: unknown = await identity.verify(token, AUDIENCE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ControlPlaneError);
    expect((error as ControlPlaneError).code).toBe('unavailable');
    expect((error as ControlPlaneError).retryable).toBe(true);
  });
});

describe('local signer', () => {
  it('round-trips its private key: a signer rebuilt from the export signs tokens the original accepts', async () => {
    const { signer, identity } = await fixture();
    const exported = await signer.exportPrivateJwk();
    expect(exported.kid).toBe(signer.kid);
    const again = await createLocalSigner({ clock, privateJwk: exported });
    expect(again.kid).toBe(signer.kid);
    await expect(identity.verify(await again.sign({ email: EMAIL, audience: AUDIENCE }), AUDIENCE)).resolves.toMatchObject({ email: EMAIL });
  });

  it('publishes no private member in its public keys', async () => {
    const { signer } = await fixture();
    const keys = await signer.keys();
    expect(Object.keys(keys)).toEqual([signer.kid]);
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(keys[signer.kid]).not.toHaveProperty(member);
  });
});

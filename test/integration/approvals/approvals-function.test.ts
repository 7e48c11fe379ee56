import { getTestServer } from '@google-cloud/functions-framework/testing';
import request from 'supertest';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SELF_DECLARED_IDENTITY } from '../../../functions/approvals.js';
import { useServices } from '../../../functions/wiring.js';
import type { ApprovalResult as ApprovalOutcome, Approver } from '../../../shared/engine/index.js';
import { readEnvironment } from '../../../shared/environment.js';
import { servicesWith } from '../../support/services.js';
import { ControlPlaneError } from '../../../shared/errors.js';
import { createLocalSigner, localIdentity, type LocalSigner } from '../../../shared/identity/index.js';
import type { VerifiedCaller } from '../../../shared/ports.js';
import '../../../functions/approvals.js';

const AUDIENCE = 'https://approvals-test.example.run.app';
const ALICE = 'alice@example.com';

/** A fake engine: answers what the test set for an operation, and remembers who asked. */
function fakeApprover() {
  const calls: Array<{ operationId: string; approver: VerifiedCaller }> = [];
  const answers = new Map<string, ApprovalOutcome | Error>();
  const approver: Approver = {
    approve(operationId, caller) {
      calls.push({ operationId, approver: caller });
      const answer = answers.get(operationId) ?? { kind: 'approved', operationId };
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  };
  return { approver, calls, answers };
}

let signer: LocalSigner;
let fake: ReturnType<typeof fakeApprover>;
const server = () => request(getTestServer('approvals'));
const tokenFor = (email: string, audience = AUDIENCE) => signer.sign({ email, audience });
/** The JSON the function answered. */
const answer = (res: request.Response) => res.body as { error?: string; message?: string; approved?: string; by?: string };

beforeAll(async () => {
  signer = await createLocalSigner();
});

beforeEach(() => {
  fake = fakeApprover();
  useServices(servicesWith({ approvals: { identity: localIdentity(signer), approver: fake.approver, audience: AUDIENCE } }));
});

describe('the approvals function', () => {
  it('refuses a request without a token: 401, WWW-Authenticate Bearer, nothing approved', async () => {
    const res = await server().post('/').send({ operationId: 'op-1' });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(res.body).toEqual({ error: 'unauthenticated', message: expect.stringMatching(/Authorization: Bearer/) as unknown });
    expect(fake.calls).toEqual([]);
  });

  it('refuses a header that is not a bearer token', async () => {
    const res = await server().post('/').set('Authorization', 'Basic YWxpY2U6c2VjcmV0').send({ operationId: 'op-1' });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(fake.calls).toEqual([]);
  });

  it('refuses a bad token with 401 and says why, without echoing it', async () => {
    const garbage = 'eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2lnbmF0dXJl';
    const bad = await server().post('/').set('Authorization', `Bearer ${garbage}`).send({ operationId: 'op-1' });
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
    expect(answer(bad).error).toBe('unauthenticated');
    expect(JSON.stringify(bad.body)).not.toContain(garbage);

    const otherAudience = await server()
      .post('/')
      .set('Authorization', `Bearer ${await tokenFor(ALICE, 'https://elsewhere.example.run.app')}`)
      .send({ operationId: 'op-1' });
    expect(otherAudience.status).toBe(401);
    expect(answer(otherAudience).message).toMatch(/wrong audience/);

    const stranger = await createLocalSigner();
    const forged = await server()
      .post('/')
      .set('Authorization', `Bearer ${await stranger.sign({ email: ALICE, audience: AUDIENCE })}`)
      .send({ operationId: 'op-1' });
    expect(forged.status).toBe(401);
    expect(answer(forged).message).toMatch(/unknown key id/);
    expect(fake.calls).toEqual([]);
  });

  it.each(['approver', 'email', 'actor', 'user', 'approvedBy'])('refuses a body that claims an identity (%s): 400, nothing approved', async (field) => {
    const res = await server()
      .post('/')
      .set('Authorization', `Bearer ${await tokenFor(ALICE)}`)
      .send({ operationId: 'op-1', [field]: 'boss@example.com' });
    expect(res.status).toBe(400);
    expect(answer(res).message).toContain(SELF_DECLARED_IDENTITY);
    expect(answer(res).message).toContain(field);
    expect(fake.calls).toEqual([]);
  });

  it("approves as the token's email, whatever else the request says", async () => {
    const res = await server()
      .post('/')
      .set('Authorization', `Bearer ${await tokenFor(ALICE)}`)
      .set('X-Forwarded-User', 'boss@example.com')
      .send({ operationId: 'op-42' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ approved: 'op-42', by: ALICE });
    expect(fake.calls).toEqual([{ operationId: 'op-42', approver: { email: ALICE, subject: `local:${ALICE}` } }]);
  });

  it.each([
    ['not-found', 404],
    ['not-awaiting-approval', 409],
    ['self-approval', 403],
  ] as const)('answers a refusal %s with %i and its message', async (code, status) => {
    fake.answers.set('op-7', { kind: 'refused', code, message: `refused: ${code}` });
    const res = await server().post('/').set('Authorization', `Bearer ${await tokenFor(ALICE)}`).send({ operationId: 'op-7' });
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ error: code, message: `refused: ${code}` });
  });

  it('answers 503 when the approval cannot be recorded right now', async () => {
    fake.answers.set('op-8', new ControlPlaneError('unavailable', 'Firestore did not answer'));
    const res = await server().post('/').set('Authorization', `Bearer ${await tokenFor(ALICE)}`).send({ operationId: 'op-8' });
    expect(res.status).toBe(503);
    expect(answer(res).message).toMatch(/try again/);
  });

  it.each([
    ['no operationId', {}, /operationId: missing/],
    ['an operationId that is not text', { operationId: 7 }, /operationId/],
    ['an operationId with a slash', { operationId: 'op/1' }, /operationId: expected an operation id/],
    ['an unknown field', { operationId: 'op-1', force: true }, /unknown field force/],
  ])('refuses a body with %s: 400 naming the field', async (_what, body, message) => {
    const res = await server().post('/').set('Authorization', `Bearer ${await tokenFor(ALICE)}`).send(body);
    expect(res.status).toBe(400);
    expect(answer(res).message).toMatch(message);
    expect(fake.calls).toEqual([]);
  });

  it('refuses a body that is not a JSON object', async () => {
    const res = await server().post('/').set('Authorization', `Bearer ${await tokenFor(ALICE)}`).set('Content-Type', 'text/plain').send('op-1');
    expect(res.status).toBe(400);
    expect(answer(res).message).toMatch(/JSON object/);
  });

  it('answers 405 to anything but POST', async () => {
    const res = await server().get('/').set('Authorization', `Bearer ${await tokenFor(ALICE)}`);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(fake.calls).toEqual([]);
  });

  it('answers 413 to an oversized body', async () => {
    const res = await server()
      .post('/')
      .set('Authorization', `Bearer ${await tokenFor(ALICE)}`)
      .send({ operationId: 'op-1', padding: 'x'.repeat(20_000) });
    expect(res.status).toBe(413);
    expect(fake.calls).toEqual([]);
  });
});

describe('the deployed approvals function', () => {
  it('refuses to start without the audience its callers must use', () => {
    const env = { GOOGLE_CLOUD_PROJECT: 'p', MI_CENTRAL_BACKUP_PROJECT: 'mi-central-backups' };
    expect(() => readEnvironment('approvals', env)).toThrow(/MI_APPROVALS_AUDIENCE is missing/);
    expect(() => readEnvironment('approvals', { ...env, MI_APPROVALS_AUDIENCE: '  ' })).toThrow(/MI_APPROVALS_AUDIENCE is empty/);
    expect(readEnvironment('approvals', { ...env, MI_APPROVALS_AUDIENCE: AUDIENCE })).toEqual({ ...env, MI_APPROVALS_AUDIENCE: AUDIENCE });
  });
});

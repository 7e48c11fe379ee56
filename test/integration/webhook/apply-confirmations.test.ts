import { getTestServer } from '@google-cloud/functions-framework/testing';
import request from 'supertest';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useServices } from '../../../functions/wiring.js';
import { servicesWith } from '../../support/services.js';
import type { ConfirmOutcome } from '../../../shared/deployments/index.js';
import { createLocalSigner, localIdentity, type LocalSigner } from '../../../shared/identity/index.js';
import type { VerifiedCaller } from '../../../shared/ports.js';
import '../../../functions/apply-confirmations.js';

const AUDIENCE = 'https://apply-confirmations-test.example.run.app';
let signer: LocalSigner;
let calls: Array<{ target: unknown; caller: VerifiedCaller }>;
const server = () => request(getTestServer('applyConfirmations'));

beforeAll(async () => {
  signer = await createLocalSigner();
});
beforeEach(() => {
  calls = [];
  const confirmer = {
    confirm(target: { id: string } | { module: string; commit: string }, caller: VerifiedCaller): Promise<ConfirmOutcome> {
      calls.push({ target, caller });
      return Promise.resolve('id' in target && target.id === 'missing' ? { kind: 'refused', code: 'not-found', message: 'no module apply missing' } : { kind: 'confirmed', confirmed: ['a'], by: caller.email });
    },
  };
  useServices(servicesWith({ confirmations: { identity: localIdentity(signer), audience: AUDIENCE, confirmer } }));
});

describe('the applyConfirmations function', () => {
  it('refuses a confirmation without an ID token: 401, nothing confirmed', async () => {
    const res = await server().post('/').send({ applyId: 'cus-acme.networking.0123456789ab' });
    expect(res.status).toBe(401);
    expect(calls).toEqual([]);
  });

  it('refuses a token for another audience', async () => {
    const token = await signer.sign({ email: 'carol@example.com', audience: 'https://elsewhere.example' });
    const res = await server().post('/').set('Authorization', `Bearer ${token}`).send({ applyId: 'cus-acme.networking.0123456789ab' });
    expect(res.status).toBe(401);
    expect(calls).toEqual([]);
  });

  it('records who confirmed from the token, never from the body', async () => {
    const token = await signer.sign({ email: 'Carol@Example.com', audience: AUDIENCE });
    const res = await server().post('/').set('Authorization', `Bearer ${token}`).send({ module: 'networking', commit: '0123456789ab' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ confirmed: ['a'], by: 'carol@example.com' });
    expect(calls).toEqual([{ target: { module: 'networking', commit: '0123456789ab' }, caller: { email: 'carol@example.com', subject: 'local:carol@example.com' } }]);
    const claimed = await server().post('/').set('Authorization', `Bearer ${token}`).send({ applyId: 'x.networking.0123456789ab', by: 'mallory@example.com' });
    expect(claimed.status).toBe(400);
  });

  it('answers 404 for an unknown apply', async () => {
    const token = await signer.sign({ email: 'carol@example.com', audience: AUDIENCE });
    const res = await server().post('/').set('Authorization', `Bearer ${token}`).send({ applyId: 'missing' });
    expect(res.status).toBe(404);
  });
});

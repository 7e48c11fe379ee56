/**
 * The dashboard function's front door, through the functions framework: no page for a caller
 * without a verified token, GET only, and a store that cannot answer now is a 503 that says to
 * reload, not a 500.
 */
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { useServices } from '../../../functions/wiring.js';
import { createDashboard } from '../../../shared/dashboard/index.js';
import { ControlPlaneError } from '../../../shared/errors.js';
import { createLocalSigner, localIdentity, type LocalSigner } from '../../../shared/identity/index.js';
import { systemClock, type StateStore } from '../../../shared/ports.js';
import { notGranted } from '../../../shared/service-composition.js';
import { servicesWith } from '../../support/services.js';
import '../../../functions/dashboard.js';

const AUDIENCE = 'https://dashboard.example.run.app';
let signer: LocalSigner;
let reads = 0;

/** A store whose every read fails as a dead Firestore does (after its deadline). */
const unavailable = {
  ...notGranted<StateStore>('writes', 'the dashboard'),
  query: () => {
    reads += 1;
    return Promise.reject(new ControlPlaneError('deadline-exceeded', 'firestore query instances passed its deadline'));
  },
  count: () => Promise.reject(new ControlPlaneError('deadline-exceeded', 'firestore count passed its deadline')),
  get: () => Promise.reject(new ControlPlaneError('deadline-exceeded', 'firestore get passed its deadline')),
} as unknown as StateStore;

beforeAll(async () => {
  signer = await createLocalSigner();
  useServices(servicesWith({ dashboard: { identity: localIdentity(signer), audiences: [AUDIENCE], dashboard: createDashboard({ store: unavailable, clock: systemClock }) } }));
});

const server = () => request(getTestServer('dashboard'));

describe('the dashboard function', () => {
  it('answers a request without a token 401, saying how to send one, and reads nothing', async () => {
    const answer = await server().get('/');
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe('Bearer realm="mi-dashboard"');
    expect((answer.body as { message: string }).message).toContain('missing Authorization header');
    expect(reads).toBe(0);
  });

  it('refuses a token for another audience', async () => {
    const token = await signer.sign({ email: 'alice@example.com', audience: 'https://commands.example.run.app' });
    const answer = await server().get('/').set('authorization', `Bearer ${token}`);
    expect(answer.status).toBe(401);
    expect(reads).toBe(0);
  });

  it('answers a verified caller\'s write 405: the dashboard is read-only', async () => {
    const token = await signer.sign({ email: 'alice@example.com', audience: AUDIENCE });
    const answer = await server().post('/').set('authorization', `Bearer ${token}`).send({});
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('GET, HEAD');
  });

  it('answers 503 with a reload hint when Firestore does not answer in time', async () => {
    const token = await signer.sign({ email: 'alice@example.com', audience: AUDIENCE });
    const answer = await server().get('/').set('authorization', `Bearer ${token}`);
    expect(answer.status).toBe(503);
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.text).toContain("could not read the control plane's state now");
    expect(answer.text).toContain('reload the page');
  });

  it('answers a bad request as a page, with the headers every page has', async () => {
    const token = await signer.sign({ email: 'alice@example.com', audience: AUDIENCE });
    const answer = await server().get('/evidence?run=verify-backups-x').set('authorization', `Bearer ${token}`);
    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toMatch(/^text\/html/);
    expect(answer.headers['content-security-policy']).toContain("default-src 'none'");
    expect(answer.text).toContain('instance must be given once');
  });
});

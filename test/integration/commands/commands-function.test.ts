/**
 * The commands function over HTTP, as the functions framework serves it, on the real services
 * (the engine, the deployments consumer, rollouts, retention) on the Firestore and Pub/Sub
 * emulators: who asks is the verified token's, and nothing else in the request can say otherwise.
 */
import { randomUUID } from 'node:crypto';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useServices } from '../../../functions/wiring.js';
import { SELF_DECLARED_IDENTITY, type CommandRequestRecord } from '../../../shared/commands/index.js';
import type { OperationRecord } from '../../../shared/domain/lifecycle/operations.js';
import type { AuditRecord } from '../../../shared/engine/index.js';
import { readEnvironment } from '../../../shared/environment.js';
import { ControlPlaneError } from '../../../shared/errors.js';
import { APPLICATION_DEFAULT_CLIENT_ID, GCLOUD_CLIENT_ID, createLocalSigner, localIdentity, type LocalSigner } from '../../../shared/identity/index.js';
import type { StateStore } from '../../../shared/ports.js';
import type { ServicesConfig } from '../../../shared/services.js';
import { COLLECTIONS, paths } from '../../../shared/store/collections.js';
import { createEngineFixture, TEST_TIMINGS, type EngineFixture } from '../../support/engine-fixture.js';
import { servicesWith } from '../../support/services.js';
import { MemoryDeploymentRepo } from '../../../shared/deployments/memory-repo.js';
import { LifecycleTap, deliveryOf } from '../cli/support.js';
import { deliver } from '../../../shared/edge.js';
import { lifecycleRoute } from '../../../shared/routes.js';
import '../../../functions/commands.js';

const AUDIENCE = 'https://commands-test.example.run.app';
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';

let f: EngineFixture;
let tap: LifecycleTap;
let signer: LocalSigner;

const server = () => request(getTestServer('commands'));
const tokenFor = (email: string, options: { audience?: string; expiresInSeconds?: number; issuedAt?: Date; emailVerified?: boolean } = {}) =>
  signer.sign({ email, audience: AUDIENCE, ...options });
/** A POST as mi sends it: the token in both headers. */
async function send(body: object, email = ALICE) {
  const token = await tokenFor(email);
  return server().post('/').set('Authorization', `Bearer ${token}`).set('X-Serverless-Authorization', `Bearer ${token}`).send(body);
}
const answer = (res: request.Response) => res.body as { error?: string; message?: string; field?: string; by?: string; accepted?: string; eventId?: string; operationId?: string; repeated?: boolean };

function use(config: Partial<ServicesConfig> = {}, store: StateStore = f.store): void {
  useServices(servicesWith({}, { store, bus: f.bus, clock: f.clock, ...f.fleet.ports(), identity: localIdentity(signer) }, { timings: TEST_TIMINGS, callers: { audiences: [AUDIENCE, GCLOUD_CLIENT_ID] }, ...config }));
}

const backupOf = (instanceId: string, eventId = randomUUID()) => ({ command: 'instance.backup', eventId, instanceId, reason: 'before a data fix', payload: {} });
const requestsFor = async (eventId: string) => f.store.get<CommandRequestRecord>(paths.commandRequest(eventId));

beforeAll(async () => {
  f = await createEngineFixture(import.meta.url);
  tap = await LifecycleTap.open(f);
  signer = await createLocalSigner();
});

afterAll(async () => {
  await tap.close();
  await f.close();
});

beforeEach(() => use());

describe('the commands function refuses a caller it cannot verify (401), recording nothing', () => {
  const eventId = randomUUID();
  const body = () => backupOf('any-instance', eventId);

  it('without a token, saying how to send one', async () => {
    const res = await server().post('/').send(body());
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="mi-commands"/);
    expect(answer(res).message).toMatch(/Authorization: Bearer/);
    expect(await requestsFor(eventId)).toBeUndefined();
  });

  it('with a header that is not a bearer token', async () => {
    const res = await server().post('/').set('Authorization', 'Basic YWxpY2U6c2VjcmV0').send(body());
    expect(res.status).toBe(401);
    expect(answer(res).message).toMatch(/must be "Bearer <Google ID token>"/);
  });

  it('with a token only in X-Serverless-Authorization, whose signature Cloud Run removes: it says to send both headers', async () => {
    const token = await tokenFor(ALICE);
    const res = await server().post('/').set('X-Serverless-Authorization', `Bearer ${token}`).send(body());
    expect(res.status).toBe(401);
    expect(answer(res).message).toMatch(/no Authorization header: Cloud Run removes the signature .* send the ID token in both X-Serverless-Authorization .* and Authorization/);
  });

  it('with a token stripped of its signature in Authorization (as Cloud Run passes on the header it checked)', async () => {
    const [header, payload] = (await tokenFor(ALICE)).split('.');
    for (const stripped of [`${header}.${payload}`, `${header}.${payload}.`]) {
      const res = await server().post('/').set('Authorization', `Bearer ${stripped}`).send(body());
      expect(res.status).toBe(401);
      expect(answer(res).message).toMatch(/the ID token in the Authorization header has no signature/);
    }
  });

  it.each([
    ['garbage', (): Promise<string> => Promise.resolve('eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2lnbmF0dXJl'), /invalid ID token/],
    ['another audience', () => tokenFor(ALICE, { audience: 'https://elsewhere.example.run.app' }), /wrong audience: it is not for https:\/\/commands-test\.example\.run\.app or 32555940559/],
    ['application-default credentials', () => tokenFor(ALICE, { audience: APPLICATION_DEFAULT_CLIENT_ID }), /application-default credentials, which are not accepted: use `gcloud auth print-identity-token`/],
    ['an expired token', () => tokenFor(ALICE, { issuedAt: new Date(Date.now() - 2 * 3_600_000), expiresInSeconds: 3_600 }), /exp|expired/],
    ['an unverified email', () => tokenFor(ALICE, { emailVerified: false }), /its email is not verified/],
    ['a key nobody trusts', async (): Promise<string> => (await createLocalSigner()).sign({ email: ALICE, audience: AUDIENCE }), /unknown key id/],
  ] as const)('with %s, saying why without echoing the token', async (_what, token, message) => {
    const sent = await token();
    const res = await server().post('/').set('Authorization', `Bearer ${sent}`).send(body());
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    expect(answer(res).message).toMatch(message);
    expect(JSON.stringify(res.body)).not.toContain(sent);
    expect(await requestsFor(eventId)).toBeUndefined();
  });
});

describe('the commands function takes who asks from the token alone', () => {
  it.each(['actor', 'email', 'by', 'approver', 'origin', 'payload.actor', 'payload.requestedBy'])('refuses a body that names the caller (%s): 400, nothing recorded', async (field) => {
    const inst = await f.seedInstance();
    const eventId = randomUUID();
    const body: Record<string, unknown> = backupOf(inst.id, eventId);
    if (field.startsWith('payload.')) body.payload = { [field.slice('payload.'.length)]: 'boss@example.com' };
    else body[field] = 'boss@example.com';
    const res = await send(body);
    expect(res.status).toBe(400);
    expect(answer(res)).toMatchObject({ error: 'invalid-request', field });
    expect(answer(res).message).toContain(SELF_DECLARED_IDENTITY);
    expect(await requestsFor(eventId)).toBeUndefined();
  });

  it('accepts both token shapes: a service account\'s (audience the URL) and a person\'s from gcloud (its client id)', async () => {
    const inst = await f.seedInstance();
    for (const audience of [AUDIENCE, GCLOUD_CLIENT_ID]) {
      const token = await tokenFor(ALICE, { audience });
      const eventId = randomUUID();
      const res = await server().post('/').set('Authorization', `Bearer ${token}`).send({ ...backupOf(inst.id, eventId) });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(answer(res)).toMatchObject({ accepted: 'instance.backup', by: ALICE, eventId, operationId: `op-${eventId}`, repeated: false });
      expect((await tap.next(eventId)).envelope).toMatchObject({ actor: ALICE, origin: 'commands', reason: 'before a data fix' });
    }
  });

  it('records the request once, with the verified subject and an audit entry, whatever X-Forwarded headers say', async () => {
    const inst = await f.seedInstance();
    const eventId = randomUUID();
    const token = await tokenFor(ALICE);
    const first = await server().post('/').set('Authorization', `Bearer ${token}`).set('X-Forwarded-User', 'boss@example.com').send(backupOf(inst.id, eventId));
    expect(first.status).toBe(200);
    expect(await requestsFor(eventId)).toMatchObject({ eventId, command: 'instance.backup', instanceId: inst.id, actor: ALICE, subject: `local:${ALICE}`, reason: 'before a data fix' });
    const audit = await f.store.query<AuditRecord>({ collection: COLLECTIONS.audit, where: [{ field: 'causeEventId', op: '==', value: eventId }] });
    expect(audit.map((a) => a.data)).toContainEqual(expect.objectContaining({ action: 'command.received', actor: ALICE, origin: 'commands', verifiedSubject: `local:${ALICE}`, command: 'instance.backup' }));

    // The same request again (mi retrying after a lost answer) is the same command: answered, not sent twice.
    const again = await send(backupOf(inst.id, eventId));
    expect(answer(again)).toMatchObject({ accepted: 'instance.backup', eventId, repeated: true });
    const published = await tap.next(eventId);
    await deliver(f.engine.deps, lifecycleRoute(f.engine), deliveryOf(published, f.projectId));
    await expect(tap.next(eventId, 1_000)).rejects.toThrow(/no message/);
    const op = await f.operation(`op-${eventId}`);
    expect(op).toMatchObject({ type: 'backup', actor: ALICE, origin: 'commands' } satisfies Partial<OperationRecord>);
    await f.driveToEnd(`op-${eventId}`);

    // Someone else reusing the id is refused: an event id names one person's request.
    const taken = await send(backupOf(inst.id, eventId), BOB);
    expect([taken.status, answer(taken).error]).toEqual([409, 'event-id-taken']);
  });

  it('refuses a prod delete\'s approval by its requester (403) and takes a second person\'s (the two-person rule on verified identities)', async () => {
    const doomed = await f.seedInstance();
    const eventId = randomUUID();
    const sent = await send({ command: 'instance.delete', eventId, instanceId: doomed.id, reason: 'customer left', payload: { confirmSlug: doomed.slug } }, BOB);
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    await deliver(f.engine.deps, lifecycleRoute(f.engine), deliveryOf(await tap.next(eventId), f.projectId));
    const operationId = `op-${eventId}`;
    f.clock.advance(60_000);
    await f.engine.reconcile({ outboxGraceMs: 0 });
    expect((await f.operation(operationId))?.steps[0]).toMatchObject({ name: 'await-approval', status: 'running' });

    const own = await send({ command: 'operation.approve', operationId }, BOB);
    expect([own.status, answer(own).error]).toEqual([403, 'self-approval']);
    const unknown = await send({ command: 'operation.approve', operationId: 'op-nothing' }, ALICE);
    expect(unknown.status).toBe(404);
    const approved = await send({ command: 'operation.approve', operationId }, ALICE);
    expect([approved.status, approved.body]).toEqual([200, { accepted: 'operation.approve', approved: operationId, by: ALICE }]);
    expect(await f.operation(operationId)).toMatchObject({ actor: BOB, origin: 'commands', approval: { approvedBy: ALICE } });
    const again = await send({ command: 'operation.approve', operationId }, ALICE);
    expect(again.status).toBe(409);
  });

  it('refuses a caller of a domain not allowed (403), before reading the request', async () => {
    use({ callers: { audiences: [AUDIENCE], allowedDomains: ['example.com'] } });
    const inst = await f.seedInstance();
    const eventId = randomUUID();
    const outsider = await send(backupOf(inst.id, eventId), 'mallory@elsewhere.example');
    expect([outsider.status, answer(outsider).message]).toEqual([403, 'mallory@elsewhere.example is not of an allowed domain (example.com)']);
    expect(await requestsFor(eventId)).toBeUndefined();
    expect((await send(backupOf(inst.id, eventId), ALICE)).status).toBe(200);
    expect((await tap.next(eventId)).envelope.actor).toBe(ALICE);
  });
});

describe('the commands function answers bad requests with what was wrong (400), recording nothing', () => {
  it.each([
    ['no command', {}, /expected a command: one of instance\.create, .*compliance\.run/],
    ['an unknown command', { command: 'instance.resize' }, /expected a command/],
    ['a lifecycle command without a reason', { command: 'instance.backup', eventId: randomUUID(), instanceId: 'cus-acme', payload: {} }, /reason/],
    ['an event id that is not a UUID', { command: 'instance.backup', eventId: 'one', instanceId: 'cus-acme', reason: 'x', payload: {} }, /eventId: expected a UUID/],
    ['a payload its command refuses', { command: 'instance.upgrade', eventId: randomUUID(), instanceId: 'cus-acme', reason: 'x', payload: { targetVersion: '5.x' } }, /targetVersion/],
    ['an unknown field', { command: 'operation.approve', operationId: 'op-1', force: true }, /force/],
    ['an operation id with a slash', { command: 'operation.approve', operationId: 'op/1' }, /operationId: expected an operation id/],
    ['waves it cannot read', { command: 'rollout.start', targetVersion: '5.6.0', waves: 'dev:max=lots', reason: 'x' }, /waves/],
    ["a person's command naming a rollout (only a fan-out's tick names one)", { command: 'instance.backup', eventId: randomUUID(), instanceId: 'cus-acme', reason: 'x', payload: { rolloutId: 'ro-20261201-000000-abcd' } }, /payload\.rolloutId: a person's command is not part of a rollout or workflow/],
    ['a workflow of an unknown action', { command: 'workflow.start', action: 'destroy', environment: 'dev', concurrency: 1, reason: 'x' }, /action: expected an action: one of plan, apply, backup/],
    ['a workflow without a concurrency', { command: 'workflow.start', action: 'backup', environment: 'dev', reason: 'x' }, /concurrency/],
    ['a workflow filter it cannot read', { command: 'workflow.start', action: 'backup', environment: 'dev', filter: ['owner=bob'], concurrency: 1, reason: 'x' }, /--filter "owner=bob": expected key=value/],
  ])('%s', async (_what, body, message) => {
    const res = await send(body);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(answer(res).message).toMatch(message);
  });

  it('a body that is not a JSON object, a GET, and an oversized body', async () => {
    const token = await tokenFor(ALICE);
    const text = await server().post('/').set('Authorization', `Bearer ${token}`).set('Content-Type', 'text/plain').send('approve op-1');
    expect([text.status, answer(text).message]).toEqual([400, expect.stringMatching(/JSON object/)]);
    const get = await server().get('/').set('Authorization', `Bearer ${token}`);
    expect([get.status, get.headers.allow]).toEqual([405, 'POST']);
    const big = await server().post('/').set('Authorization', `Bearer ${token}`).send({ command: 'operation.approve', operationId: 'op-1', padding: 'x'.repeat(70_000) });
    expect(big.status).toBe(413);
  });

  it('refuses to abandon what does not exist (404) or is not stuck (409)', async () => {
    expect((await send({ command: 'operation.abandon', operationId: 'op-nothing', reason: 'x' })).status).toBe(404);
    const inst = await f.seedInstance();
    const eventId = randomUUID();
    await send(backupOf(inst.id, eventId));
    await deliver(f.engine.deps, lifecycleRoute(f.engine), deliveryOf(await tap.next(eventId), f.projectId));
    const running = await send({ command: 'operation.abandon', operationId: `op-${eventId}`, reason: 'impatient' });
    expect([running.status, answer(running).message]).toEqual([409, expect.stringMatching(/only a stuck operation can be released or abandoned/)]);
    await f.driveToEnd(`op-${eventId}`);
  });
});

describe('the commands function on its other commands', () => {
  it("extends a dev instance's expiry, recorded as by the caller", async () => {
    const dev = await f.seedInstance({ environment: 'dev', tier: 'internal', expiresAt: '2026-11-27T10:00:00.000Z' });
    const res = await send({ command: 'instance.extend', instanceId: dev.id, hours: 24, reason: 'demo on friday' }, BOB);
    expect([res.status, res.body]).toEqual([200, { accepted: 'instance.extend', by: BOB, instanceId: dev.id, expiresAt: '2026-11-28T10:00:00.000Z', before: '2026-11-27T10:00:00.000Z' }]);
    const audit = await f.store.query<AuditRecord>({ collection: COLLECTIONS.audit, where: [{ field: 'instanceId', op: '==', value: dev.id }] });
    expect(audit.map((a) => a.data)).toContainEqual(expect.objectContaining({ action: 'instance.extended', actor: BOB, reason: 'demo on friday' }));
  });

  it("records a break-glass grant's review by someone other than its requester, once", async () => {
    const grant = `g${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    await f.store.set(`accessGrants/${grant}`, { grant: `folders/2/locations/global/entitlements/prod-breakglass/grants/${grant}`, entitlement: 'prod-breakglass', requester: BOB, breakglass: true, reviewedBy: null, state: 'ENDED' });
    const own = await send({ command: 'access.review', grant, reason: 'all fine' }, BOB);
    expect([own.status, answer(own).error]).toEqual([403, 'self-approval']);
    const reviewed = await send({ command: 'access.review', grant, reason: 'SEV1 confirmed in the incident log' }, ALICE);
    expect([reviewed.status, answer(reviewed).by]).toEqual([200, ALICE]);
    expect(await f.store.get(`accessGrants/${grant}`)).toMatchObject({ reviewedBy: ALICE, reviewReason: 'SEV1 confirmed in the incident log' });
    const again = await send({ command: 'access.review', grant, reason: 'twice' }, ALICE);
    expect([again.status, answer(again).message]).toEqual([409, `grant ${grant} was reviewed by ${ALICE}`]);
    expect((await send({ command: 'access.review', grant: 'nothing', reason: 'x' })).status).toBe(404);
  });

  it('answers 503 when the request cannot be recorded now, and the same request again is answered once', async () => {
    const failing: StateStore = { ...f.store, transaction: () => Promise.reject(new ControlPlaneError('unavailable', 'Firestore did not answer within 5000 ms')) };
    use({}, failing);
    const inst = await f.seedInstance();
    const eventId = randomUUID();
    const res = await send(backupOf(inst.id, eventId));
    expect([res.status, answer(res).message]).toEqual([503, expect.stringMatching(/could not be recorded .*send the same request again/)]);
    expect(await requestsFor(eventId)).toBeUndefined();
    use();
    expect(answer(await send(backupOf(inst.id, eventId)))).toMatchObject({ accepted: 'instance.backup', repeated: false });
    await deliver(f.engine.deps, lifecycleRoute(f.engine), deliveryOf(await tap.next(eventId), f.projectId));
    await f.driveToEnd(`op-${eventId}`);
  });
});

describe('the deployed commands function', () => {
  it('refuses to start without the audiences its callers must use', () => {
    const env = { GOOGLE_CLOUD_PROJECT: 'p', MI_CENTRAL_BACKUP_PROJECT: 'mi-central-backups', MI_EXECUTOR_STATUS_URL: 'https://executor.example' };
    expect(() => readEnvironment('commands', env)).toThrow(/MI_COMMANDS_AUDIENCES is missing/);
    expect(() => readEnvironment('commands', { ...env, MI_COMMANDS_AUDIENCES: ' ' })).toThrow(/MI_COMMANDS_AUDIENCES is empty/);
  });
});

describe('a command whose builds run the deployment repository is accepted at a commit of its protected branch', () => {
  const head = 'c'.repeat(40);
  const older = 'b'.repeat(40);
  const elsewhere = 'e'.repeat(40);
  const upgradeOf = (instanceId: string, payload: Record<string, unknown>, eventId = randomUUID()) => ({ command: 'instance.upgrade', eventId, instanceId, reason: 'monthly release', payload: { targetVersion: '5.5.0', ...payload } });

  beforeEach(() => {
    const repo = new MemoryDeploymentRepo();
    repo.commit(older, {}, { branch: 'main' });
    repo.commit(head, {}, { parents: [older], branch: 'main' });
    repo.commit(elsewhere, {}, { parents: [older], branch: 'feature' });
    useServices(servicesWith({}, { store: f.store, bus: f.bus, clock: f.clock, ...f.fleet.ports(), identity: localIdentity(signer), repo }, { timings: TEST_TIMINGS, callers: { audiences: [AUDIENCE] } }));
  });

  it('the branch head when it names none, recorded on the operation its builds run', async () => {
    const inst = await f.seedInstance();
    const body = upgradeOf(inst.id, {});
    const res = await send(body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const published = await tap.next(body.eventId);
    expect(published.envelope.payload).toMatchObject({ commit: head });
    await deliver(f.engine.deps, lifecycleRoute(f.engine), deliveryOf(published, f.projectId));
    const op = await f.store.get<OperationRecord>(paths.operation(`op-${body.eventId}`));
    expect(op?.params.commit).toBe(head);
  });

  it('a rollout records the branch head when it starts: every upgrade it starts runs that commit', async () => {
    const res = await send({ command: 'rollout.start', targetVersion: '5.9.0', reason: 'monthly release' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const rollout = (res.body as { rollout: { id: string; commit?: string } }).rollout;
    expect(rollout.commit).toBe(head);
    expect((await send({ command: 'rollout.control', rolloutId: rollout.id, action: 'abort', reason: 'test over' })).status).toBe(200);
  });

  it('a plan workflow records the branch head: every plan it starts runs that commit', async () => {
    await f.seedInstance({ environment: 'dev', tier: 'internal', maintenanceWindow: undefined });
    const res = await send({ command: 'workflow.start', action: 'plan', environment: 'dev', module: 'networking', concurrency: 1, reason: 'what would change' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const workflow = (res.body as { workflow: { id: string; commit?: string; workflow: { commit?: string } } }).workflow;
    expect([workflow.commit, workflow.workflow.commit]).toEqual([head, head]);
    expect((await send({ command: 'rollout.control', rolloutId: workflow.id, action: 'abort', reason: 'test over' })).status).toBe(200);
  });

  it('an older commit of the branch when it names one; a commit not on the branch is refused, saying why', async () => {
    const inst = await f.seedInstance();
    const named = upgradeOf(inst.id, { commit: older });
    expect((await send(named)).status).toBe(200);
    expect((await tap.next(named.eventId)).envelope.payload).toMatchObject({ commit: older });

    const refusedBody = upgradeOf(inst.id, { commit: elsewhere });
    const res = await send(refusedBody);
    expect(res.status).toBe(400);
    expect(answer(res).message).toContain(`${elsewhere} is not on the protected branch main`);
    await expect(tap.next(refusedBody.eventId, 1_000)).rejects.toThrow(/no message/);
  });
});

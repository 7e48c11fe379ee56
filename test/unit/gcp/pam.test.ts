/**
 * The PAM adapter against answers of the shapes the v1 reference gives
 * (https://cloud.google.com/iam/docs/reference/pam/rest/v1/folders.locations.entitlements.grants):
 * what it sends, what it reads, and how Google's errors come back.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { summarizeGrant } from '../../../shared/domain/access/grants.js';
import { createPamClient } from '../../../shared/gcp/pam.js';
import type { AccessPort } from '../../../shared/ports.js';
import { controlPlaneFailure } from '../../support/failures.js';
import { googleError, startFakeGoogleApi, type FakeGoogleApi } from './fake-google-api.js';

const ENTITLEMENT = 'folders/123456789012/locations/global/entitlements/prod-operator';
const GRANT = `${ENTITLEMENT}/grants/8b3bd7f5-4f3c-4f3b-9a61-1d2a3b4c5d6e`;

/** A grant as the reference's JSON representation shows it, approved and active. */
const ACTIVE_GRANT = {
  name: GRANT,
  createTime: '2026-12-01T09:00:00.123456Z',
  updateTime: '2026-12-01T09:05:02.000001Z',
  requester: 'alice@example.com',
  requestedDuration: '3600s',
  justification: { unstructuredJustification: 'INC-4711: restore verification on cus-acme' },
  state: 'ACTIVE',
  timeline: {
    events: [
      { eventTime: '2026-12-01T09:00:00.123456Z', requested: { expireTime: '2026-12-02T09:00:00.123456Z' } },
      { eventTime: '2026-12-01T09:05:00Z', approved: { reason: 'on call, checked the incident', actor: 'bob@example.com' } },
      { eventTime: '2026-12-01T09:05:01Z', scheduled: { scheduledActivationTime: '2026-12-01T09:05:01Z' } },
      { eventTime: '2026-12-01T09:05:02Z', activated: {} },
    ],
  },
  privilegedAccess: {
    gcpIamAccess: {
      resourceType: 'cloudresourcemanager.googleapis.com/Folder',
      resource: '//cloudresourcemanager.googleapis.com/folders/123456789012',
      roleBindings: [{ role: 'roles/container.developer' }, { role: 'roles/cloudsql.client', conditionExpression: '' }],
    },
  },
  auditTrail: { accessGrantTime: '2026-12-01T09:05:02Z' },
  additionalEmailRecipients: [],
  externallyModified: false,
};

let api: FakeGoogleApi;
let pam: AccessPort;

beforeAll(async () => {
  api = await startFakeGoogleApi();
  pam = createPamClient({ endpoint: api.url, token: () => Promise.resolve('ya29.caller-token'), timeoutMs: 2_000 });
});
afterAll(() => api.close());
beforeEach(() => {
  api.requests.length = 0;
});

describe('the PAM adapter', () => {
  it("creates a grant with the caller's token, the duration in seconds and the justification", async () => {
    api.answer({ status: 200, body: { ...ACTIVE_GRANT, state: 'APPROVAL_AWAITED', timeline: { events: ACTIVE_GRANT.timeline.events.slice(0, 1) }, auditTrail: undefined } });
    const grant = await pam.request(ENTITLEMENT, 1.5, 'INC-4711: restore verification on cus-acme');
    expect(api.requests[0]).toMatchObject({ method: 'POST', path: `/v1/${ENTITLEMENT}/grants`, body: { requestedDuration: '5400s', justification: { unstructuredJustification: 'INC-4711: restore verification on cus-acme' } } });
    expect(api.requests[0]?.headers.authorization).toBe('Bearer ya29.caller-token');
    expect(grant.state).toBe('APPROVAL_AWAITED');
  });

  it('reads a grant whole: requester, reason, approver, when access began', async () => {
    api.answer({ status: 200, body: ACTIVE_GRANT });
    const summary = summarizeGrant(await pam.get(GRANT));
    expect(summary).toEqual({
      grant: GRANT,
      entitlement: 'prod-operator',
      requester: 'alice@example.com',
      reason: 'INC-4711: restore verification on cus-acme',
      state: 'ACTIVE',
      hours: 1,
      approvedBy: 'bob@example.com',
      deniedBy: null,
      revokedBy: null,
      start: '2026-12-01T09:05:02Z',
      end: null,
    });
  });

  it('searches by caller relationship and follows every page', async () => {
    api.answer((request) => (request.query.pageToken === undefined ? { status: 200, body: { grants: [ACTIVE_GRANT], nextPageToken: 'p2' } } : { status: 200, body: { grants: [{ ...ACTIVE_GRANT, name: `${ENTITLEMENT}/grants/two` }] } }));
    const grants = await pam.grants(ENTITLEMENT, 'CAN_APPROVE');
    expect(grants.map((g) => g.name)).toEqual([GRANT, `${ENTITLEMENT}/grants/two`]);
    expect(api.requests.map((r) => [r.path, r.query])).toEqual([
      [`/v1/${ENTITLEMENT}/grants:search`, { callerRelationship: 'CAN_APPROVE' }],
      [`/v1/${ENTITLEMENT}/grants:search`, { callerRelationship: 'CAN_APPROVE', pageToken: 'p2' }],
    ]);
    api.answer({ status: 200, body: {} });
    expect(await pam.grants(ENTITLEMENT)).toEqual([]);
  });

  it('approves, denies and revokes with a reason (revoke answers a long-running operation)', async () => {
    api.answer({ status: 200, body: ACTIVE_GRANT });
    await pam.approve(GRANT, 'on call');
    api.answer({ status: 200, body: { ...ACTIVE_GRANT, state: 'DENIED' } });
    await pam.deny(GRANT, 'not now');
    api.answer({ status: 200, body: { name: 'folders/123456789012/locations/global/operations/operation-1733043902', metadata: { '@type': 'type.googleapis.com/google.cloud.privilegedaccessmanager.v1.OperationMetadata' }, done: false } });
    await pam.revoke(GRANT, 'incident over');
    expect(api.requests.map((r) => [r.method, r.path, r.body])).toEqual([
      ['POST', `/v1/${GRANT}:approve`, { reason: 'on call' }],
      ['POST', `/v1/${GRANT}:deny`, { reason: 'not now' }],
      ['POST', `/v1/${GRANT}:revoke`, { reason: 'incident over' }],
    ]);
  });

  it.each([
    [403, 'PERMISSION_DENIED', 'The requester of a grant cannot approve it.', 'failed-precondition', false],
    [400, 'FAILED_PRECONDITION', 'Grant is not in APPROVAL_AWAITED state.', 'failed-precondition', false],
    [404, 'NOT_FOUND', 'Grant not found.', 'not-found', false],
    [400, 'INVALID_ARGUMENT', 'requested_duration exceeds max_request_duration.', 'failed-precondition', false],
    [503, 'UNAVAILABLE', 'The service is currently unavailable.', 'unavailable', true],
    [429, 'RESOURCE_EXHAUSTED', 'Quota exceeded.', 'rate-limited', true],
  ] as const)('turns %i %s into %s (permanent unless worth retrying), keeping the status and message', async (code, status, message, expected, retryable) => {
    api.answer(googleError(code, status, message));
    const failure = await controlPlaneFailure(pam.approve(GRANT, 'x'));
    expect(failure.message).toContain(message);
    expect(failure.details).toMatchObject({ status });
    expect(failure.retryable).toBe(retryable);
    expect(failure.code).toBe(expected);
  });

  it('refuses an answer that is not a grant, naming the field', async () => {
    api.answer({ status: 200, body: { ...ACTIVE_GRANT, state: 'HALF_GRANTED' } });
    const failure = await controlPlaneFailure(pam.get(GRANT));
    expect(failure.message).toMatch(/state/);
  });
});

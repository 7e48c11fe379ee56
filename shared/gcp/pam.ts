/**
 * Privileged Access Manager's v1 REST API (there is no Node client for it), called with the
 * caller's own credentials: PAM itself decides who may request, approve, deny or revoke, and
 * records who did. Answers are checked against the Grant resource's shape; Google's JSON error
 * format becomes a ControlPlaneError that keeps the status.
 */
import * as z from 'zod';
import type { AccessPort, Grant, GrantState } from '../ports.js';
import { ControlPlaneError } from '../errors.js';
import { malformedAnswer, toControlPlaneError } from './google-api.js';

export const PAM_ENDPOINT = 'https://privilegedaccessmanager.googleapis.com';

export interface PamClientOptions {
  /** A bearer token of the caller: an OAuth access token in the cloud, the local stack's ID token against the simulator. */
  token: () => Promise<string>;
  endpoint?: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const GRANT_STATES_CHECKED = [
  'APPROVAL_AWAITED',
  'DENIED',
  'SCHEDULED',
  'ACTIVATING',
  'ACTIVE',
  'ACTIVATION_FAILED',
  'EXPIRED',
  'REVOKING',
  'REVOKED',
  'ENDED',
  'WITHDRAWING',
  'WITHDRAWN',
] as const satisfies readonly GrantState[];

const actorReason = z.looseObject({ actor: z.string().optional(), reason: z.string().optional() });

/** One timeline event: exactly one of its kinds is set (the API's oneof). */
const grantEventSchema = z.looseObject({
  eventTime: z.string(),
  requested: z.looseObject({ expireTime: z.string().optional() }).optional(),
  approved: actorReason.optional(),
  denied: actorReason.optional(),
  revoked: actorReason.optional(),
  withdrawn: z.looseObject({}).optional(),
  scheduled: z.looseObject({ scheduledActivationTime: z.string().optional() }).optional(),
  activated: z.looseObject({}).optional(),
  activationFailed: z.looseObject({ error: z.looseObject({ code: z.number().optional(), message: z.string().optional() }).optional() }).optional(),
  expired: z.looseObject({}).optional(),
  ended: z.looseObject({}).optional(),
  externallyModified: z.looseObject({}).optional(),
});

/** The Grant resource of the v1 reference; `satisfies` keeps it and the port's type the same shape. */
export const grantSchema = z.looseObject({
  name: z.string().regex(/^(projects|folders|organizations)\/[^/]+\/locations\/[^/]+\/entitlements\/[^/]+\/grants\/[^/]+$/),
  createTime: z.string(),
  updateTime: z.string().optional(),
  requester: z.string(),
  requestedDuration: z.string().regex(/^\d+(\.\d+)?s$/),
  justification: z.looseObject({ unstructuredJustification: z.string().optional() }).optional(),
  state: z.enum(GRANT_STATES_CHECKED),
  timeline: z.looseObject({ events: z.array(grantEventSchema).default([]) }).optional(),
  privilegedAccess: z
    .looseObject({
      gcpIamAccess: z.looseObject({
        resourceType: z.string(),
        resource: z.string(),
        roleBindings: z.array(z.looseObject({ role: z.string(), conditionExpression: z.string().optional() })),
      }),
    })
    .optional(),
  auditTrail: z.looseObject({ accessGrantTime: z.string().optional(), accessRemoveTime: z.string().optional() }).optional(),
  additionalEmailRecipients: z.array(z.string()).optional(),
  externallyModified: z.boolean().optional(),
});

const listSchema = z.looseObject({ grants: z.array(z.unknown()).optional(), nextPageToken: z.string().optional() });
const operationSchema = z.looseObject({ name: z.string(), done: z.boolean().optional(), error: z.looseObject({ code: z.number().optional(), message: z.string().optional() }).optional() });

function grantOf(what: string, value: unknown): Grant {
  const parsed = grantSchema.safeParse(value);
  if (!parsed.success) throw malformedAnswer(what, parsed.error.issues[0]?.path.join('.') ?? '', parsed.error.issues[0]?.message ?? 'not a grant', value);
  return parsed.data;
}

export function createPamClient(options: PamClientOptions): AccessPort {
  const endpoint = (options.endpoint ?? PAM_ENDPOINT).replace(/\/$/, '');
  const call = async (what: string, method: 'GET' | 'POST', path: string, body?: object): Promise<unknown> => {
    const token = await options.token();
    let response: Response;
    try {
      response = await (options.fetch ?? fetch)(`${endpoint}/v1/${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      });
    } catch (error) {
      throw toControlPlaneError(`PAM ${what}`, error, { alreadyExists: 'already-exists' });
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const message = z.looseObject({ error: z.looseObject({ message: z.string() }) }).safeParse(json);
      // Read as the Google clients' errors are: the status, and the JSON error body.
      throw toControlPlaneError(`PAM ${what}`, Object.assign(new Error(message.success ? message.data.error.message : `HTTP ${response.status}`), { status: response.status, response: { data: json } }), { alreadyExists: 'already-exists' });
    }
    return json;
  };
  return {
    async request(entitlement, hours, justification) {
      return grantOf('grants.create', await call('grants.create', 'POST', `${entitlement}/grants`, { requestedDuration: `${Math.round(hours * 3600)}s`, justification: { unstructuredJustification: justification } }));
    },
    async grants(entitlement, relationship) {
      const found: Grant[] = [];
      let pageToken: string | undefined;
      do {
        const query = new URLSearchParams({ ...(relationship === undefined ? {} : { callerRelationship: relationship }), ...(pageToken === undefined ? {} : { pageToken }) });
        const path = `${entitlement}/grants${relationship === undefined ? '' : ':search'}${query.size > 0 ? `?${query.toString()}` : ''}`;
        const page = listSchema.safeParse(await call(relationship === undefined ? 'grants.list' : 'grants.search', 'GET', path));
        if (!page.success) throw malformedAnswer('PAM grants.list', '', 'not a list of grants', page.error.issues);
        found.push(...(page.data.grants ?? []).map((g) => grantOf('grants.list', g)));
        pageToken = page.data.nextPageToken === '' ? undefined : page.data.nextPageToken;
      } while (pageToken !== undefined);
      return found;
    },
    async get(grant) {
      return grantOf('grants.get', await call('grants.get', 'GET', grant));
    },
    async approve(grant, reason) {
      return grantOf('grants.approve', await call('grants.approve', 'POST', `${grant}:approve`, { reason }));
    },
    async deny(grant, reason) {
      return grantOf('grants.deny', await call('grants.deny', 'POST', `${grant}:deny`, { reason }));
    },
    async revoke(grant, reason) {
      const operation = operationSchema.safeParse(await call('grants.revoke', 'POST', `${grant}:revoke`, { reason }));
      if (!operation.success) throw malformedAnswer('PAM grants.revoke', '', 'not an operation', operation.error.issues);
      if (operation.data.error !== undefined) throw new ControlPlaneError('failed-precondition', `PAM grants.revoke failed: ${operation.data.error.message ?? 'unknown error'}`, { retryable: false });
      // A revoke PAM has not finished yet still ends the grant: the caller is told the grant's state on the next read.
    },
  };
}

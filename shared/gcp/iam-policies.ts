/**
 * Reading a folder's or a project's IAM policy (Resource Manager v3 getIamPolicy), with the
 * caller's credentials, read only. A project's policy leaves out what it inherits: the sweep reads
 * the folder's and each project's.
 */
import * as z from 'zod';
import type { PolicyBinding } from '../domain/access/grants.js';
import { malformedAnswer, toControlPlaneError } from './google-api.js';

export const RESOURCE_MANAGER_ENDPOINT = 'https://cloudresourcemanager.googleapis.com';

const policySchema = z.looseObject({
  bindings: z.array(z.looseObject({ role: z.string(), members: z.array(z.string()).default([]), condition: z.looseObject({ expression: z.string().optional(), title: z.string().optional() }).optional() })).default([]),
});

export function createIamPolicyReader(options: { token: () => Promise<string>; endpoint?: string; timeoutMs?: number }) {
  const endpoint = (options.endpoint ?? RESOURCE_MANAGER_ENDPOINT).replace(/\/$/, '');
  return {
    /** `folders/<id>` or `projects/<id>`: its own bindings (version 3, with conditions). */
    async bindings(resource: string): Promise<PolicyBinding[]> {
      const what = `Resource Manager getIamPolicy of ${resource}`;
      let response: Response;
      try {
        response = await fetch(`${endpoint}/v3/${resource}:getIamPolicy`, {
          method: 'POST',
          headers: { authorization: `Bearer ${await options.token()}`, 'content-type': 'application/json' },
          body: JSON.stringify({ options: { requestedPolicyVersion: 3 } }),
          signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
        });
      } catch (error) {
        throw toControlPlaneError(what, error, { alreadyExists: 'already-exists' });
      }
      const json: unknown = await response.json().catch(() => undefined);
      if (!response.ok) throw toControlPlaneError(what, Object.assign(new Error(`HTTP ${response.status}`), { status: response.status, response: { data: json } }), { alreadyExists: 'already-exists' });
      const policy = policySchema.safeParse(json);
      if (!policy.success) throw malformedAnswer(what, policy.error.issues[0]?.path.join('.') ?? '', policy.error.issues[0]?.message ?? 'not a policy', json);
      return policy.data.bindings.map((b) => ({ resource, role: b.role, members: b.members, ...(b.condition === undefined ? {} : { condition: b.condition }) }));
    },
  };
}

/**
 * Time-bound access to the fleet's projects, as Privileged Access Manager (PAM) entitlements:
 * who may ask, for which roles on which environment's folder, for how long at most, and who
 * approves. Pure: the Pulumi program declares these, `mi access` names them, rule tests check
 * them, the sweep explains bindings by them.
 */
import * as z from 'zod';

export const ACCESS_ENVIRONMENTS = ['dev', 'prod'] as const;
export type AccessEnvironment = (typeof ACCESS_ENVIRONMENTS)[number];

export interface EntitlementSpec {
  /** The PAM entitlement id: `<environment>-<role>`, e.g. `prod-operator`. */
  id: string;
  environment: AccessEnvironment;
  /** What `mi access request --role` says. */
  role: string;
  /** The IAM roles a grant binds on the environment's folder. */
  iamRoles: readonly string[];
  maxHours: number;
  /** Principals who may approve (`group:oncall-approvers@…`); none: granted at once. */
  approvers: readonly string[];
  /** Granted at once and alerting, reviewed afterwards. */
  breakglass: boolean;
}

const principal = z.string().regex(/^(user|group|serviceAccount|domain):[^\s@]+(@[^\s@]+)?$/, { error: 'expected a principal such as group:sre@example.com' });

/** One entitlement as configured (`mi:entitlements`). */
export const entitlementSpecSchema = z.strictObject({
  id: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, { error: 'expected an entitlement id such as prod-operator' }),
  environment: z.enum(ACCESS_ENVIRONMENTS, { error: 'expected dev or prod' }),
  role: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, { error: 'expected a role name such as operator' }),
  iamRoles: z.array(z.string().regex(/^roles\/[A-Za-z0-9_.]+$/, { error: 'expected an IAM role such as roles/container.developer' })).min(1),
  maxHours: z.number().int().min(1).max(24),
  approvers: z.array(principal),
  breakglass: z.boolean(),
});

/** The entitlements a team starts with; `approvers` are filled from `mi:accessApprovers`. */
export function defaultEntitlements(approvers: readonly string[]): EntitlementSpec[] {
  // cloudsql.instanceUser: IAM database login through `mi instance db proxy`.
  const operating = ['roles/container.developer', 'roles/cloudsql.client', 'roles/cloudsql.instanceUser', 'roles/logging.viewer'];
  return [
    { id: 'dev-operator', environment: 'dev', role: 'operator', iamRoles: operating, maxHours: 8, approvers: [], breakglass: false },
    { id: 'prod-operator', environment: 'prod', role: 'operator', iamRoles: operating, maxHours: 4, approvers: [...approvers], breakglass: false },
    { id: 'prod-breakglass', environment: 'prod', role: 'breakglass', iamRoles: ['roles/owner'], maxHours: 2, approvers: [], breakglass: true },
  ];
}

/**
 * What is wrong with a set of entitlements, one line each: every prod entitlement has an
 * approval step (or is break-glass) and a maximum duration; no entitlement lets its
 * requesters approve (PAM refuses self-approval per grant; this refuses the configuration that
 * relies on it); ids are unique and match their environment and role.
 */
export function entitlementProblems(entitlements: readonly EntitlementSpec[], requesters: readonly string[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const e of entitlements) {
    if (seen.has(e.id)) problems.push(`${e.id}: declared twice`);
    seen.add(e.id);
    if (e.id !== `${e.environment}-${e.role}`) problems.push(`${e.id}: its id must be <environment>-<role> (${e.environment}-${e.role})`);
    if (e.environment === 'prod' && !e.breakglass && e.approvers.length === 0) problems.push(`${e.id}: a prod entitlement needs approvers (or is break-glass, reviewed afterwards)`);
    if (e.environment === 'prod' && e.maxHours > 8) problems.push(`${e.id}: at most 8 h on prod (asks for ${e.maxHours} h)`);
    const both = e.approvers.filter((a) => requesters.includes(a));
    if (both.length > 0) problems.push(`${e.id}: ${both.join(', ')} may both request and approve`);
  }
  return problems;
}

export function entitlementFor(entitlements: readonly EntitlementSpec[], environment: string, role: string): EntitlementSpec | undefined {
  return entitlements.find((e) => e.environment === environment && e.role === role);
}

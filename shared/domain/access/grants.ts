/**
 * What a report and the sweep conclude from PAM grants (their shape is the port's, in
 * shared/ports.ts) and IAM policies. Pure.
 */
import type { Grant, GrantState, PolicyBinding } from '../../ports.js';

export type { Grant, GrantEvent, GrantState, PolicyBinding } from '../../ports.js';

/** States in which the grant's bindings may be in place. */
export const GRANT_HOLDS_ACCESS: readonly GrantState[] = ['ACTIVATING', 'ACTIVE', 'REVOKING', 'WITHDRAWING'];

/** `…/entitlements/prod-operator/grants/abc` → `prod-operator`. */
export function entitlementOf(grantName: string): string {
  return /\/entitlements\/([^/]+)\/grants\//.exec(grantName)?.[1] ?? '';
}

export const grantIdOf = (grantName: string): string => grantName.slice(grantName.lastIndexOf('/') + 1);

/** What a report and the audit trail say of a grant: who, why, who decided, when it held. */
export interface GrantSummary {
  grant: string;
  entitlement: string;
  requester: string;
  reason: string;
  state: GrantState;
  hours: number;
  approvedBy: string | null;
  deniedBy: string | null;
  revokedBy: string | null;
  start: string | null;
  end: string | null;
}

export function summarizeGrant(grant: Grant): GrantSummary {
  const events = grant.timeline?.events ?? [];
  const actorOf = (kind: 'approved' | 'denied' | 'revoked') => events.find((e) => e[kind] !== undefined)?.[kind]?.actor ?? null;
  return {
    grant: grant.name,
    entitlement: entitlementOf(grant.name),
    requester: grant.requester,
    reason: grant.justification?.unstructuredJustification ?? '',
    state: grant.state,
    hours: Number.parseFloat(grant.requestedDuration) / 3600,
    approvedBy: actorOf('approved'),
    deniedBy: actorOf('denied'),
    revokedBy: actorOf('revoked'),
    start: grant.auditTrail?.accessGrantTime ?? null,
    end: grant.auditTrail?.accessRemoveTime ?? null,
  };
}

export type SweepFinding =
  | { kind: 'standing-human-access'; resource: string; role: string; member: string; detail: string }
  | { kind: 'breakglass-unreviewed'; grant: string; requester: string; detail: string };

const HUMAN = /^(user|group|domain):/;

/**
 * Every human binding on prod that no grant holding access explains (same resource, role and
 * person or group), and every break-glass grant that has not been reviewed. The control
 * plane's service accounts and Google's agents are not people and are left to the rights tests.
 */
export function sweepFindings(input: {
  bindings: readonly PolicyBinding[];
  grants: readonly Grant[];
  breakglassEntitlements: readonly string[];
  reviewedGrants: ReadonlySet<string>;
}): SweepFinding[] {
  const findings: SweepFinding[] = [];
  const holding = input.grants.filter((g) => GRANT_HOLDS_ACCESS.includes(g.state));
  for (const binding of input.bindings) {
    for (const member of binding.members) {
      if (!HUMAN.test(member)) continue;
      const explained = holding.some(
        (g) =>
          `user:${g.requester}` === member &&
          g.privilegedAccess?.gcpIamAccess.resource.endsWith(`/${binding.resource}`) === true &&
          g.privilegedAccess.gcpIamAccess.roleBindings.some((r) => r.role === binding.role),
      );
      if (!explained) {
        findings.push({ kind: 'standing-human-access', resource: binding.resource, role: binding.role, member, detail: `${member} holds ${binding.role} on ${binding.resource} and no active grant explains it` });
      }
    }
  }
  for (const grant of input.grants) {
    if (!input.breakglassEntitlements.includes(entitlementOf(grant.name))) continue;
    if (grant.state === 'DENIED' || grant.state === 'EXPIRED' || grant.state === 'WITHDRAWN' || input.reviewedGrants.has(grant.name)) continue;
    findings.push({ kind: 'breakglass-unreviewed', grant: grant.name, requester: grant.requester, detail: `break-glass grant ${grantIdOf(grant.name)} of ${grant.requester} has not been reviewed` });
  }
  return findings;
}

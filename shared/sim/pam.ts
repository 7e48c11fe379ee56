/**
 * Privileged Access Manager, simulated as the v1 API behaves: a grant on an entitlement with an
 * approval workflow waits (APPROVAL_AWAITED) until an approver who is not its requester approves
 * it; one without is granted at once; an ACTIVE grant's bindings are written into the
 * simulated IAM policy of the entitlement's resource with an expiry condition, and removed when
 * it ends (ENDED, on the simulated clock) or is revoked. A request for longer than the
 * entitlement allows, a decision on a grant not awaiting one, and a requester's own approval are
 * refused with the API's statuses. Every change is on the grant's timeline.
 */
import { randomBytes } from 'node:crypto';
import type { EntitlementSpec } from '../domain/access/entitlements.js';
import { grantIdOf, type Grant, type GrantEvent, type PolicyBinding } from '../domain/access/grants.js';
import { ControlPlaneError, type ErrorCode } from '../errors.js';
import type { Clock } from '../ports.js';

/** How long a request waits for its approval before it expires (PAM's default). */
export const APPROVAL_WINDOW_MS = 24 * 3_600_000;

export interface SimulatedEntitlement {
  spec: EntitlementSpec;
  /** `folders/<id>` or `projects/<id>`: the parent of the entitlement and the resource its grants bind on. */
  parent: string;
}

/** The PAM errors, as Google's JSON error status names. */
function pamError(status: 'NOT_FOUND' | 'INVALID_ARGUMENT' | 'PERMISSION_DENIED' | 'FAILED_PRECONDITION', message: string): ControlPlaneError {
  const code: Record<typeof status, ErrorCode> = { NOT_FOUND: 'not-found', INVALID_ARGUMENT: 'invalid-message', PERMISSION_DENIED: 'permission-denied', FAILED_PRECONDITION: 'failed-precondition' };
  const http = { NOT_FOUND: 404, INVALID_ARGUMENT: 400, PERMISSION_DENIED: 403, FAILED_PRECONDITION: 400 }[status];
  return new ControlPlaneError(code[status], message, { retryable: false, details: { status, httpStatus: http } });
}

/** IAM policies of folders and projects, as getIamPolicy answers them (a resource's own bindings only). */
export class SimulatedIamPolicies {
  private readonly policies = new Map<string, PolicyBinding[]>();

  bindings(resource?: string): PolicyBinding[] {
    const all = resource === undefined ? [...this.policies.values()].flat() : (this.policies.get(resource) ?? []);
    return all.map((b) => ({ ...b, members: [...b.members] }));
  }

  add(binding: PolicyBinding): void {
    const list = this.policies.get(binding.resource) ?? [];
    list.push({ ...binding, members: [...binding.members] });
    this.policies.set(binding.resource, list);
  }

  /** Removes a member from the bindings that match (role and condition title), dropping emptied ones. */
  remove(resource: string, role: string, member: string, conditionTitle?: string): void {
    const list = (this.policies.get(resource) ?? [])
      .map((b) => (b.role === role && (conditionTitle === undefined || b.condition?.title === conditionTitle) ? { ...b, members: b.members.filter((m) => m !== member) } : b))
      .filter((b) => b.members.length > 0);
    this.policies.set(resource, list);
  }

  /** The v1 `getIamPolicy` answer. */
  policyOf(resource: string): { version: number; etag: string; bindings: Array<{ role: string; members: string[]; condition?: { expression?: string; title?: string } }> } {
    return {
      version: 3,
      etag: Buffer.from(JSON.stringify(this.policies.get(resource) ?? [])).toString('base64').slice(0, 12),
      bindings: this.bindings(resource).map((b) => ({ role: b.role, members: [...b.members], ...(b.condition === undefined ? {} : { condition: b.condition }) })),
    };
  }
}

export interface SimulatedPamOptions {
  clock: Clock;
  entitlements: readonly SimulatedEntitlement[];
  policies?: SimulatedIamPolicies;
  /** Members of each group (`group:oncall@…` → emails), for approvers named by group. */
  groups?: Readonly<Record<string, readonly string[]>>;
}

export class SimulatedPam {
  readonly policies: SimulatedIamPolicies;
  private readonly grants = new Map<string, Grant>();
  private readonly clock: Clock;
  private readonly entitlements: readonly SimulatedEntitlement[];
  private readonly groups: Readonly<Record<string, readonly string[]>>;

  constructor(options: SimulatedPamOptions) {
    this.clock = options.clock;
    this.entitlements = options.entitlements;
    this.policies = options.policies ?? new SimulatedIamPolicies();
    this.groups = options.groups ?? {};
  }

  /** `folders/prod/locations/global/entitlements/prod-operator` of each entitlement. */
  entitlementNames(): string[] {
    return this.entitlements.map((e) => this.nameOf(e));
  }

  private nameOf(e: SimulatedEntitlement): string {
    return `${e.parent}/locations/global/entitlements/${e.spec.id}`;
  }

  private entitlement(name: string): SimulatedEntitlement {
    const found = this.entitlements.find((e) => this.nameOf(e) === name);
    if (found === undefined) throw pamError('NOT_FOUND', `Entitlement ${name} not found.`);
    return found;
  }

  private grant(name: string): Grant {
    this.advance();
    const found = this.grants.get(name);
    if (found === undefined) throw pamError('NOT_FOUND', `Grant ${name} not found.`);
    return found;
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  /** `at`: when it happened, when that is not now (an end noticed later happened at its time). */
  private record(grant: Grant, event: Omit<GrantEvent, 'eventTime'>, state: Grant['state'], at: string = this.now()): void {
    grant.timeline = { events: [...(grant.timeline?.events ?? []), { eventTime: at, ...event }] };
    grant.state = state;
    grant.updateTime = at;
  }

  private isApprover(e: SimulatedEntitlement, email: string): boolean {
    return e.spec.approvers.some((p) => p === `user:${email}` || (this.groups[p] ?? []).includes(email));
  }

  private activate(grant: Grant, e: SimulatedEntitlement): void {
    this.record(grant, { scheduled: { scheduledActivationTime: this.now() } }, 'SCHEDULED');
    const end = new Date(this.clock.now().getTime() + Number.parseFloat(grant.requestedDuration) * 1000).toISOString();
    for (const role of e.spec.iamRoles) {
      this.policies.add({ resource: e.parent, role, members: [`user:${grant.requester}`], condition: { title: grantIdOf(grant.name), expression: `request.time < timestamp("${end}")` } });
    }
    grant.auditTrail = { accessGrantTime: this.now() };
    this.record(grant, { activated: {} }, 'ACTIVE');
  }

  private removeAccess(grant: Grant, e: SimulatedEntitlement, at: string = this.now()): void {
    for (const role of e.spec.iamRoles) this.policies.remove(e.parent, role, `user:${grant.requester}`, grantIdOf(grant.name));
    grant.auditTrail = { ...grant.auditTrail, accessRemoveTime: at };
  }

  /** Moves grants on with the clock: ended when their duration is over, expired when nobody decided in time. */
  advance(): void {
    const now = this.clock.now().getTime();
    for (const grant of this.grants.values()) {
      const e = this.entitlement(grant.name.slice(0, grant.name.indexOf('/grants/')));
      if (grant.state === 'ACTIVE') {
        const end = Date.parse(grant.auditTrail?.accessGrantTime ?? grant.createTime) + Number.parseFloat(grant.requestedDuration) * 1000;
        if (now >= end) {
          const at = new Date(end).toISOString();
          this.removeAccess(grant, e, at);
          this.record(grant, { ended: {} }, 'ENDED', at);
        }
      } else if (grant.state === 'APPROVAL_AWAITED' && now >= Date.parse(grant.createTime) + APPROVAL_WINDOW_MS) {
        this.record(grant, { expired: {} }, 'EXPIRED', new Date(Date.parse(grant.createTime) + APPROVAL_WINDOW_MS).toISOString());
      }
    }
  }

  /** grants.create, as `caller`. */
  create(caller: string, entitlementName: string, body: { requestedDuration?: string; justification?: { unstructuredJustification?: string } }): Grant {
    this.advance();
    const e = this.entitlement(entitlementName);
    const seconds = Number.parseFloat(body.requestedDuration ?? '');
    if (!/^\d+(\.\d+)?s$/.test(body.requestedDuration ?? '') || !(seconds > 0)) throw pamError('INVALID_ARGUMENT', 'requested_duration must be a positive duration such as "3600s".');
    if (seconds > e.spec.maxHours * 3600) throw pamError('INVALID_ARGUMENT', `requested_duration ${body.requestedDuration ?? ''} exceeds the entitlement's max_request_duration of ${e.spec.maxHours * 3600}s.`);
    const justification = body.justification?.unstructuredJustification?.trim() ?? '';
    if (justification === '') throw pamError('INVALID_ARGUMENT', 'justification is required by the entitlement.');
    const open = [...this.grants.values()].find((g) => g.requester === caller && g.name.startsWith(`${entitlementName}/`) && ['APPROVAL_AWAITED', 'SCHEDULED', 'ACTIVATING', 'ACTIVE'].includes(g.state));
    if (open !== undefined) throw pamError('FAILED_PRECONDITION', `${caller} already has an open grant ${grantIdOf(open.name)} on this entitlement.`);
    const name = `${entitlementName}/grants/${randomBytes(8).toString('hex')}`;
    const grant: Grant = {
      name,
      createTime: this.now(),
      updateTime: this.now(),
      requester: caller,
      requestedDuration: `${seconds}s`,
      justification: { unstructuredJustification: justification },
      state: 'APPROVAL_AWAITED',
      timeline: { events: [] },
      privilegedAccess: {
        gcpIamAccess: {
          resourceType: e.parent.startsWith('folders/') ? 'cloudresourcemanager.googleapis.com/Folder' : 'cloudresourcemanager.googleapis.com/Project',
          resource: `//cloudresourcemanager.googleapis.com/${e.parent}`,
          roleBindings: e.spec.iamRoles.map((role) => ({ role })),
        },
      },
    };
    this.grants.set(name, grant);
    this.record(grant, { requested: { expireTime: new Date(Date.parse(grant.createTime) + APPROVAL_WINDOW_MS).toISOString() } }, 'APPROVAL_AWAITED');
    if (e.spec.approvers.length === 0) this.activate(grant, e);
    return structuredClone(grant);
  }

  get(name: string): Grant {
    return structuredClone(this.grant(name));
  }

  /** grants.list of one entitlement, or grants.search with a caller relationship. */
  list(entitlementName: string, caller?: string, relationship?: 'HAD_CREATED' | 'CAN_APPROVE' | 'HAD_APPROVED'): Grant[] {
    this.advance();
    const e = this.entitlement(entitlementName);
    return [...this.grants.values()]
      .filter((g) => g.name.startsWith(`${entitlementName}/`))
      .filter((g) => {
        if (relationship === undefined || caller === undefined) return true;
        if (relationship === 'HAD_CREATED') return g.requester === caller;
        if (relationship === 'CAN_APPROVE') return g.state === 'APPROVAL_AWAITED' && g.requester !== caller && this.isApprover(e, caller);
        return (g.timeline?.events ?? []).some((ev) => ev.approved?.actor === caller);
      })
      .map((g) => structuredClone(g));
  }

  private decide(caller: string, name: string, reason: string, verdict: 'approved' | 'denied'): Grant {
    const grant = this.grant(name);
    const e = this.entitlement(name.slice(0, name.indexOf('/grants/')));
    if (grant.state !== 'APPROVAL_AWAITED') throw pamError('FAILED_PRECONDITION', `Grant ${grantIdOf(name)} is ${grant.state}, not awaiting approval.`);
    if (grant.requester === caller) throw pamError('PERMISSION_DENIED', `${caller} requested grant ${grantIdOf(name)} and cannot ${verdict === 'approved' ? 'approve' : 'deny'} it.`);
    if (!this.isApprover(e, caller)) throw pamError('PERMISSION_DENIED', `${caller} is not an approver of ${e.spec.id}.`);
    if (verdict === 'denied') this.record(grant, { denied: { actor: caller, reason } }, 'DENIED');
    else {
      this.record(grant, { approved: { actor: caller, reason } }, 'SCHEDULED');
      this.activate(grant, e);
    }
    return structuredClone(grant);
  }

  approve(caller: string, name: string, reason: string): Grant {
    return this.decide(caller, name, reason, 'approved');
  }

  deny(caller: string, name: string, reason: string): Grant {
    return this.decide(caller, name, reason, 'denied');
  }

  /** grants.revoke: an approver (or the requester) ends an active grant early. */
  revoke(caller: string, name: string, reason: string): Grant {
    const grant = this.grant(name);
    const e = this.entitlement(name.slice(0, name.indexOf('/grants/')));
    if (grant.state !== 'ACTIVE') throw pamError('FAILED_PRECONDITION', `Grant ${grantIdOf(name)} is ${grant.state}: only an active grant can be revoked.`);
    if (grant.requester !== caller && !this.isApprover(e, caller)) throw pamError('PERMISSION_DENIED', `${caller} may not revoke grant ${grantIdOf(name)}.`);
    this.removeAccess(grant, e);
    this.record(grant, { revoked: { actor: caller, reason } }, 'REVOKED');
    return structuredClone(grant);
  }
}

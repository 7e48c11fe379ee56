import { describe, expect, it } from 'vitest';
import { defaultEntitlements, entitlementProblems, entitlementSpecSchema, type EntitlementSpec } from '../../../../shared/domain/access/entitlements.js';
import { sweepFindings, type Grant } from '../../../../shared/domain/access/grants.js';
import { SimulatedPam, APPROVAL_WINDOW_MS } from '../../../../shared/sim/pam.js';
import { ManualClock } from '../../../../shared/sim/index.js';

const APPROVERS = 'group:oncall-approvers@example.com';
const OPERATORS = ['group:sre@example.com'];

describe('entitlements', () => {
  it('the defaults are sound: prod needs approval or is break-glass, and nobody both requests and approves', () => {
    const defaults = defaultEntitlements([APPROVERS]);
    expect(entitlementProblems(defaults, OPERATORS)).toEqual([]);
    for (const e of defaults) expect(entitlementSpecSchema.safeParse(e).success, e.id).toBe(true);
  });

  it.each([
    ['a prod entitlement without approvers', (e: EntitlementSpec) => (e.id === 'prod-operator' ? { ...e, approvers: [] } : e), 'prod-operator: a prod entitlement needs approvers'],
    ['longer than 8 h on prod', (e: EntitlementSpec) => (e.id === 'prod-operator' ? { ...e, maxHours: 12 } : e), 'prod-operator: at most 8 h on prod'],
    ['requesters among the approvers', (e: EntitlementSpec) => (e.id === 'prod-operator' ? { ...e, approvers: [APPROVERS, ...OPERATORS] } : e), 'prod-operator: group:sre@example.com may both request and approve'],
    ['an id that is not <environment>-<role>', (e: EntitlementSpec) => (e.id === 'dev-operator' ? { ...e, id: 'devops' } : e), 'devops: its id must be <environment>-<role>'],
  ])('refuses %s', (_what, change, problem) => {
    expect(entitlementProblems(defaultEntitlements([APPROVERS]).map(change), OPERATORS).join('\n')).toContain(problem);
  });
});

describe('the simulated PAM', () => {
  const clock = new ManualClock('2026-12-01T09:00:00Z');
  const pam = new SimulatedPam({ clock, entitlements: defaultEntitlements([APPROVERS]).map((spec) => ({ spec, parent: `folders/${spec.environment}` })), groups: { [APPROVERS]: ['bob@example.com'] } });
  const prod = 'folders/prod/locations/global/entitlements/prod-operator';

  it('expires a request nobody decided within the approval window; a second open request is refused', () => {
    const grant = pam.create('carol@example.com', prod, { requestedDuration: '3600s', justification: { unstructuredJustification: 'why' } });
    expect(() => pam.create('carol@example.com', prod, { requestedDuration: '3600s', justification: { unstructuredJustification: 'again' } })).toThrow(/already has an open grant/);
    clock.advance(APPROVAL_WINDOW_MS);
    expect(pam.get(grant.name).state).toBe('EXPIRED');
    expect(() => pam.approve('bob@example.com', grant.name, 'late')).toThrow(/is EXPIRED, not awaiting approval/);
  });

  it('refuses an approver who is not one, and a request without a justification', () => {
    const grant = pam.create('dave@example.com', prod, { requestedDuration: '1800s', justification: { unstructuredJustification: 'why' } });
    expect(() => pam.approve('eve@example.com', grant.name, 'sure')).toThrow('eve@example.com is not an approver of prod-operator.');
    expect(() => pam.create('erin@example.com', prod, { requestedDuration: '1800s' })).toThrow(/justification is required/);
    expect(pam.deny('bob@example.com', grant.name, 'no incident').timeline?.events.at(-1)).toMatchObject({ denied: { actor: 'bob@example.com', reason: 'no incident' } });
  });
});

describe('the sweep', () => {
  const active = (requester: string, role: string): Grant => ({
    name: `folders/prod/locations/global/entitlements/prod-operator/grants/${requester}`,
    createTime: '2026-12-01T09:00:00Z',
    requester,
    requestedDuration: '3600s',
    state: 'ACTIVE',
    privilegedAccess: { gcpIamAccess: { resourceType: 'cloudresourcemanager.googleapis.com/Folder', resource: '//cloudresourcemanager.googleapis.com/folders/prod', roleBindings: [{ role }] } },
  });

  it('explains a binding by an active grant of the same person, role and resource, and nothing else', () => {
    const findings = sweepFindings({
      bindings: [
        { resource: 'folders/prod', role: 'roles/container.developer', members: ['user:alice@example.com', 'user:bob@example.com', 'group:sre@example.com', 'serviceAccount:mi-fn-lifecycle@p.iam.gserviceaccount.com'] },
        { resource: 'projects/cus-acme', role: 'roles/container.developer', members: ['user:alice@example.com'] },
      ],
      grants: [active('alice@example.com', 'roles/container.developer'), { ...active('bob@example.com', 'roles/container.developer'), state: 'ENDED' }],
      breakglassEntitlements: [],
      reviewedGrants: new Set(),
    });
    expect(findings.map((f) => (f.kind === 'standing-human-access' ? `${f.resource} ${f.member}` : f.kind))).toEqual(['folders/prod user:bob@example.com', 'folders/prod group:sre@example.com', 'projects/cus-acme user:alice@example.com']);
  });
});

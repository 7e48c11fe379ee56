/**
 * access-review on the emulators: PAM's grants (the simulator, over HTTP, through the real
 * adapter) copied into the audit trail once per change, break-glass alerting at once, the sweep's
 * findings, and the report's access control listing each grant with who asked, why, who
 * approved, and when it held.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, renderReport, type Compliance, type ComplianceRun } from '../../../shared/compliance/index.js';
import type { AccessGrantRecord } from '../../../shared/compliance/access.js';
import { defaultEntitlements } from '../../../shared/domain/access/entitlements.js';
import type { AuditRecord } from '../../../shared/store/records.js';
import type { AnyEnvelope } from '../../../shared/events/index.js';
import { createIamPolicyReader } from '../../../shared/gcp/iam-policies.js';
import { createPamClient } from '../../../shared/gcp/pam.js';
import { createLocalSigner, localIdentity } from '../../../shared/identity/index.js';
import { servePam, type PamServer } from '../../../shared/sim/pam-http.js';
import { SimulatedPam } from '../../../shared/sim/pam.js';
import { TOPICS } from '../../../shared/topology.js';
import { COLLECTIONS } from '../../../shared/store/collections.js';
import { deliver } from '../../../shared/edge.js';
import { complianceScheduleRoute } from '../../../shared/routes.js';
import { createEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { complianceOn, scheduleDelivery, Tap } from './support.js';

const APPROVERS = 'group:oncall-approvers@example.com';
const PROD = 'folders/300000000002';
const FIFTEEN = 15 * 60_000;

let f: EngineFixture;
let pam: SimulatedPam;
let server: PamServer;
let compliance: Compliance;
let events: Tap;
let prodOperator: string;
let breakglass: string;

const review = () => deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'access-review', f.clock.now()));
const accessAudit = async () => (await f.store.query<AuditRecord>({ collection: COLLECTIONS.audit, where: [{ field: 'origin', op: '==', value: 'pam' }] })).map((d) => d.data);
const envelopes = async (count: number) => (await events.take(count)).map((e) => JSON.parse(Buffer.from(e.data.message.data, 'base64').toString('utf8')) as AnyEnvelope);

beforeAll(async () => {
  f = await createEngineFixture(import.meta.url, { suffix: 'access' });
  events = await Tap.open(f, TOPICS.events);
  pam = new SimulatedPam({
    clock: f.clock,
    entitlements: defaultEntitlements([APPROVERS]).map((spec) => ({ spec, parent: spec.environment === 'prod' ? PROD : 'folders/300000000001' })),
    groups: { [APPROVERS]: ['alice@example.com', 'bob@example.com'] },
  });
  const signer = await createLocalSigner();
  server = await servePam(pam, localIdentity(signer));
  const token = () => signer.sign({ email: 'mi-fn-compliance-schedule@p.iam.gserviceaccount.com', audience: server.url });
  const entitlements = pam.entitlementNames();
  [prodOperator = '', breakglass = ''] = ['prod-operator', 'prod-breakglass'].map((id) => entitlements.find((e) => e.endsWith(`/${id}`)) ?? '');
  compliance = complianceOn(f, 'projects/p/locations/us-central1', {
    access: { pam: createPamClient({ endpoint: server.url, token }), policies: createIamPolicyReader({ endpoint: server.url, token }), entitlements },
  });
});

afterAll(async () => {
  await events.close();
  await server.close();
  await f.close();
});

describe('access-review', () => {
  it('records every grant change once, alerts break-glass at once, reports bindings no grant explains, and the report lists each grant', async () => {
    const prodInstance = await f.seedInstance();
    const asked = pam.create('alice@example.com', prodOperator, { requestedDuration: '3600s', justification: { unstructuredJustification: 'INC-4711: verify the restore' } });
    pam.approve('bob@example.com', asked.name, 'on call');
    pam.create('carol@example.com', breakglass, { requestedDuration: '1800s', justification: { unstructuredJustification: 'SEV1: control plane down' } });
    pam.policies.add({ resource: `projects/${prodInstance.resources.project}`, role: 'roles/owner', members: ['user:mallory@example.com'] });

    const first = await review();
    expect(first).toMatchObject({ kind: 'access-review', result: { newEvents: 7 } });
    const findings = first.kind === 'access-review' ? first.result.findings.map((x) => x.kind) : [];
    expect(findings.sort()).toEqual(['breakglass-unreviewed', 'standing-human-access']);
    const audit = await accessAudit();
    expect(audit.filter((a) => a.grant === asked.name).map((a) => [a.action, a.actor, a.reason])).toEqual([
      ['access.requested', 'alice@example.com', 'INC-4711: verify the restore'],
      ['access.approved', 'bob@example.com', 'on call'],
      ['access.scheduled', 'system:pam', null],
      ['access.activated', 'system:pam', null],
    ]);
    const alerts = (await envelopes(2)).filter((e) => e.type === 'alert');
    expect(alerts.map((a) => (a.payload as { severity: string; summary: string }).summary).sort()).toEqual([
      expect.stringMatching(/^access review .*: 2 finding\(s\)$/),
      'break-glass access to prod: carol@example.com (0.5 h)',
    ]);

    // The next slot: nothing new is recorded twice.
    f.clock.advance(FIFTEEN);
    expect(await review()).toMatchObject({ result: { newEvents: 0 } });
    expect((await accessAudit()).length).toBe(audit.length);

    // The hour is over: PAM removed the access, and the trail says so.
    f.clock.advance(3_600_000);
    expect(await review()).toMatchObject({ result: { newEvents: 2 } });
    expect((await accessAudit()).filter((a) => a.action === 'access.ended').map((a) => a.requester).sort()).toEqual(['alice@example.com', 'carol@example.com']);
    const stored = await f.store.get<AccessGrantRecord>(`${COLLECTIONS.accessGrants}/${asked.name.split('/').at(-1) ?? ''}`);
    expect(stored).toMatchObject({ requester: 'alice@example.com', approvedBy: 'bob@example.com', reason: 'INC-4711: verify the restore', state: 'ENDED', start: '2026-11-26T10:00:00.000Z', end: '2026-11-26T11:00:00.000Z' });

    const run = { runId: 'verify-backups-test', schedule: 'verify-backups', trigger: 'manual', slotStart: f.clock.now().toISOString(), slotEnd: f.clock.now().toISOString(), asOf: f.clock.now().toISOString(), status: 'done', createdAt: f.clock.now().toISOString(), doneAt: null, requestedBy: 'test' } as unknown as ComplianceRun;
    const report = await buildReport(f.store, run, f.clock.now());
    expect(report.access).toMatchObject({ control: 'access.time-bound', status: 'fail' });
    expect(report.access.problems).toEqual(expect.arrayContaining([expect.stringContaining('user:mallory@example.com holds roles/owner')]));
    const markdown = renderReport(report, 'md');
    expect(markdown).toContain(`| prod-operator | alice@example.com | INC-4711: verify the restore | bob@example.com | ENDED | 2026-11-26T10:00:00.000Z | 2026-11-26T11:00:00.000Z |`);
    expect(markdown).toContain('| prod-breakglass | carol@example.com | SEV1: control plane down | break-glass | ENDED |');
  });
});

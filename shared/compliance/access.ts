/**
 * access-review (every 15 minutes): the evidence of time-bound access. PAM keeps a grant's
 * history only for a while after it ends, so every state change of every grant is copied into
 * the audit trail once (`accessGrants/{id}` remembers how much of its timeline is recorded);
 * a break-glass grant that became active alerts at once. Then the sweep: every human binding on
 * the prod folder and the prod instances' projects (a project's policy leaves out what it
 * inherits) that no active grant explains, and every break-glass grant not yet reviewed, are
 * this run's findings, recorded and alerted.
 */
import { summarizeGrant, sweepFindings, entitlementOf, grantIdOf, type Grant, type GrantEvent, type GrantSummary, type SweepFinding } from '../domain/access/grants.js';
import type { InstanceRecord } from '../events/index.js';
import { publishOutbox } from '../store/outbox.js';
import { appendAudit, enqueue } from '../store/records.js';
import { COLLECTIONS, compliancePaths } from '../store/collections.js';
import type { AccessReviewDeps, ComplianceDeps } from './model.js';

export type { AccessReviewDeps } from './model.js';
import { finishRun, type RunRequest, type StartedRun } from './runs.js';

const ACTOR = 'system:access-review';

/** `accessGrants/{grant id}`: a grant as the audit trail knows it. */
export interface AccessGrantRecord extends GrantSummary {
  /** Timeline events already copied into the audit trail. */
  recordedEvents: number;
  breakglass: boolean;
  reviewedBy: string | null;
  updatedAt: string;
}

export interface AccessReviewRecord {
  runId: string;
  at: string;
  grants: number;
  newEvents: number;
  findings: SweepFinding[];
}

export interface AccessReviewResult {
  runId: string;
  newEvents: number;
  findings: SweepFinding[];
}

const KINDS = ['requested', 'approved', 'denied', 'revoked', 'withdrawn', 'scheduled', 'activated', 'activationFailed', 'expired', 'ended', 'externallyModified'] as const;
const kindOf = (event: GrantEvent): string => KINDS.find((k) => event[k] !== undefined) ?? 'changed';
const isBreakglass = (grant: Grant) => entitlementOf(grant.name).endsWith('-breakglass');

/** Copies a grant's new timeline events into the audit trail, once; alerts a break-glass activation. */
async function recordGrant(deps: ComplianceDeps, grant: Grant): Promise<number> {
  const id = grantIdOf(grant.name);
  const events = grant.timeline?.events ?? [];
  const outcome = await deps.store.transaction(async (tx) => {
    const now = deps.clock.now();
    const known = await tx.get<AccessGrantRecord>(compliancePaths.accessGrant(id));
    const from = known?.recordedEvents ?? 0;
    const fresh = events.slice(from);
    const summary = summarizeGrant(grant);
    if (fresh.length === 0 && known?.state === grant.state) return { count: 0, outbox: [] };
    for (const event of fresh) {
      const kind = kindOf(event);
      const by = event.approved?.actor ?? event.denied?.actor ?? event.revoked?.actor ?? (kind === 'requested' || kind === 'withdrawn' ? grant.requester : 'system:pam');
      const reason = event.approved?.reason ?? event.denied?.reason ?? event.revoked?.reason ?? (kind === 'requested' ? summary.reason : null);
      appendAudit(
        tx,
        { actor: by, origin: 'pam', action: `access.${kind}`, instanceId: null, operationId: null, before: null, after: { state: grant.state }, causeEventId: null, grant: grant.name, entitlement: summary.entitlement, requester: grant.requester, reason, eventTime: event.eventTime },
        now,
      );
    }
    // A review recorded on it (reviewedBy, when and why) is the trail's, not PAM's: it stays.
    const record: AccessGrantRecord = { ...known, ...summary, recordedEvents: events.length, breakglass: isBreakglass(grant), reviewedBy: known?.reviewedBy ?? null, updatedAt: now.toISOString() };
    tx.set(compliancePaths.accessGrant(id), record);
    const activatedNow = fresh.some((e) => e.activated !== undefined);
    const outbox =
      isBreakglass(grant) && activatedNow
        ? [enqueue(tx, { type: 'alert', payload: { kind: 'break-glass', severity: 'critical', summary: `break-glass access to prod: ${grant.requester} (${summary.hours} h)`, details: { grant: grant.name, reason: summary.reason } }, actor: ACTOR, reason: `break-glass grant ${id} is active` }, now)]
        : [];
    return { count: fresh.length, outbox };
  });
  await publishOutbox(deps, outcome.outbox);
  return outcome.count;
}

/** The prod folders the entitlements sit on, and each prod instance's project. */
async function sweptResources(deps: ComplianceDeps, access: AccessReviewDeps): Promise<string[]> {
  const folders = access.entitlements.filter((e) => /\/entitlements\/prod-/.test(e)).map((e) => e.slice(0, e.indexOf('/locations/')));
  const projects: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await deps.store.query<InstanceRecord>({ collection: COLLECTIONS.instances, where: [{ field: 'environment', op: '==', value: 'prod' }], limit: deps.pageSize, ...(after === undefined ? {} : { startAfterId: after }) });
    projects.push(...page.map((d) => `projects/${d.data.resources.project}`));
    if (page.length < deps.pageSize) break;
    after = page.at(-1)?.id;
  }
  return [...new Set([...folders, ...projects])];
}

export async function runAccessReview(deps: ComplianceDeps, request: RunRequest, start: StartedRun): Promise<AccessReviewResult> {
  const access = deps.access;
  if (access === undefined || access.entitlements.length === 0) {
    // Recorded, not retried: the report's access control fails until entitlements exist.
    const missing: SweepFinding = { kind: 'standing-human-access', resource: 'configuration', role: '', member: '', detail: 'no PAM entitlements are configured (mi:accessFolders): access to prod is not time-bound' };
    await deps.store.set(compliancePaths.accessReview(request.runId), { runId: request.runId, at: deps.clock.now().toISOString(), grants: 0, newEvents: 0, findings: [missing] } satisfies AccessReviewRecord);
    await finishRun(deps, request.runId, start.token, { outcome: { failed: missing.detail } });
    return { runId: request.runId, newEvents: 0, findings: [missing] };
  }
  const grants = (await Promise.all(access.entitlements.map((e) => access.pam.grants(e)))).flat();
  let newEvents = 0;
  for (const grant of grants) newEvents += await recordGrant(deps, grant);

  const bindings = (await Promise.all((await sweptResources(deps, access)).map((resource) => access.policies.bindings(resource)))).flat();
  const reviewed = new Set(
    (await deps.store.query<AccessGrantRecord>({ collection: COLLECTIONS.accessGrants, where: [{ field: 'breakglass', op: '==', value: true }] })).filter((d) => d.data.reviewedBy !== null).map((d) => d.data.grant),
  );
  const findings = sweepFindings({ bindings, grants, breakglassEntitlements: access.entitlements.filter((e) => e.endsWith('-breakglass')).map((e) => e.slice(e.lastIndexOf('/') + 1)), reviewedGrants: reviewed });

  const outbox = await deps.store.transaction((tx) => {
    const now = deps.clock.now();
    const record: AccessReviewRecord = { runId: request.runId, at: now.toISOString(), grants: grants.length, newEvents, findings };
    tx.set(compliancePaths.accessReview(request.runId), record);
    for (const finding of findings) {
      appendAudit(tx, { actor: ACTOR, action: `access.finding.${finding.kind}`, instanceId: null, operationId: null, before: null, after: null, causeEventId: null, detail: finding.detail, runId: request.runId }, now);
    }
    if (findings.length === 0) return Promise.resolve([]);
    return Promise.resolve([enqueue(tx, { type: 'alert', payload: { kind: 'access-review', severity: 'warning', summary: `access review ${request.runId}: ${findings.length} finding(s)`, details: { findings: findings.map((f) => f.detail) } }, actor: ACTOR, reason: findings[0]?.detail ?? '' }, now)]);
  });
  await publishOutbox(deps, outbox);
  await finishRun(deps, request.runId, start.token, { outcome: { grants: grants.length, newEvents, findings: findings.length } });
  return { runId: request.runId, newEvents, findings };
}

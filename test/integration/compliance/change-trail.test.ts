/**
 * The report's change trail against the Firestore emulator and the simulated GitHub (issue 20,
 * item 1, CC8.1): a period with operations (two upgrades the webhook turned merges into, a backup
 * and a prod delete approved by a second person) and two applied commits, one merged through a
 * pull request another person approved, one approved only by its author. The verdict fails naming
 * CC8.1 and that commit only; Failures lists it in Markdown and HTML; the JSON form carries both
 * commits' GitHub evidence (call, fields read, values, time read) and every operation.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, renderReport, type ComplianceRun } from '../../../shared/compliance/index.js';
import type { ComplianceReport } from '../../../shared/compliance/report.js';
import { deliver } from '../../../shared/edge.js';
import type { Envelope, InstanceRecord } from '../../../shared/events/index.js';
import { deploymentsRoute, lifecycleRoute } from '../../../shared/routes.js';
import { STRICT_PROTECTION } from '../../../shared/sim/github.js';
import { compliancePaths } from '../../../shared/store/collections.js';
import { pubSubCloudEvent } from '../../../harness/cloud-event.js';
import { lifecycleDelivery } from '../../support/engine-fixture.js';
import { createWebhookWorld, instanceConfig, instanceRoot, pushPayload, sha, type WebhookWorld } from '../webhook/support.js';

let world: WebhookWorld;
let report: ComplianceReport;
const base = sha(0x7000);
const reviewed = sha(0x7001);
const selfApproved = sha(0x7002);
const reviewedHead = sha(0x7101);
let instances: InstanceRecord[] = [];
let periodStart = '';

const pushDelivery = (push: Envelope<'deployment.pushed'>) => pubSubCloudEvent(push, { topic: 'mi-deployments' });

/** A merge of `commit` (child of `before`) pushed to main, handled by the deployments consumer, its commands accepted, and recorded as applied. */
async function mergeAndApply(before: string, commit: string, file: string): Promise<void> {
  const { pushes } = await world.post(pushPayload({ before, after: commit, commits: [{ modified: [file] }] }), { delivery: randomUUID() });
  for (const push of pushes) await deliver(world.consumer.deps, deploymentsRoute(world.consumer), pushDelivery(push));
  await world.deliverCommands();
  await world.consumer.tick();
}

beforeAll(async () => {
  world = await createWebhookWorld(import.meta.url);
  periodStart = new Date(world.fx.clock.now().getTime() - 3_600_000).toISOString();
  instances = [await world.fx.seedInstance({ environment: 'prod', tier: 'customer', version: '5.4.2' }), await world.fx.seedInstance({ environment: 'prod', tier: 'customer', version: '5.4.2' })];
  const [a, b] = instances as [InstanceRecord, InstanceRecord];
  const fileA = `${instanceRoot('prod', a.id)}/config.yaml`;
  const fileB = `${instanceRoot('prod', b.id)}/config.yaml`;
  const at = (minutes: number) => new Date(world.fx.clock.now().getTime() - minutes * 60_000).toISOString();
  world.repo.commit(base, { [fileA]: instanceConfig(a.id, 'prod', 'customer', '5.4.2'), [fileB]: instanceConfig(b.id, 'prod', 'customer', '5.4.2') }, { branch: 'main' });
  world.repo.commit(reviewed, { [fileA]: instanceConfig(a.id, 'prod', 'customer', '5.5.0'), [fileB]: instanceConfig(b.id, 'prod', 'customer', '5.4.2') }, { parents: [base], branch: 'main' });
  world.repo.commit(selfApproved, { [fileA]: instanceConfig(a.id, 'prod', 'customer', '5.5.0'), [fileB]: instanceConfig(b.id, 'prod', 'customer', '5.5.0') }, { parents: [reviewed], branch: 'main' });

  // On GitHub: main is protected; #1 by alice, approved by bob on its head, merged as `reviewed`;
  // #2 by carol, approved by carol alone (bob asked for changes, then commented), merged as `selfApproved`.
  const github = world.repo.github;
  github.protect('main', STRICT_PROTECTION);
  const one = github.openPullRequest({ author: 'alice', commits: [reviewedHead] });
  github.review(one, { reviewer: 'bob', state: 'APPROVED', at: at(50) });
  github.merge(one, { mergeCommitSha: reviewed, at: at(45) });
  const two = github.openPullRequest({ author: 'carol', commits: [selfApproved] });
  github.review(two, { reviewer: 'bob', state: 'CHANGES_REQUESTED', at: at(40) });
  github.review(two, { reviewer: 'bob', state: 'COMMENTED', at: at(35) });
  github.review(two, { reviewer: 'carol', state: 'APPROVED', at: at(30) });
  github.merge(two, { mergeCommitSha: selfApproved, at: at(25) });

  await mergeAndApply(base, reviewed, fileA);
  await mergeAndApply(reviewed, selfApproved, fileB);
  // An operator's backup, and a prod delete that a second person approves.
  const idle = await world.fx.seedInstance({ environment: 'prod', tier: 'customer', version: '5.4.2' });
  const backup = world.fx.command('instance.backup', idle.id, {});
  expect((await deliver(world.fx.engine.deps, lifecycleRoute(world.fx.engine), lifecycleDelivery(backup))).kind).toBe('accepted');
  const extra = await world.fx.seedInstance({ environment: 'prod', tier: 'customer', version: '5.4.2' });
  const remove = world.fx.command('instance.delete', extra.id, { confirmSlug: extra.slug });
  expect((await deliver(world.fx.engine.deps, lifecycleRoute(world.fx.engine), lifecycleDelivery(remove))).kind).toBe('accepted');
  expect(await world.fx.engine.approve(`op-${remove.eventId}`, { email: 'bob@example.com', subject: '2' })).toEqual({ kind: 'approved', operationId: `op-${remove.eventId}` });

  // GitHub answers one transient fault: the report reads again rather than failing the commit.
  github.faults.inject({ method: 'pullRequestsOfCommit', error: { httpStatus: 502 } });
  const now = world.fx.clock.now();
  const run: ComplianceRun = {
    runId: 'verify-backups-change-trail',
    schedule: 'verify-backups',
    trigger: 'manual',
    slotStart: periodStart,
    slotEnd: new Date(now.getTime() + 3_600_000).toISOString(),
    asOf: now.toISOString(),
    messageId: 'm-1',
    requestedBy: 'alice@example.com',
    createdAt: now.toISOString(),
    status: 'done',
    claim: null,
    planned: 0,
    doneAt: now.toISOString(),
    summary: null,
    outcome: null,
  };
  await world.fx.store.set(compliancePaths.run(run.runId), run);
  report = await buildReport(world.fx.store, run, now, undefined, { repo: world.repo, clock: world.fx.clock, retryDelayMs: 1 });
}, 120_000);

afterAll(async () => {
  await world.close();
});

describe('the change trail (CC8.1)', () => {
  it('the verdict fails naming CC8.1 and the self-approved commit, not the reviewed one', () => {
    expect(report.verdict.outcome).toBe('fail');
    const cc81 = report.verdict.reasons.filter((r) => r.startsWith('CC8.1'));
    expect(cc81).toEqual([`CC8.1: 1 applied commit(s) without a reviewed, approved and protected merge: ${selfApproved.slice(0, 12)} (Changes, Failures)`]);
    expect(report.changes.status).toBe('fail');
    expect(report.changes.criteria.tsc).toEqual(['CC8.1']);
  });

  it('judges each applied commit from its pull request, reviews and the protection in force', () => {
    const judged = report.changes.commits.map((c) => ({ commit: c.commit, pull: c.pull?.number, author: c.author, approvers: c.approvers, outcome: c.outcome, reasons: c.reasons }));
    expect(judged.sort((x, y) => (x.pull ?? 0) - (y.pull ?? 0))).toEqual([
      { commit: reviewed, pull: 1, author: 'alice', approvers: ['bob'], outcome: 'pass', reasons: [] },
      { commit: selfApproved, pull: 2, author: 'carol', approvers: [], outcome: 'fail', reasons: ['approved only by its author carol'] },
    ]);
    for (const c of report.changes.commits) {
      expect(c.actions).toEqual(['deployment.change-applied']);
      expect(c.instances).toBe(1);
      expect(c.protection).toEqual(STRICT_PROTECTION);
    }
    // The transient 502 was read again, not turned into a finding.
    expect(world.repo.github.faults.pending()).toBe(0);
    expect(world.repo.github.faults.calls('pullRequestsOfCommit')).toBe(3);
    // Per commit its pull requests and that pull request's reviews; the base branch's protection once for both.
    expect([world.repo.github.faults.calls('reviewsOf'), world.repo.github.faults.calls('branchProtection')]).toEqual([2, 1]);
  });

  it("the JSON form carries both commits' evidence: call, fields read, values, time read", () => {
    const json = JSON.parse(renderReport(report, 'json')) as ComplianceReport;
    const good = json.changes.commits.find((c) => c.commit === reviewed);
    const bad = json.changes.commits.find((c) => c.commit === selfApproved);
    expect(good?.evidence.map((e) => e.call)).toEqual([`GET /repos/local/deployments/commits/${reviewed}/pulls`, 'GET /repos/local/deployments/pulls/1/reviews', 'GET /repos/local/deployments/branches/main/protection']);
    expect(good?.evidence[0]?.fields).toMatchObject({ number: 1, 'user.login': 'alice', merge_commit_sha: reviewed, 'base.ref': 'main', 'head.sha': reviewedHead });
    expect(good?.evidence[1]?.fields).toMatchObject({ 'reviews.length': 1, '[0].user.login': 'bob', '[0].state': 'APPROVED', '[0].commit_id': reviewedHead });
    expect(good?.evidence[2]?.fields).toMatchObject({ protected: true, 'required_pull_request_reviews.required_approving_review_count': 1, 'enforce_admins.enabled': true });
    expect(bad?.evidence[1]?.fields).toMatchObject({ 'reviews.length': 3, '[0].state': 'CHANGES_REQUESTED', '[2].user.login': 'carol', '[2].state': 'APPROVED' });
    for (const e of [...(good?.evidence ?? []), ...(bad?.evidence ?? [])]) expect(Date.parse(e.readAt)).not.toBeNaN();
  });

  it('lists every operation of the period with who asked and who approved, and counts them by type', () => {
    const { byType, list } = report.changes.operations;
    const upgrades = list.filter((o) => o.type === 'upgrade');
    expect(upgrades.map((o) => o.instanceId).sort()).toEqual(instances.map((i) => i.id).sort());
    expect(upgrades.every((o) => o.origin === 'webhook')).toBe(true);
    const remove = list.find((o) => o.type === 'delete');
    expect(remove?.approval).toMatchObject({ requestedBy: 'alice@example.com', approvedBy: 'bob@example.com' });
    expect(byType.find((t) => t.type === 'delete')).toMatchObject({ count: 1, neededApproval: 1, approved: 1, approvers: ['bob@example.com'], askers: ['alice@example.com'] });
    expect(byType.find((t) => t.type === 'upgrade')?.count).toBe(2);
    expect(byType.find((t) => t.type === 'backup')?.count).toBe(1);
  });

  it('Markdown and HTML show both tables and list the failing commit under Failures', () => {
    const md = renderReport(report, 'md');
    const changes = md.slice(md.indexOf('## Changes'), md.indexOf('## Failures'));
    expect(changes).toContain('| upgrade | 2 |');
    expect(changes).toContain(`| ${reviewed.slice(0, 12)} | [#1](https://github.com/local/deployments/pull/1) | alice | bob | main: 1 approving review(s) required; stale reviews dismissed; admins included; status checks (strict): ci | PASS |`);
    expect(changes).toContain(`| ${selfApproved.slice(0, 12)} | [#2](https://github.com/local/deployments/pull/2) | carol | — |`);
    const failures = md.slice(md.indexOf('## Failures'), md.indexOf('## Trend'));
    expect(failures).toContain(`commit ${selfApproved} (#2): approved only by its author carol`);
    expect(failures).not.toContain(reviewed);
    const html = renderReport(report, 'html');
    expect(html).toContain('<h2>Changes</h2>');
    expect(html).toContain('<a href="https://github.com/local/deployments/pull/2">#2</a>');
    expect(html.slice(html.indexOf('<h2>Failures</h2>'))).toContain(`commit ${selfApproved} (#2): approved only by its author carol`);
  });

  it('without a reader of the repository, each applied commit is a finding rather than a pass', async () => {
    const run = await world.fx.store.get<ComplianceRun>(compliancePaths.run('verify-backups-change-trail'));
    if (run === undefined) throw new Error('no run');
    const blind = await buildReport(world.fx.store, run, world.fx.clock.now());
    expect(blind.changes.commits.map((c) => c.outcome)).toEqual(['fail', 'fail']);
    expect(blind.changes.commits[0]?.reasons[0]).toMatch(/no reader of the deployment repository/);
  });
});

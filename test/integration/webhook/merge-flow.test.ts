import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleGithubWebhook } from '../../../shared/webhook/index.js';
import { type DeploymentsConsumer } from '../../../shared/deployments/index.js';
import type { ModuleApplyRecord } from '../../../shared/domain/deployments/applies.js';
import type { OperationRecord } from '../../../shared/domain/lifecycle/operations.js';
import { type LedgerEntry } from '../../../shared/engine/index.js';
import type { Envelope } from '../../../shared/events/index.js';
import { PUSHER_EMAIL, createWebhookWorld, instanceConfig, mergedPullRequest, pushPayload, sha, signedHeaders, type WebhookWorld } from './support.js';
import { deploymentPaths, paths, rolloutPaths } from '../../../shared/store/collections.js';
import { moduleChangeId, type InstanceProgress, type RolloutRecord } from '../../../shared/domain/rollout/index.js';
import { mi } from '../cli/support.js';

let world: WebhookWorld;

const root = (env: string, id: string) => `environments/${env}/deployments/${id}`;
const config = instanceConfig;

/** Delivers a signed payload to the webhook handler, then the resulting push message to the consumer. */
async function deliver(payload: unknown, event = 'push', delivery = randomUUID()) {
  const body = JSON.stringify(payload);
  const headers = await signedHeaders(body, event, delivery);
  const before = world.pushes().length;
  const answer = await handleGithubWebhook({ method: 'POST', header: (n) => headers[n.toLowerCase()], rawBody: Buffer.from(body) }, world.webhookDeps);
  const outcomes = [];
  for (const push of world.pushes().slice(before)) outcomes.push(await world.consumer.handlePush(push));
  return { answer, outcomes };
}

const ALWAYS_OPEN = { days: ['mon' as const, 'tue' as const, 'wed' as const, 'thu' as const, 'fri' as const, 'sat' as const, 'sun' as const], start: '00:00', hours: 24, timeZone: 'Etc/UTC' };

/** The module change (on the rollout planner) of one module at one commit. */
async function fanOut(module: string, commit: string): Promise<RolloutRecord> {
  const found = await world.fx.store.get<RolloutRecord>(rolloutPaths.rollout(moduleChangeId(module, commit)));
  if (found === undefined) throw new Error(`no module change of ${module} at ${commit}`);
  return found;
}

async function applies(commit: string): Promise<ModuleApplyRecord[]> {
  const docs = await world.fx.store.query<ModuleApplyRecord>({ collection: 'moduleApplies', where: [{ field: 'commit', op: '==', value: commit }] });
  return docs.map((d) => d.data).sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * Drives every module-apply operation the world asked for to its end, then ticks the consumer and
 * (the rollout schedule) the module changes; 30 s pass a round, so a busy member is tried again.
 */
async function settle(consumer: DeploymentsConsumer, rounds = 8): Promise<void> {
  for (let i = 0; i < rounds; i += 1) {
    await world.deliverCommands();
    const ops = await world.fx.store.query<OperationRecord>({ collection: 'operations', where: [{ field: 'status', op: '==', value: 'running' }] });
    for (const op of ops) await world.fx.driveToEnd(op.id);
    world.fx.clock.advance(30_000);
    await consumer.tick();
    await world.rollouts.tickAll();
  }
}

beforeAll(async () => {
  world = await createWebhookWorld(import.meta.url);
});
afterAll(async () => {
  await world.close();
});

describe('a merge on the deployment repository', () => {
  it('touching 3 instances and 2 modules gives exactly the right applies and plans, in waves', async () => {
    const dev = await world.fx.seedInstance({ environment: 'dev', tier: 'internal', maintenanceWindow: undefined });
    const internal = await world.fx.seedInstance({ environment: 'prod', tier: 'internal' });
    // Its window always open: this is about the waves (windows are the next tests').
    const customer = await world.fx.seedInstance({ environment: 'prod', tier: 'customer', maintenanceWindow: ALWAYS_OPEN });
    const before = sha(0x100);
    const after = sha(0x101);
    const files = [dev, internal, customer].flatMap((i) => [`${root(i.environment, i.id)}/terraform/stacks/monitoring/alerts.tf`, `${root(i.environment, i.id)}/terraform/stacks/networking/vpc.tf`]);
    world.fx.fleet.executor.scriptOutcome({ action: 'plan' }, 'succeeded', 'Plan: 1 to add, 2 to change, 0 to destroy.', 3);
    // Each plan run reports its saved file's digest (its own) and its shape (the same change everywhere).
    const digestOf = (id: string) => createHash('sha256').update(id).digest('hex');
    for (const i of [dev, internal, customer]) world.fx.fleet.executor.scriptOutputs({ action: 'plan', instanceId: i.id }, { planDigest: digestOf(i.id), planShape: 'e'.repeat(64), planAdd: '1', planChange: '2', planDestroy: '0' });
    const { answer, outcomes } = await deliver(pushPayload({ before, after, commits: [{ modified: files.slice(0, 3) }, { modified: files.slice(3) }] }));
    expect(answer.status).toBe(202);
    expect(outcomes[0]).toMatchObject({ kind: 'handled', source: 'payload', commands: [], invalid: [] });
    // Each module at the commit is a module change on the rollout planner; their first ticks start the dev wave.
    await world.runTicks();
    expect((await fanOut('monitoring', after))).toMatchObject({ kind: 'module-change', moduleChange: { module: 'monitoring', mode: 'auto' }, membership: { sizes: { dev: 1, internal: 1, customers: 1 } } });

    let recorded = await applies(after);
    expect(recorded.map((a) => [a.instanceId, a.module, a.mode, a.wave, a.status])).toEqual(
      [
        [dev.id, 'monitoring', 'auto', 0, 'applying'],
        [dev.id, 'networking', 'confirm', 0, 'planning'],
        [internal.id, 'monitoring', 'auto', 1, 'waiting'],
        [internal.id, 'networking', 'confirm', 1, 'planning'],
        [customer.id, 'monitoring', 'auto', 2, 'waiting'],
        [customer.id, 'networking', 'confirm', 2, 'planning'],
      ].sort((a, b) => `${String(a[0])}.${String(a[1])}`.localeCompare(`${String(b[0])}.${String(b[1])}`)),
    );
    // Exactly one apply (dev monitoring) and three plans asked for so far: the other applies wait for their wave.
    const asked = world.commands().filter((c): c is Envelope<'instance.module-apply'> => c.type === 'instance.module-apply');
    expect(asked.map((c) => `${c.instanceId ?? ''}:${c.payload.module}:${c.payload.action}`).sort()).toEqual(
      [`${dev.id}:monitoring:apply`, `${dev.id}:networking:plan`, `${internal.id}:networking:plan`, `${customer.id}:networking:plan`].sort(),
    );

    await settle(world.consumer);
    recorded = await applies(after);
    const byKey = Object.fromEntries(recorded.map((a) => [`${a.instanceId}:${a.module}`, a]));
    // Monitoring went through every wave by itself; networking waits for a person with its plan summary.
    for (const i of [dev, internal, customer]) {
      expect(byKey[`${i.id}:monitoring`]?.status).toBe('applied');
      expect(byKey[`${i.id}:networking`]).toMatchObject({ status: 'awaiting-confirmation', planSummary: 'Plan: 1 to add, 2 to change, 0 to destroy.', plan: { digest: digestOf(i.id), shape: 'e'.repeat(64), add: 1, change: 2, destroy: 0 } });
    }
    const monitoringOps = await Promise.all(recorded.filter((a) => a.module === 'monitoring').map((a) => world.fx.operation(a.operationId ?? '')));
    expect(monitoringOps.map((o) => [o?.type, o?.status])).toEqual([
      ['module-apply', 'succeeded'],
      ['module-apply', 'succeeded'],
      ['module-apply', 'succeeded'],
    ]);

    // Not the one who pushed (and wrote) the merge, verified as themselves: a second person must.
    const own = await world.consumer.confirm({ module: 'networking', commit: after.slice(0, 12) }, { email: PUSHER_EMAIL, subject: 'codertocat' });
    expect(own).toEqual({ kind: 'refused', code: 'same-person', message: `${PUSHER_EMAIL} pushed this merge (as GitHub user Codertocat) and cannot confirm it: a second person must` });

    // A person confirms networking for every instance at once; it applies in waves, recording who.
    const confirmed = await world.consumer.confirm({ module: 'networking', commit: after.slice(0, 12) }, { email: 'carol@example.com', subject: 'carol' });
    expect(confirmed).toMatchObject({ kind: 'confirmed', by: 'carol@example.com' });
    await settle(world.consumer);
    recorded = await applies(after);
    expect(recorded.filter((a) => a.module === 'networking').map((a) => [a.status, a.confirmedBy])).toEqual([
      ['applied', 'carol@example.com'],
      ['applied', 'carol@example.com'],
      ['applied', 'carol@example.com'],
    ]);
    // Each confirmed the digest carol saw, and each apply asked for exactly that saved plan.
    for (const a of recorded.filter((x) => x.module === 'networking')) expect(a.confirmedDigest).toBe(digestOf(a.instanceId));
    const appliesAsked = world.commands().filter((c): c is Envelope<'instance.module-apply'> => c.type === 'instance.module-apply' && c.payload.module === 'networking' && c.payload.action === 'apply');
    expect(appliesAsked.map((c) => [c.instanceId, c.payload.planDigest]).sort()).toEqual([dev, internal, customer].map((i) => [i.id, digestOf(i.id)]).sort());

    // mi apply diff: three plans, one shape.
    const diff = await mi(world.fx.projectId, ['apply', 'diff', '--module', 'networking', '--commit', after.slice(0, 12)]);
    expect(diff.stdout).toContain(`networking at ${after.slice(0, 12)}: 3 plan(s), 1 distinct`);
    expect(diff.stdout).toContain(`3 instance(s): ${[dev.id, internal.id, customer.id].sort().join(', ')}`);
    const shown = await mi(world.fx.projectId, ['apply', 'show', `${dev.id}.networking.${after.slice(0, 12)}`]);
    expect(shown.stdout).toContain(`sha256:${digestOf(dev.id)}`);
    expect(shown.stdout).toContain(`by carol@example.com at `);
    expect(shown.stdout).toContain('+1 ~2 -0');

    // The same body under a new delivery id changes nothing.
    const operations = await world.fx.store.count({ collection: 'operations' });
    const again = await deliver(pushPayload({ before, after, commits: [{ modified: files.slice(0, 3) }, { modified: files.slice(3) }] }));
    expect(again.outcomes).toEqual([{ kind: 'duplicate' }]);
    await settle(world.consumer, 2);
    expect(await world.fx.store.count({ collection: 'operations' })).toBe(operations);
  });

  it('a failed apply in one wave halts the waves after it; resumed, accepting the failure, the next wave applies', async () => {
    const dev = await world.fx.seedInstance({ environment: 'dev', tier: 'internal', maintenanceWindow: undefined });
    const customer = await world.fx.seedInstance({ environment: 'prod', tier: 'customer', maintenanceWindow: ALWAYS_OPEN });
    const after = sha(0x201);
    world.fx.fleet.executor.scriptOutcome({ action: 'apply', instanceId: dev.id }, 'failed', 'terraform apply: quota exceeded', 5);
    await deliver(pushPayload({ before: sha(0x200), after, commits: [{ modified: [dev, customer].map((i) => `${root(i.environment, i.id)}/terraform/stacks/security/iam.tf`) }] }));
    await settle(world.consumer);
    let recorded = await applies(after);
    // The customer's apply never started: it waits in its halted module change.
    expect(recorded.map((a) => [a.instanceId, a.status])).toEqual(
      [
        [dev.id, 'failed'],
        [customer.id, 'waiting'],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
    const halted = await fanOut('security', after);
    expect(halted).toMatchObject({ status: 'halted', halt: { wave: 'dev', failed: [dev.id] } });
    expect(halted.halt?.reason).toContain('quota exceeded');
    expect(world.commands().filter((c) => c.instanceId === customer.id)).toEqual([]);

    // An operator accepts the failure (mi workflow resume names module changes too): the customers' wave applies.
    expect(await world.rollouts.control(halted.id, 'resume', 'carol@example.com', 'dev quota is a known gap')).toMatchObject({ kind: 'changed' });
    await settle(world.consumer);
    recorded = await applies(after);
    expect(recorded.find((a) => a.instanceId === customer.id)?.status).toBe('applied');
    expect((await fanOut('security', after)).status).toBe('completed');
  });

  it('a halted module change shows in mi apply list with what to do; aborted, its applies not started are halted, saying who', async () => {
    const dev = await world.fx.seedInstance({ environment: 'dev', tier: 'internal', maintenanceWindow: undefined });
    const customer = await world.fx.seedInstance({ environment: 'prod', tier: 'customer', maintenanceWindow: ALWAYS_OPEN });
    const after = sha(0x221);
    world.fx.fleet.executor.scriptOutcome({ action: 'apply', instanceId: dev.id }, 'failed', 'terraform apply: quota exceeded', 5);
    await deliver(pushPayload({ before: sha(0x220), after, commits: [{ modified: [dev, customer].map((i) => `${root(i.environment, i.id)}/terraform/stacks/monitoring/alerts.tf`) }] }));
    await settle(world.consumer);
    const change = await fanOut('monitoring', after);
    expect(change.status).toBe('halted');
    const listed = await mi(world.fx.projectId, ['apply', 'list']);
    expect(listed.stdout).toContain(`  module change ${change.id} HALTED: wave dev: 1 apply(s) failed`);
    expect(listed.stdout).toContain(`mi workflow resume ${change.id} (accepting it) or mi workflow abort ${change.id}`);

    // The abort as the commands function passes it on (mi workflow abort <id>).
    expect(await world.rollouts.control(change.id, 'abort', 'carol@example.com', 'reverting the change')).toMatchObject({ kind: 'changed' });
    const halted = (await applies(after)).find((a) => a.instanceId === customer.id);
    expect(halted).toMatchObject({ status: 'halted', failure: `its module change ${change.id} was aborted by carol@example.com: reverting the change` });
    expect((await mi(world.fx.projectId, ['apply', 'list'])).stdout).not.toContain(change.id);
  });

  it('a push cut off before its module change was recorded: the deployments tick records it, and the apply runs', async () => {
    const dev = await world.fx.seedInstance({ environment: 'dev', tier: 'internal', maintenanceWindow: undefined });
    const after = sha(0x231);
    await deliver(pushPayload({ before: sha(0x230), after, commits: [{ modified: [`${root('dev', dev.id)}/terraform/stacks/monitoring/alerts.tf`] }] }));
    // As if the push had stopped after its applies were written: no module change.
    const id = moduleChangeId('monitoring', after);
    await world.fx.store.delete(rolloutPaths.rollout(id));
    await world.fx.store.delete(rolloutPaths.progress(id, dev.id));
    await world.consumer.tick();
    expect(await fanOut('monitoring', after)).toMatchObject({ kind: 'module-change', membership: { sizes: { dev: 1 } } });
    await settle(world.consumer, 3);
    expect((await applies(after)).map((a) => a.status)).toEqual(['applied']);
  });

  it("a customer's apply waits for its maintenance window, and none starts during a change freeze", async () => {
    const saturday = { days: ['sat' as const], start: '02:00', hours: 4, timeZone: 'Etc/UTC' };
    const customer = await world.fx.seedInstance({ environment: 'prod', tier: 'customer', maintenanceWindow: saturday });
    const after = sha(0x251);
    await deliver(pushPayload({ before: sha(0x250), after, commits: [{ modified: [`${root('prod', customer.id)}/terraform/stacks/executors/pool.tf`] }] }));
    await settle(world.consumer, 2);
    const change = await fanOut('executors', after);
    const member = await world.fx.store.get<InstanceProgress>(rolloutPaths.progress(change.id, customer.id));
    // The clock says Thursday: it may first start when its window next opens, on Saturday at 02:00.
    expect(member).toMatchObject({ state: 'pending', eligibleAt: '2026-11-28T02:00:00.000Z', window: saturday });
    expect(world.commands().filter((c) => c.instanceId === customer.id)).toEqual([]);

    // Saturday, but the fleet is frozen: still nothing.
    const opens = Date.parse('2026-11-28T02:00:00.000Z');
    await world.fx.store.set(rolloutPaths.calendar, { freezes: [{ from: new Date(opens - 60_000).toISOString(), to: new Date(opens + 3_600_000).toISOString(), reason: 'year-end freeze' }] });
    world.fx.clock.advance(opens + 60_000 - world.fx.clock.now().getTime());
    await world.rollouts.tickAll();
    await world.deliverCommands();
    expect(world.commands().filter((c) => c.instanceId === customer.id)).toEqual([]);

    // The freeze over, inside the window: it applies.
    world.fx.clock.advance(3_600_000);
    await world.rollouts.tickAll();
    await settle(world.consumer, 3);
    await world.fx.store.set(rolloutPaths.calendar, { freezes: [] });
    expect((await applies(after)).map((a) => a.status)).toEqual(['applied']);
  });

  it('a merged pull request together with its push gives the work once', async () => {
    const instance = await world.fx.seedInstance({ environment: 'prod', tier: 'customer', maintenanceWindow: ALWAYS_OPEN });
    const after = sha(0x301);
    const before = world.commands().length;
    await deliver(mergedPullRequest(after), 'pull_request');
    await deliver(pushPayload({ before: sha(0x300), after, commits: [{ modified: [`${root('prod', instance.id)}/terraform/stacks/executors/pool.tf`] }] }));
    expect((await applies(after)).map((a) => a.id)).toEqual([`${instance.id}.executors.${after.slice(0, 12)}`]);
    // No earlier wave has this change, so the customer's apply starts at once: one command, not two.
    await world.consumer.tick();
    await world.runTicks();
    expect(world.commands().slice(before).map((c) => c.type)).toEqual(['instance.module-apply']);
  });

  it('config.yaml read at the merge commit: a version change upgrades, a new instance is created, an invalid file is recorded with the field', async () => {
    const existing = await world.fx.seedInstance({ environment: 'prod', tier: 'customer', version: '5.4.2' });
    const newId = `dev-${randomUUID().slice(0, 8)}`;
    const brokenId = existing.id.replace('inst', 'brok');
    const after = sha(0x401);
    world.repo.commit(after, {
      [`${root('prod', existing.id)}/config.yaml`]: config(existing.id, 'prod', 'customer', '5.5.0'),
      [`${root('dev', newId)}/config.yaml`]: config(newId, 'dev', 'internal', '5.4.2'),
      [`${root('prod', brokenId)}/config.yaml`]: config(brokenId, 'prod', 'customer', '5.5'),
    });
    const from = world.commands().length;
    const { outcomes } = await deliver(
      pushPayload({ before: sha(0x400), after, commits: [{ modified: [`${root('prod', existing.id)}/config.yaml`, `${root('prod', brokenId)}/config.yaml`], added: [`${root('dev', newId)}/config.yaml`] }] }),
    );
    expect(outcomes[0]).toMatchObject({
      kind: 'handled',
      commands: expect.arrayContaining([
        expect.objectContaining({ instanceId: existing.id, type: 'instance.upgrade' }),
        expect.objectContaining({ instanceId: newId, type: 'instance.create' }),
      ]) as unknown,
      invalid: [{ instanceId: brokenId, file: `${root('prod', brokenId)}/config.yaml`, field: 'version', reason: expect.stringMatching(/semantic version/) as unknown }],
    });
    await world.deliverCommands(from);
    const upgrade = world.commands().slice(from).find((c) => c.type === 'instance.upgrade');
    const ledger = await world.fx.store.get<LedgerEntry>(paths.ledger(upgrade?.eventId ?? ''));
    expect(ledger).toMatchObject({ outcome: 'accepted' });
    expect(await world.fx.instance(newId)).toMatchObject({ status: 'provisioning', version: '5.4.2' });
  });

  it('a push at the file-list cap falls back to comparing the two commits through the repository', async () => {
    const capped = await createWebhookWorld(import.meta.url, { caps: { commits: 2048, filesPerCommit: 3 } });
    try {
      const instance = await capped.fx.seedInstance({ environment: 'prod', tier: 'customer' });
      const before = sha(0x500);
      const after = sha(0x501);
      capped.repo.commit(before, { 'README.md': 'a' });
      capped.repo.commit(after, {
        'README.md': 'b',
        [`${root('prod', instance.id)}/terraform/stacks/monitoring/a.tf`]: 'x',
        [`${root('prod', instance.id)}/terraform/stacks/database/b.tf`]: 'y',
      });
      // The payload lists three unrelated files (the cap): the real change is only in the comparison.
      const body = JSON.stringify(pushPayload({ before, after, commits: [{ modified: ['x', 'y', 'z'] }] }));
      const headers = await signedHeaders(body, 'push', randomUUID());
      await handleGithubWebhook({ method: 'POST', header: (n) => headers[n.toLowerCase()], rawBody: Buffer.from(body) }, capped.webhookDeps);
      const push = capped.pushes()[0];
      expect(push?.payload.changes.source).toBe('compare');
      const outcome = await capped.consumer.handlePush(push);
      expect(capped.repo.compareCalls).toBe(1);
      expect(outcome).toMatchObject({ kind: 'handled', source: 'compare' });
      const recorded = await capped.fx.store.query<ModuleApplyRecord>({ collection: 'moduleApplies', where: [{ field: 'commit', op: '==', value: after }] });
      expect(recorded.map((d) => d.data.module).sort()).toEqual(['database', 'monitoring']);
    } finally {
      await capped.close();
    }
  });

  it('a newer commit supersedes an unconfirmed plan of the same instance and module', async () => {
    const instance = await world.fx.seedInstance({ environment: 'prod', tier: 'customer' });
    const file = `${root('prod', instance.id)}/terraform/stacks/networking/vpc.tf`;
    await deliver(pushPayload({ before: sha(0x600), after: sha(0x601), commits: [{ modified: [file] }], timestamp: '2026-11-26T10:00:00Z' }));
    await deliver(pushPayload({ before: sha(0x601), after: sha(0x602), commits: [{ modified: [file] }], timestamp: '2026-11-26T10:05:00Z' }));
    const older = await world.fx.store.get<ModuleApplyRecord>(deploymentPaths.moduleApply(`${instance.id}.networking.${sha(0x601).slice(0, 12)}`));
    expect(older).toMatchObject({ status: 'superseded', supersededBy: `${instance.id}.networking.${sha(0x602).slice(0, 12)}` });
    const refused = await world.consumer.confirm({ id: older?.id ?? '' }, { email: 'carol@example.com', subject: 'carol' });
    expect(refused).toMatchObject({ kind: 'refused', code: 'not-awaiting-confirmation' });
  });

  it('a removed instance folder asks for a delete that waits for confirmation', async () => {
    const instance = await world.fx.seedInstance({ environment: 'dev', tier: 'internal', maintenanceWindow: undefined, expiresAt: '2026-12-30T00:00:00Z' });
    const after = sha(0x701);
    // The config was there before the merge and is gone after it: only then is it a removal.
    world.repo.commit(sha(0x700), { [`${root('dev', instance.id)}/config.yaml`]: config(instance.id, 'dev', 'internal', '5.4.2') });
    world.repo.commit(after, {});
    const from = world.commands().length;
    await deliver(pushPayload({ before: sha(0x700), after, commits: [{ removed: [`${root('dev', instance.id)}/config.yaml`] }] }));
    const [request] = await applies(after);
    expect(request).toMatchObject({ kind: 'instance-delete', status: 'awaiting-confirmation', instanceId: instance.id });
    expect(world.commands().length).toBe(from);
    await world.consumer.confirm({ id: request?.id ?? '' }, { email: 'dave@example.com', subject: 'dave' });
    const asked = world.commands().slice(from);
    expect(asked.map((c) => [c.type, c.actor])).toEqual([['instance.delete', 'dave@example.com']]);
  });
});

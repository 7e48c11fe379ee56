/**
 * A removal of an instance's config.yaml is planned as a delete only when the push says removed,
 * the file is absent at the pushed commit AND present at the push's `before`. A file that cannot
 * be read because a commit is unknown is a retryable error, never a delete (issue 12, item 7).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeploymentsConsumer } from '../../../shared/deployments/index.js';
import { createGitDeploymentRepo } from '../../../shared/deployments/git-repo.js';
import type { ModuleApplyRecord } from '../../../shared/domain/deployments/applies.js';
import type { AuditRecord } from '../../../shared/engine/index.js';
import { controlPlaneFailure } from '../../support/failures.js';
import { createWebhookWorld, instanceConfig, instanceRoot, pushPayload, sha, type WebhookWorld } from './support.js';

let world: WebhookWorld;
const scratch: string[] = [];

/** A real git repository in a scratch folder; its files stay on disk as a checkout's do. */
function gitRepository() {
  const path = mkdtempSync(join(tmpdir(), 'mi-deployment-repo-'));
  scratch.push(path);
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=test@example.com', '-c', 'user.name=test', ...args], { cwd: path, encoding: 'utf8' }).trim();
  git('init', '-q', '-b', 'main');
  return {
    path,
    /** Writes the files (null removes one), commits, and answers the commit id. */
    commit(files: Record<string, string | null>): string {
      for (const [file, text] of Object.entries(files)) {
        if (text === null) {
          git('rm', '-q', file);
        } else {
          mkdirSync(dirname(join(path, file)), { recursive: true });
          writeFileSync(join(path, file), text);
          git('add', file);
        }
      }
      git('commit', '-q', '-m', 'change');
      return git('rev-parse', 'HEAD');
    },
  };
}

async function appliesOf(instanceId: string): Promise<ModuleApplyRecord[]> {
  const docs = await world.fx.store.query<ModuleApplyRecord>({ collection: 'moduleApplies', where: [{ field: 'instanceId', op: '==', value: instanceId }] });
  return docs.map((d) => d.data);
}

async function auditOf(instanceId: string): Promise<AuditRecord[]> {
  const docs = await world.fx.store.query<AuditRecord>({ collection: 'audit', where: [{ field: 'instanceId', op: '==', value: instanceId }] });
  return docs.map((d) => d.data);
}

beforeAll(async () => {
  world = await createWebhookWorld(import.meta.url);
});
afterAll(async () => {
  await world.close();
  for (const path of scratch) rmSync(path, { recursive: true, force: true });
});

describe('a config.yaml that cannot be read is never a delete', () => {
  it('a modified config.yaml at a commit the repository does not have: a retryable error, no delete planned', async () => {
    const instance = await world.fx.seedInstance({ environment: 'prod', tier: 'customer' });
    const file = `${instanceRoot('prod', instance.id)}/config.yaml`;
    const repo = gitRepository();
    const known = repo.commit({ [file]: instanceConfig(instance.id, 'prod', 'customer', '5.4.2') });
    const consumer = createDeploymentsConsumer({ store: world.fx.store, bus: world.webhookDeps.bus, repo: createGitDeploymentRepo({ path: repo.path }), executor: world.fx.fleet.executor, clock: world.fx.clock, fanOuts: world.rollouts });

    // GitHub delivered the push before the repository (here: the local clone) has its commit.
    const unknown = sha(0x7001);
    const { answer, pushes } = await world.post(pushPayload({ before: known, after: unknown, commits: [{ modified: [file] }] }));
    expect(answer.status).toBe(202);
    expect(pushes).toHaveLength(1);
    const failure = await controlPlaneFailure(consumer.handlePush(pushes[0]));
    expect(failure.retryable).toBe(true);
    expect(failure.message).toMatch(new RegExp(`${unknown}.*not in the deployment repository`));
    expect(await appliesOf(instance.id)).toEqual([]);
    expect(world.commands().filter((c) => c.instanceId === instance.id)).toEqual([]);

    // Once the commit is there, the same message is handled: an upgrade, still no delete.
    const later = repo.commit({ [file]: instanceConfig(instance.id, 'prod', 'customer', '5.5.0') });
    const { pushes: again } = await world.post(pushPayload({ before: known, after: later, commits: [{ modified: [file] }] }));
    expect(await consumer.handlePush(again[0])).toMatchObject({ kind: 'handled', commands: [{ instanceId: instance.id, type: 'instance.upgrade' }] });
    expect(await appliesOf(instance.id)).toEqual([]);
  });

  it('a removal is planned when the config was at `before` and is gone at the pushed commit', async () => {
    const instance = await world.fx.seedInstance({ environment: 'dev', tier: 'internal', maintenanceWindow: undefined, expiresAt: '2026-12-30T00:00:00Z' });
    const file = `${instanceRoot('dev', instance.id)}/config.yaml`;
    const before = sha(0x7101);
    const after = sha(0x7102);
    world.repo.commit(before, { [file]: instanceConfig(instance.id, 'dev', 'internal', '5.4.2') });
    world.repo.commit(after, {});
    const { pushes } = await world.post(pushPayload({ before, after, commits: [{ removed: [file] }] }));
    await world.consumer.handlePush(pushes[0]);
    expect((await appliesOf(instance.id)).map((a) => [a.kind, a.status, a.planSummary])).toEqual([['instance-delete', 'awaiting-confirmation', `delete instance ${instance.id}: its folder was removed`]]);
  });

  it('a push that says removed, of a config.yaml that was not at `before` either: no delete, recorded', async () => {
    const instance = await world.fx.seedInstance({ environment: 'prod', tier: 'customer' });
    const file = `${instanceRoot('prod', instance.id)}/config.yaml`;
    const before = sha(0x7201);
    const after = sha(0x7202);
    world.repo.commit(before, {});
    world.repo.commit(after, {});
    const { pushes } = await world.post(pushPayload({ before, after, commits: [{ removed: [file] }] }));
    await world.consumer.handlePush(pushes[0]);
    expect(await appliesOf(instance.id)).toEqual([]);
    expect((await auditOf(instance.id)).map((a) => [a.action, a.reason])).toEqual([['deployment.change-ignored', expect.stringMatching(/not at the push's before commit/) as unknown]]);
  });

  it('a push that says removed, of a config.yaml still at the pushed commit: no delete, the file is the spec', async () => {
    const instance = await world.fx.seedInstance({ environment: 'prod', tier: 'customer', version: '5.4.2' });
    const file = `${instanceRoot('prod', instance.id)}/config.yaml`;
    const before = sha(0x7301);
    const after = sha(0x7302);
    world.repo.commit(before, { [file]: instanceConfig(instance.id, 'prod', 'customer', '5.4.2') });
    world.repo.commit(after, { [file]: instanceConfig(instance.id, 'prod', 'customer', '5.4.2') });
    const { pushes } = await world.post(pushPayload({ before, after, commits: [{ removed: [file] }] }));
    expect(await world.consumer.handlePush(pushes[0])).toMatchObject({ kind: 'handled', commands: [], applies: [] });
    expect(await appliesOf(instance.id)).toEqual([]);
  });

  it('a removal whose `before` commit the repository does not have: a retryable error, no delete planned', async () => {
    const instance = await world.fx.seedInstance({ environment: 'prod', tier: 'customer' });
    const file = `${instanceRoot('prod', instance.id)}/config.yaml`;
    const after = sha(0x7402);
    world.repo.commit(after, {});
    const { pushes } = await world.post(pushPayload({ before: sha(0x7401), after, commits: [{ removed: [file] }] }));
    const failure = await controlPlaneFailure(world.consumer.handlePush(pushes[0]));
    expect(failure.retryable).toBe(true);
    expect(await appliesOf(instance.id)).toEqual([]);
  });

  it('a config.yaml listed as modified but absent at a commit the repository has: recorded as refused, not a delete', async () => {
    const instance = await world.fx.seedInstance({ environment: 'prod', tier: 'customer' });
    const file = `${instanceRoot('prod', instance.id)}/config.yaml`;
    const before = sha(0x7501);
    const after = sha(0x7502);
    world.repo.commit(before, { [file]: instanceConfig(instance.id, 'prod', 'customer', '5.4.2') });
    world.repo.commit(after, {});
    const { pushes } = await world.post(pushPayload({ before, after, commits: [{ modified: [file] }] }));
    const outcome = await world.consumer.handlePush(pushes[0]);
    expect(outcome).toMatchObject({ kind: 'handled', applies: [], invalid: [{ instanceId: instance.id, file, reason: expect.stringMatching(/listed as changed but absent/) as unknown }] });
    expect(await appliesOf(instance.id)).toEqual([]);
  });
});

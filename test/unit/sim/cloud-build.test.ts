/**
 * The simulated Cloud Build behaves as the real one, and does not cooperate: it checks a build as
 * builds.create does, never deduplicates, lists newest first in pages, runs steps on the clock,
 * ends builds as told through its own API, and publishes every status change, each at least once.
 */
import { describe, expect, it } from 'vitest';
import { buildFor, runTagOf, type BuildSettings } from '../../../shared/domain/executor/index.js';
import { ManualClock, SimulatedCloudBuild, type BuildNotification } from '../../../shared/sim/index.js';

const SETTINGS: BuildSettings = { project: 'p', repository: 'o/r', branch: 'main', tokenSecret: 'projects/p/secrets/t/versions/1', appImage: 'img', oncallGroup: 'oncall@example.com' };
const PARAMS = { project: 'mi-x', region: 'us-central1', gkeCluster: 'x-gke', sqlInstance: 'x-pg', environment: 'prod', version: '5.4.2', targetVersion: '5.5.0', commit: 'a'.repeat(40) };
const PARENT = 'projects/p/locations/us-central1';

function setup() {
  const clock = new ManualClock('2026-12-01T10:00:00Z');
  const sim = new SimulatedCloudBuild({ clock, queuedMs: 1_000, stepMs: 1_000 });
  const build = (runKey = 'op-1:upgrade-application') => buildFor({ runKey, action: 'upgrade', instanceId: 'x', params: PARAMS, queueTtlSeconds: 600 }, SETTINGS);
  return { clock, sim, build };
}

describe('the simulated Cloud Build', () => {
  it('refuses a build the API would refuse, naming what is wrong', async () => {
    const { sim, build } = setup();
    const good = build();
    await expect(sim.createBuild(PARENT, { ...good, substitutions: { ...good.substitutions, _UNUSED: 'x' } })).rejects.toThrow(/_UNUSED.*not matched/);
    const missing = Object.fromEntries(Object.entries(good.substitutions).filter(([key]) => key !== '_VERSION'));
    await expect(sim.createBuild(PARENT, { ...good, substitutions: missing })).rejects.toThrow(/_VERSION/);
    await expect(sim.createBuild(PARENT, { ...good, tags: ['not a tag!'] })).rejects.toThrow(/invalid build tag/);
    await expect(sim.createBuild(PARENT, { ...good, steps: [] })).rejects.toThrow(/no build steps/);
  });

  it("a script for an instance applies to its next build of any action, by the build's instance tag (a verify build uses no _INSTANCE)", async () => {
    const { sim, clock } = setup();
    sim.script({ instanceId: 'x' }, { kind: 'never-start' });
    const verify = buildFor({ runKey: 'op-9:verify-application', action: 'verify', instanceId: 'x', params: { ...PARAMS, domain: 'x.example.com' }, queueTtlSeconds: 600 }, SETTINGS);
    expect(verify.substitutions._INSTANCE).toBeUndefined();
    await sim.createBuild(PARENT, verify);
    clock.advance(700_000);
    expect(sim.list()[0]).toMatchObject({ status: 'EXPIRED' });
  });

  it('never deduplicates: two creates are two builds, found newest first by tag', async () => {
    const { sim, build, clock } = setup();
    await sim.createBuild(PARENT, build());
    clock.advance(1);
    await sim.createBuild(PARENT, build());
    const listed = await sim.listBuilds(PARENT, { filter: `tags="${runTagOf('op-1:upgrade-application')}"`, pageSize: 1 });
    expect(listed.builds).toHaveLength(1);
    expect(listed.nextPageToken).toBeDefined();
    expect(sim.buildsOf('op-1:upgrade-application')).toBe(2);
  });

  it('runs the steps on the clock, and publishes QUEUED, WORKING and the end, each once when published', async () => {
    const { sim, build, clock } = setup();
    const op = (await sim.createBuild(PARENT, build())) as { metadata: { build: { id: string; status: string } } };
    expect(op.metadata.build.status).toBe('QUEUED');
    const sent: BuildNotification[] = [];
    await sim.notifyDue((n) => {
      sent.push(n);
    });
    clock.advance(2_500);
    expect((await sim.getBuild(`${PARENT}/builds/${op.metadata.build.id}`))?.status).toBe('WORKING');
    clock.advance(10_000);
    await sim.notifyDue((n) => {
      sent.push(n);
    });
    await sim.notifyDue((n) => {
      sent.push(n);
    });
    expect(sent.map((n) => n.attributes.status)).toEqual(['QUEUED', 'WORKING', 'SUCCESS']);
    const final = JSON.parse(Buffer.from(sent[2]?.data ?? '', 'base64').toString()) as { status: string; steps: Array<{ status: string }> };
    expect(final.steps.map((s) => s.status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS']);
  });

  it('a publish that fails is made again; ends as told: a step fails, never starts (EXPIRED at its queue TTL), times out', async () => {
    const { sim, build, clock } = setup();
    sim.script({ runKey: 'op-2:upgrade-application' }, { kind: 'fail-step', step: 'migrate-database', detail: 'migration 42 failed' });
    sim.script({ runKey: 'op-3:upgrade-application' }, { kind: 'never-start' });
    sim.script({ runKey: 'op-4:upgrade-application' }, { kind: 'hang', step: 'rollout-status' });
    for (const key of ['op-2', 'op-3', 'op-4']) await sim.createBuild(PARENT, build(`${key}:upgrade-application`));
    await expect(sim.notifyDue(() => Promise.reject(new Error('publish lost')))).rejects.toThrow(/publish lost/);
    clock.advance(3_600_000 + 60_000);
    const status = (key: string) => sim.list().find((b) => (b.substitutions as Record<string, string>)._MI_RUN_KEY === `${key}:upgrade-application`);
    expect(status('op-2')).toMatchObject({ status: 'FAILURE', failureInfo: { detail: 'migration 42 failed' } });
    expect(status('op-3')).toMatchObject({ status: 'EXPIRED' });
    expect(status('op-4')).toMatchObject({ status: 'TIMEOUT' });
    const sent: string[] = [];
    await sim.notifyDue((n) => {
      sent.push(n.attributes.status);
    });
    expect(sent.filter((s) => s === 'QUEUED')).toHaveLength(3);
  });
});

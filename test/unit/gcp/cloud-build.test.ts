/**
 * The Cloud Build executor through the real Node client (REST), against a local server that
 * answers with bodies shaped like the Cloud Build v1 reference
 * (https://cloud.google.com/build/docs/api/reference/rest/v1/projects.locations.builds): what the
 * adapter sends, how a retry finds the build it started, how every status reads, and how errors map.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BUILD_STATUSES, RUN_KEY_SUBSTITUTION, runTagOf, type BuildSettings } from '../../../shared/domain/executor/index.js';
import { createCloudBuildExecutor } from '../../../shared/gcp/cloud-build.js';
import { readBuildNotification } from '../../../shared/gcp/cloud-build-notifications.js';
import { DecodeError } from '../../../shared/events/index.js';
import type { RunRequest } from '../../../shared/ports.js';
import { controlPlaneFailure } from '../../support/failures.js';
import { googleError, startFakeGoogleApi, type FakeGoogleApi } from './fake-google-api.js';

const PARENT = 'projects/mi-control/locations/us-central1';
const SETTINGS: BuildSettings = {
  repository: 'example-org/deployments',
  branch: 'main',
  tokenSecret: 'projects/mi-control/secrets/mi-github-token/versions/latest',
  project: 'mi-control',
  appImage: 'us-docker.pkg.dev/mi-control/app/server',
  oncallGroup: 'oncall@example.com',
};
const NOW = Date.parse('2026-12-01T10:00:00Z');
const clock = { now: () => new Date(NOW) };
const RUN_KEY = 'op-7f3a:upgrade-application';

const REQUEST: RunRequest = {
  runKey: RUN_KEY,
  action: 'upgrade',
  instanceId: 'cus-acme',
  params: { project: 'mi-cus-acme', region: 'us-central1', gkeCluster: 'cus-acme-gke', sqlInstance: 'cus-acme-pg', environment: 'prod', version: '5.4.2', targetVersion: '5.5.0', commit: '3f2a9c1d4b5e6f708192a3b4c5d6e7f809123456', domain: 'acme.example.com' },
  actor: 'alice@example.com',
  reason: 'monthly release',
  refuseAfter: new Date(NOW + 15 * 60_000).toISOString(),
};

/** A Build as builds.get answers it (fields from the v1 reference; outputs are base64 bytes). */
function referenceBuild(status: string, extra: Record<string, unknown> = {}) {
  const id = '6a2b3c4d-1111-4222-8333-944455556666';
  return {
    name: `${PARENT}/builds/${id}`,
    id,
    projectId: 'mi-control',
    status,
    steps: [
      { name: 'gcr.io/cloud-builders/git', id: 'fetch-source', status: 'SUCCESS', timing: { startTime: '2026-12-01T10:00:05.123456Z', endTime: '2026-12-01T10:00:09Z' } },
      { name: 'gcr.io/google.com/cloudsdktool/google-cloud-cli:stable', id: 'cluster-credentials', status: 'SUCCESS' },
      { name: 'gcr.io/google.com/cloudsdktool/google-cloud-cli:stable', id: 'migrate-database', status: status === 'FAILURE' ? 'FAILURE' : 'SUCCESS' },
    ],
    createTime: '2026-12-01T10:00:01.52Z',
    startTime: '2026-12-01T10:00:04.8Z',
    timeout: '3600s',
    queueTtl: '600s',
    tags: ['mi-run', runTagOf(RUN_KEY), 'mi-instance-cus-acme', 'mi-action-upgrade'],
    substitutions: { [RUN_KEY_SUBSTITUTION]: RUN_KEY, _INSTANCE: 'cus-acme', _REGION: 'us-central1' },
    serviceAccount: 'projects/mi-control/serviceAccounts/mi-builds-prod@mi-control.iam.gserviceaccount.com',
    options: { substitutionOption: 'MUST_MATCH', logging: 'CLOUD_LOGGING_ONLY', pool: {} },
    logUrl: `https://console.cloud.google.com/cloud-build/builds;region=us-central1/${id}?project=123456789012`,
    ...extra,
  };
}

let api: FakeGoogleApi;
let executor: ReturnType<typeof createCloudBuildExecutor>;

beforeAll(async () => {
  api = await startFakeGoogleApi();
  executor = createCloudBuildExecutor({ parent: PARENT, settings: SETTINGS, clock, endpoint: { url: api.url }, deadlineMs: 5_000 });
});
afterAll(async () => {
  await executor.close();
  await api.close();
});
beforeEach(() => {
  api.requests.length = 0;
});

describe('requestRun', () => {
  it('looks for the run by its tag, then creates one build: the generated steps, tags, limits and account', async () => {
    api.answer((request) =>
      request.method === 'GET'
        ? { status: 200, body: {} }
        : { status: 200, body: { name: `${PARENT}/operations/op-1`, metadata: { '@type': 'type.googleapis.com/google.devtools.cloudbuild.v1.BuildOperationMetadata', build: referenceBuild('QUEUED') } } },
    );
    await executor.requestRun(REQUEST);
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/${PARENT}/builds`, `POST /v1/${PARENT}/builds`]);
    expect(api.requests[0]?.query.filter).toBe(`tags="${runTagOf(RUN_KEY)}"`);
    const body = api.requests[1]?.body as Record<string, unknown>;
    expect(body.tags).toEqual(['mi-run', runTagOf(RUN_KEY), 'mi-instance-cus-acme', 'mi-action-upgrade']);
    expect(body.timeout).toBe('3600s');
    // The queue TTL ends before the request's refuse-after time by the longest a create may land late
    // (300 s): a build not taken up by then never starts.
    expect(body.queueTtl).toBe('600s');
    expect(body.serviceAccount).toBe('projects/mi-control/serviceAccounts/mi-builds-prod@mi-control.iam.gserviceaccount.com');
    // The client sends enums as numbers (and says so: $alt=json;enum-encoding=int): 5 is CLOUD_LOGGING_ONLY.
    expect(api.requests[1]?.query.$alt).toBe('json;enum-encoding=int');
    expect((body.options as Record<string, unknown>).logging).toBe(5);
    expect((body.substitutions as Record<string, string>)._VERSION).toBe('5.5.0');
    expect((body.steps as Array<{ id: string }>).map((s) => s.id)).toEqual(['fetch-source', 'cluster-credentials', 'migrate-database', 'deploy-workloads', 'rollout-status']);
    expect(body.availableSecrets).toEqual({ secretManager: [{ versionName: SETTINGS.tokenSecret, env: 'GITHUB_TOKEN' }] });
  });

  it('a retry finds the build the first attempt started, and creates none', async () => {
    api.answer({ status: 200, body: { builds: [referenceBuild('WORKING')] } });
    await executor.requestRun(REQUEST);
    expect(api.requests.map((r) => r.method)).toEqual(['GET']);
  });

  it('a build tagged alike but of another run key (a digest collision, a hand-made build) is not taken for this run', async () => {
    api.answer((request) => (request.method === 'GET' ? { status: 200, body: { builds: [referenceBuild('WORKING', { substitutions: { [RUN_KEY_SUBSTITUTION]: 'op-other:x' } })] } } : { status: 200, body: { name: `${PARENT}/operations/op-2` } }));
    await executor.requestRun(REQUEST);
    expect(api.requests.map((r) => r.method)).toEqual(['GET', 'POST']);
  });

  it('past its refuse-after time, or so near it that a late landing could start after it, it creates nothing', async () => {
    api.answer({ status: 200, body: {} });
    await executor.requestRun({ ...REQUEST, refuseAfter: new Date(NOW - 1).toISOString() });
    await executor.requestRun({ ...REQUEST, refuseAfter: new Date(NOW + 300_000).toISOString() });
    expect(api.requests.map((r) => r.method)).toEqual(['GET', 'GET']);
  });

  it('a request the build cannot be made from is a permanent error naming what is missing', async () => {
    api.answer({ status: 200, body: {} });
    const error = await controlPlaneFailure(executor.requestRun({ ...REQUEST, action: 'apply' }));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/needs module/);
  });

  it.each([
    [409, 'ALREADY_EXISTS', 'conflict', true],
    [429, 'RESOURCE_EXHAUSTED', 'rate-limited', true],
    [503, 'UNAVAILABLE', 'unavailable', true],
    [400, 'INVALID_ARGUMENT', 'failed-precondition', false],
    [403, 'PERMISSION_DENIED', 'failed-precondition', false],
  ])('builds.create answering %i %s is %s (retryable: %s)', async (http, status, code, retryable) => {
    api.answer((request) => (request.method === 'GET' ? { status: 200, body: {} } : googleError(http, status, `answered ${status}`)));
    const error = await controlPlaneFailure(executor.requestRun(REQUEST));
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
  });
});

describe('getRunStatus', () => {
  const expected: Record<string, string> = {
    STATUS_UNKNOWN: 'queued',
    PENDING: 'queued',
    QUEUED: 'queued',
    WORKING: 'running',
    SUCCESS: 'succeeded',
    FAILURE: 'failed',
    EXPIRED: 'failed',
    INTERNAL_ERROR: 'interrupted',
    TIMEOUT: 'interrupted',
    CANCELLED: 'interrupted',
  };

  it.each([...BUILD_STATUSES])('a build %s reads as its run state', async (status) => {
    api.answer({ status: 200, body: referenceBuild(status) });
    const answer = await executor.getRunStatus(RUN_KEY, '6a2b3c4d-1111-4222-8333-944455556666');
    expect(answer.state).toBe(expected[status]);
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/${PARENT}/builds/6a2b3c4d-1111-4222-8333-944455556666`]);
  });

  it('a success carries whether migrations ran (the migration step output); a failure names its step', async () => {
    const outputs = ['', '', Buffer.from('{"migrationsRan":true,"migrationsApplied":3}').toString('base64')];
    api.answer({ status: 200, body: referenceBuild('SUCCESS', { results: { buildStepOutputs: outputs, buildStepImages: ['', '', ''] } }) });
    expect(await executor.getRunStatus(RUN_KEY, '6a2b3c4d-1111-4222-8333-944455556666')).toMatchObject({ state: 'succeeded', outputs: { migrationsRan: 'true', migrationsApplied: '3' } });
    api.answer({ status: 200, body: referenceBuild('FAILURE', { failureInfo: { type: 'USER_BUILD_STEP', detail: 'Build step failure: build step 2 "gcr.io/google.com/cloudsdktool/google-cloud-cli:stable" failed: step exited with non-zero status: 1' } }) });
    const failed = await executor.getRunStatus(RUN_KEY, '6a2b3c4d-1111-4222-8333-944455556666');
    expect(failed.detail).toContain('at step migrate-database');
    expect(failed.detail).toContain('non-zero status: 1');
  });

  it("a plan's detail is its one-line summary, from the plan step's output", async () => {
    const steps = [{ name: 'hashicorp/terraform:1.9.8', id: 'terraform-plan', status: 'SUCCESS' }, { name: 'hashicorp/terraform:1.9.8', id: 'store-plan', status: 'SUCCESS' }];
    const results = { buildStepOutputs: ['', Buffer.from('Plan: 1 to add, 2 to change, 0 to destroy.\n').toString('base64')], buildStepImages: ['', ''] };
    api.answer({ status: 200, body: referenceBuild('SUCCESS', { steps, results }) });
    expect(await executor.getRunStatus(RUN_KEY, '6a2b3c4d-1111-4222-8333-944455556666')).toMatchObject({ state: 'succeeded', detail: 'Plan: 1 to add, 2 to change, 0 to destroy.', outputs: { planSummary: 'Plan: 1 to add, 2 to change, 0 to destroy.' } });
  });

  it('a build that timed out names the Terraform state lock it may hold, and how to release it', async () => {
    const steps = [{ name: 'hashicorp/terraform:1.9.8', id: 'terraform-init', status: 'SUCCESS', args: ['-chdir=/workspace/repo/x', 'init', '-backend-config=bucket=${_STATE_BUCKET}', '-backend-config=prefix=instances/${_INSTANCE}/monitoring/${_REGION}'] }, { name: 'hashicorp/terraform:1.9.8', id: 'terraform-apply', status: 'TIMEOUT' }];
    api.answer({ status: 200, body: referenceBuild('TIMEOUT', { steps, substitutions: { [RUN_KEY_SUBSTITUTION]: RUN_KEY, _STATE_BUCKET: 'mi-control-tfstate-prod', _INSTANCE: 'cus-acme', _REGION: 'us-central1' } }) });
    const answer = await executor.getRunStatus(RUN_KEY, '6a2b3c4d-1111-4222-8333-944455556666');
    expect(answer.state).toBe('interrupted');
    expect(answer.detail).toContain('gs://mi-control-tfstate-prod/instances/cus-acme/monitoring/us-central1/default.tflock');
    expect(answer.detail).toContain('terraform force-unlock');
  });

  it('without a build id, or when the id is gone (404), the run is found by its tag; none found is unknown', async () => {
    api.answer((request) => (request.path.endsWith('/builds') ? { status: 200, body: { builds: [referenceBuild('WORKING')] } } : googleError(404, 'NOT_FOUND', 'Requested entity was not found.')));
    expect((await executor.getRunStatus(RUN_KEY, 'gone')).state).toBe('running');
    api.answer({ status: 200, body: {} });
    expect(await executor.getRunStatus(RUN_KEY)).toEqual({ state: 'unknown' });
  });

  it('an answer without the fields the reference promises is a permanent error naming the field', async () => {
    api.answer({ status: 200, body: referenceBuild('SUCCESS', { id: '' }) });
    const error = await controlPlaneFailure(executor.getRunStatus(RUN_KEY, 'x'));
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('answered with id');
  });

  it.each([
    [429, 'RESOURCE_EXHAUSTED', 'rate-limited'],
    [503, 'UNAVAILABLE', 'unavailable'],
  ])('builds.list answering %i is %s, retryable', async (http, status, code) => {
    api.answer(googleError(http, status, `answered ${status}`));
    const error = await controlPlaneFailure(executor.getRunStatus(RUN_KEY));
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(true);
  });
});

describe('a Cloud Build notification', () => {
  const message = (build: unknown, attributes: Record<string, string> = {}) => ({
    data: Buffer.from(JSON.stringify(build)).toString('base64'),
    message: { messageId: '1234567890', publishTime: '2026-12-01T10:05:00Z', attributes },
  });

  it('of one of our builds names its run, action and status', () => {
    const build = referenceBuild('SUCCESS');
    const m = message(build, { buildId: build.id, status: 'SUCCESS' });
    expect(readBuildNotification(m.data, m.message)).toEqual({ kind: 'ours', runKey: RUN_KEY, buildId: build.id, status: 'SUCCESS', action: 'upgrade' });
  });

  it('of a build without our tags, or whose run key and tag disagree, is foreign', () => {
    const untagged = { ...referenceBuild('SUCCESS'), tags: ['nightly'] };
    expect(readBuildNotification(message(untagged).data, message(untagged).message).kind).toBe('foreign');
    const forged = { ...referenceBuild('SUCCESS'), substitutions: { [RUN_KEY_SUBSTITUTION]: 'op-other:destroy' } };
    expect(readBuildNotification(message(forged).data, message(forged).message).kind).toBe('foreign');
  });

  it('that is not a Build, or whose attributes name another build, cannot be decoded, and says why', () => {
    const notBuild = message({ hello: 'world' });
    expect(() => readBuildNotification(notBuild.data, notBuild.message)).toThrow(DecodeError);
    const build = referenceBuild('SUCCESS');
    const mismatched = message(build, { buildId: 'another', status: 'SUCCESS' });
    expect(() => readBuildNotification(mismatched.data, mismatched.message)).toThrow(/attributes.buildId/);
  });
});

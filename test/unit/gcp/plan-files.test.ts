/**
 * The plans reader against answers of the shapes the Cloud Storage JSON API reference gives for
 * objects.get with alt=media (https://cloud.google.com/storage/docs/json_api/v1/objects/get):
 * the object's bytes on 200, Cloud Storage's error body otherwise (errors[].reason, no status
 * name), and a 404 for an object that is not there.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPlanFilesReader } from '../../../shared/gcp/plan-files.js';
import type { PlanFilesPort } from '../../../shared/ports.js';
import { controlPlaneFailure } from '../../support/failures.js';
import { deadUrl, googleError, startFakeGoogleApi, type FakeGoogleApi } from './fake-google-api.js';

const OBJECT = 'gs://mi-control-plans-prod/instances/cus-acme/networking/0123456789abcdef0123456789abcdef01234567/networking.tfplan.txt';
const PLAN_TEXT = [
  'Terraform will perform the following actions:',
  '',
  '  # google_compute_network.main will be updated in-place',
  '  ~ resource "google_compute_network" "main" {',
  '        name = "cus-acme-networking"',
  '    }',
  '',
  'Plan: 0 to add, 1 to change, 0 to destroy.',
  '',
].join('\n');

let api: FakeGoogleApi;
let plans: PlanFilesPort;

beforeAll(async () => {
  api = await startFakeGoogleApi();
  plans = createPlanFilesReader({ endpoint: api.url, token: () => Promise.resolve('ya29.function-token'), timeoutMs: 1_000 });
});
afterAll(async () => {
  await api.close();
});
beforeEach(() => {
  api.requests.length = 0;
});

describe('reading a saved plan from the plans bucket', () => {
  it("GETs the object's media with the function's token, its whole name one encoded path segment", async () => {
    api.answer({ status: 200, raw: PLAN_TEXT });
    expect(await plans.readText(OBJECT)).toEqual({ text: PLAN_TEXT, bytes: Buffer.byteLength(PLAN_TEXT), truncated: false });
    const [sent] = api.requests;
    expect([sent?.method, sent?.path, sent?.query, sent?.headers.authorization]).toEqual([
      'GET',
      '/storage/v1/b/mi-control-plans-prod/o/instances/cus-acme/networking/0123456789abcdef0123456789abcdef01234567/networking.tfplan.txt',
      { alt: 'media' },
      'Bearer ya29.function-token',
    ]);
  });

  it("sends the name's slashes as %2F (the reference: the object name is one URL-encoded path segment)", async () => {
    api.answer({ status: 200, raw: 'x' });
    await plans.readText(OBJECT);
    expect(api.requests[0]?.rawPath).toBe('/storage/v1/b/mi-control-plans-prod/o/instances%2Fcus-acme%2Fnetworking%2F0123456789abcdef0123456789abcdef01234567%2Fnetworking.tfplan.txt');
  });

  it('an object that is not there is undefined (a 404), not an error', async () => {
    api.answer(googleError(404, undefined, 'No such object: mi-control-plans-prod/instances/cus-acme/networking/x/networking.tfplan.txt', 'notFound'));
    expect(await plans.readText(OBJECT)).toBeUndefined();
  });

  it('reads no more than it was allowed, and says the plan is longer', async () => {
    api.answer({ status: 200, raw: 'a'.repeat(10_000) });
    expect(await plans.readText(OBJECT, { maxBytes: 100 })).toEqual({ text: 'a'.repeat(100), bytes: 100, truncated: true });
  });

  it.each([
    [403, 'mi-fn-commands@p.iam.gserviceaccount.com does not have storage.objects.get access to the Google Cloud Storage object.', 'forbidden', 'failed-precondition', false],
    [429, 'The rate of change requests to the object is too high.', 'rateLimitExceeded', 'rate-limited', true],
    [503, 'Backend Error', 'backendError', 'unavailable', true],
  ] as const)("answers %i as Cloud Storage says it, with the service's words", async (status, message, reason, code, retryable) => {
    api.answer(googleError(status, undefined, message, reason));
    const error = await controlPlaneFailure(plans.readText(OBJECT));
    expect([error.code, error.retryable]).toEqual([code, retryable]);
    expect(error.message).toContain(message);
    expect(error.message).toContain(OBJECT);
  });

  it('a hung service ends at the deadline as a retryable fault; nothing listening is unavailable', async () => {
    api.answer({ status: 200, hang: true });
    expect((await controlPlaneFailure(plans.readText(OBJECT))).retryable).toBe(true);
    const dead = createPlanFilesReader({ endpoint: await deadUrl(), token: () => Promise.resolve('t') });
    expect((await controlPlaneFailure(dead.readText(OBJECT))).code).toBe('unavailable');
  });

  it('refuses what is not a gs:// object URL, before any call', async () => {
    await expect(plans.readText('https://example.com/plan.txt')).rejects.toThrow(/not a gs:\/\/bucket\/object URL/);
    expect(api.requests).toEqual([]);
  });
});

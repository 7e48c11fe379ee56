/**
 * What a deployed function loads on its cold start, traced in a fresh process as Cloud Functions
 * starts it (the compiled entry with FUNCTION_TARGET, then its first message's wiring): only its
 * own trigger's code and the services it serves, and of the Google clients only Firestore and
 * Pub/Sub (the others load on a port's first call).
 */
import { describe, expect, it } from 'vitest';
import { SAMPLE_FUNCTION_ENV, tracedStart } from '../../../bench/starts.js';
import { FUNCTIONS } from '../../../shared/topology.js';

const env = { ...process.env, ...SAMPLE_FUNCTION_ENV, GOOGLE_CLOUD_PROJECT: 'demo-cold-start' };
const SERVICE_FOLDERS = ['shared/engine', 'shared/rollout', 'shared/compliance', 'shared/deployments', 'shared/webhook', 'shared/commands'];

describe('a cold start', () => {
  it('of a lifecycle function loads the engine and none of the other services', async () => {
    const trace = await tracedStart('lifecycle', env);
    expect(trace.ours).toContain('shared/engine');
    expect(trace.ours.filter((f) => SERVICE_FOLDERS.includes(f))).toEqual(['shared/engine']);
  }, 60_000);

  it('of a rollout function loads the rollouts, not the engine', async () => {
    const trace = await tracedStart('rollout', env);
    expect(trace.ours.filter((f) => SERVICE_FOLDERS.includes(f))).toEqual(['shared/rollout']);
  }, 60_000);

  it('of every function builds no Google client but Firestore and Pub/Sub', async () => {
    for (const fn of FUNCTIONS) {
      const trace = await tracedStart(fn.name, env);
      expect(trace.clients, fn.name).toEqual(['@google-cloud/firestore', '@google-cloud/pubsub']);
    }
  }, 180_000);
});

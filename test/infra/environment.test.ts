/**
 * Every function starts with what the program gives it: its production wiring is built from
 * exactly the environment variables and secrets its deployment sets (read from the mocked
 * program), with nothing else but the emulators standing in for Google's endpoints, and it
 * answers one request without failing to start.
 */
import request from 'supertest';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { FUNCTIONS, SECRET_ENV, TOPICS, type FunctionDefinition } from '../../shared/topology.js';
import { field, ofType, runProgram, TEST_SETTINGS, type Registered } from './support.js';

const registered: Registered[] = [];
const kebab = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
const saved = { ...process.env };

beforeAll(async () => {
  await runProgram(registered);
});

afterEach(() => {
  process.env = { ...saved };
});

/** The environment a deployed function runs with: its variables, and each mounted secret (a stand-in value). */
function deployedEnvironment(fn: FunctionDefinition): Record<string, string> {
  const deployment = ofType(registered, 'gcp:cloudfunctionsv2/function:Function').find((f) => f.inputs.name === kebab(fn.name));
  if (deployment === undefined) throw new Error(`the program deploys no function ${fn.name}`);
  const variables = (field(deployment, 'serviceConfig.environmentVariables') ?? {}) as Record<string, string>;
  const secrets = (field(deployment, 'serviceConfig.secretEnvironmentVariables') ?? []) as Array<{ key: string; secret: string }>;
  // The routing table is JSON; every other secret is any long text.
  const standIn = (s: { key: string; secret: string }) => (s.key === SECRET_ENV.notifyRoutes ? JSON.stringify({ channels: { oncall: 'https://hooks.slack.com/services/T0/B0/x' }, fallback: 'oncall' }) : `stand-in value of ${s.secret}, long enough`);
  return { ...variables, ...Object.fromEntries(secrets.map((s) => [s.key, standIn(s)])) };
}

/** A push the function must record and acknowledge: not an event envelope. */
function push(fn: FunctionDefinition & { trigger: { kind: 'pubsub' } }) {
  const topic = fn.trigger.topic;
  return {
    subscription: `projects/${TEST_SETTINGS.project}/subscriptions/${topic}--${fn.name}`,
    message: { data: Buffer.from('{"not": "an envelope"}').toString('base64'), messageId: `env-${fn.name}-${Date.now()}`, publishTime: new Date().toISOString(), attributes: {} },
  };
}

describe('each function starts with the environment the program gives it', () => {
  it.each(FUNCTIONS.map((fn) => ({ name: fn.name, fn: fn })))('$name builds its production wiring and answers one request', async ({ fn }) => {
    // Exactly what the deployment sets, plus what the platform sets, and the emulators for Google's endpoints.
    process.env = {
      ...deployedEnvironment(fn),
      FUNCTION_TARGET: fn.name,
      K_SERVICE: kebab(fn.name),
      METADATA_SERVER_DETECTION: 'none',
      ...(saved.FIRESTORE_EMULATOR_HOST === undefined ? {} : { FIRESTORE_EMULATOR_HOST: saved.FIRESTORE_EMULATOR_HOST }),
      ...(saved.PUBSUB_EMULATOR_HOST === undefined ? {} : { PUBSUB_EMULATOR_HOST: saved.PUBSUB_EMULATOR_HOST }),
    };
    // A fresh copy of the entry points, as a new function instance loads them.
    vi.resetModules();
    await import('../../functions/index.js');
    const server = getTestServer(fn.name);
    const response =
      fn.trigger.kind === 'pubsub'
        ? await request(server).post(`/projects/${TEST_SETTINGS.project}/topics/${fn.trigger.topic}`).set('Content-Type', 'application/json').send(push(fn as FunctionDefinition & { trigger: { kind: 'pubsub' } }))
        : await request(server).post('/').set('Content-Type', 'application/json').send({});
    // A wiring that cannot start answers 500 ("cannot start: … is missing"); anything else is the function's own answer.
    expect(response.status, `${fn.name} answered ${response.status}: ${response.text.slice(0, 300)}`).toBeLessThan(500);
    if (fn.trigger.kind === 'http') expect([401, 403], fn.name).toContain(response.status);
  });

  it('the topics the pushes name exist in the topology', () => {
    for (const fn of FUNCTIONS) if (fn.trigger.kind === 'pubsub') expect(Object.values(TOPICS)).toContain(fn.trigger.topic);
  });
});

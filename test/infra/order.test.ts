import { beforeAll, describe, expect, it } from 'vitest';
import type { FunctionDefinition } from '../../shared/topology.js';
import type { InfraTopology } from '../../infra/model.js';
import type { buildInfrastructure as Build } from '../../infra/program.js';
import { PROJECT, TEST_SETTINGS, field, forgetRegistered, installMocks, ofType, settle, type Registered } from './support.js';

/** A deterministic reordering: reversed, then every other entry moved to the front. */
function shuffled<T>(items: readonly T[]): T[] {
  const reversed = [...items].reverse();
  return [...reversed.filter((_, i) => i % 2 === 1), ...reversed.filter((_, i) => i % 2 === 0)];
}

/** What identifies each registered resource (type and logical name, hence its URN) with its inputs. */
function snapshot(registered: readonly Registered[]): Map<string, string> {
  return new Map(registered.map((r) => [`${r.type}::${r.name}`, JSON.stringify(r.inputs)]));
}

describe('the Pulumi program, whatever the order of the topology', () => {
  const registered: Registered[] = [];
  let buildInfrastructure: typeof Build;
  let topology: InfraTopology;

  beforeAll(async () => {
    await installMocks(registered);
    ({ buildInfrastructure } = await import('../../infra/program.js'));
    const { sharedTopology } = await import('../../infra/model.js');
    topology = sharedTopology();
  });

  async function run(t: InfraTopology): Promise<Map<string, string>> {
    forgetRegistered(registered);
    const infra = buildInfrastructure(t, TEST_SETTINGS);
    await settle(registered, Object.values(infra.functionUrls));
    return snapshot(registered);
  }

  it('importing the program registers nothing', async () => {
    await settle(registered);
    expect(registered).toEqual([]);
  });

  it('resource names (and inputs) stay the same when the topology lists its entries in another order', async () => {
    const original = await run(topology);
    const reordered = await run({
      topics: shuffled(topology.topics),
      functions: shuffled(topology.functions).map((fn) => ({ ...fn, uses: { ...fn.uses, publishes: shuffled(fn.uses.publishes), outbox: shuffled(fn.uses.outbox) } })),
      subscriptions: shuffled(topology.subscriptions),
      schedules: shuffled(topology.schedules),
      indexedQueries: shuffled(topology.indexedQueries),
      ttlCollections: shuffled(topology.ttlCollections),
    });
    expect(original.size).toBeGreaterThan(50);
    expect([...reordered.keys()].sort()).toEqual([...original.keys()].sort());
    for (const [key, inputs] of original) expect(reordered.get(key), key).toBe(inputs);
  });

  it('a public webhook function gets the secret mounted, may read it, and nobody else may', async () => {
    const webhook: FunctionDefinition = {
      name: 'githubWebhook',
      source: 'functions/github-webhook.ts',
      description: 'test webhook',
      trigger: { kind: 'http', allowUnauthenticated: true },
      timeoutSeconds: 30,
      memoryMb: 256,
      uses: { publishes: ['mi-deployments'], outbox: [], secrets: ['webhookSecret'] },
      capacity: { maxInstances: 1, concurrency: 1, cpu: 1, secondsPerDelivery: 1, burst: { messages: 1, why: 'test' } },
    };
    await run({ ...topology, functions: [...topology.functions.filter((f) => f.name !== webhook.name), webhook] });
    const deployment = ofType(registered, 'gcp:cloudfunctionsv2/function:Function').find((f) => f.inputs.name === 'github-webhook') as Registered;
    expect(field(deployment, 'serviceConfig.secretEnvironmentVariables')).toEqual([
      { key: 'MI_GITHUB_WEBHOOK_SECRET', projectId: PROJECT, secret: TEST_SETTINGS.webhookSecretName, version: 'latest' },
    ]);
    const email = String(field(deployment, 'serviceConfig.serviceAccountEmail'));
    const readers = ofType(registered, 'gcp:secretmanager/secretIamMember:SecretIamMember').filter((g) => g.inputs.secretId === TEST_SETTINGS.webhookSecretName);
    expect(readers.map((g) => g.inputs.member)).toEqual([`serviceAccount:${email}`]);
    const invokers = ofType(registered, 'gcp:cloudrunv2/serviceIamMember:ServiceIamMember').filter((b) => b.inputs.name === 'github-webhook');
    expect(invokers.map((b) => b.inputs.member)).toEqual(['allUsers']);
  });

  it('the program refuses a function that declares no uses, naming it', () => {
    const withoutUses: Partial<FunctionDefinition> = { ...topology.functions[0] };
    delete withoutUses.uses;
    const broken = { ...topology, functions: [withoutUses as FunctionDefinition, ...topology.functions.slice(1)] };
    expect(() => buildInfrastructure(broken, TEST_SETTINGS)).toThrow(/declares no uses in shared\/topology\.ts/);
  });

  it('the program refuses a subscription that feeds no Pub/Sub function of the topology', () => {
    const [first, ...rest] = topology.subscriptions;
    if (!first) throw new Error('the topology has no subscription');
    const broken = { ...topology, subscriptions: [{ ...first, function: 'nothing' as typeof first.function }, ...rest] };
    expect(() => buildInfrastructure(broken, TEST_SETTINGS)).toThrow(/feeds "nothing"/);
  });
});

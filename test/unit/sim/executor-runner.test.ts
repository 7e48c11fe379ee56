// Uses the Pub/Sub emulator that the global test setup starts.
import { afterEach, describe, expect, it } from 'vitest';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { makeEnvelope, parseEnvelope, type AnyEnvelope } from '../../../shared/events/index.js';
import { ManualClock } from '../../../shared/sim/clock.js';
import { SimulatedExecutor } from '../../../shared/sim/executor.js';
import { startExecutorRunner, type ExecutorRunner } from '../../../shared/sim/executor-runner.js';
import { TOPICS } from '../../../shared/topology.js';
import { projectIdFor } from '../../support/project.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

function requested(runKey: string): AnyEnvelope {
  return makeEnvelope({
    type: 'executor.run-requested',
    payload: { runKey, action: 'upgrade', params: { version: '5.5.0' }, refuseAfter: '2100-01-01T00:00:00Z' },
    actor: 'control-plane',
    reason: 'upgrade step',
    instanceId: 'acme',
  });
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('simulated executor runner on Pub/Sub', () => {
  it('runs each requested run key once and publishes its outcome on the results topic', async () => {
    const pubsub = new PubSub({ projectId: projectIdFor(import.meta.url) });
    const clock = new ManualClock();
    const executor = new SimulatedExecutor({ clock, queuedMs: 0, defaultDurationMs: 1_000 });
    executor.scriptOutcome({ runKey: 'op-2:upgrade' }, 'failed', 'helm timed out');
    const errors: unknown[] = [];
    const runner: ExecutorRunner = await startExecutorRunner({ pubsub, executor, intervalMs: 50, onError: (error) => errors.push(error) });
    cleanups.push(async () => {
      await runner.stop();
      await pubsub.close();
    });

    const [results] = await pubsub.topic(TOPICS.executorResults).createSubscription(`results-${Date.now()}`);
    const received: AnyEnvelope[] = [];
    results.on('message', (message: Message) => {
      received.push(parseEnvelope(JSON.parse(message.data.toString('utf8')), ['executor.run-finished']));
      message.ack();
    });
    cleanups.push(() => results.close());

    const requests = pubsub.topic(TOPICS.executorRequests);
    const first = requested('op-1:upgrade');
    await requests.publishMessage({ data: Buffer.from(JSON.stringify(first)) });
    await requests.publishMessage({ data: Buffer.from(JSON.stringify(requested('op-1:upgrade'))) });
    await requests.publishMessage({ data: Buffer.from(JSON.stringify(requested('op-2:upgrade'))) });
    await requests.publishMessage({ data: Buffer.from('not json') });
    await until('three requests', () => executor.calls('requestRun') === 3);
    expect(executor.runsStarted()).toBe(2);
    expect(executor.runs()[0]?.request).toMatchObject({ instanceId: 'acme', actor: 'control-plane', params: { version: '5.5.0' } });

    clock.advance(1_000);
    await until('two results', () => received.length === 2);
    const byKey = new Map(received.map((envelope) => [envelope.type === 'executor.run-finished' ? envelope.payload.runKey : '', envelope]));
    expect(byKey.get('op-1:upgrade')).toMatchObject({ instanceId: 'acme', payload: { outcome: 'succeeded' } });
    expect(byKey.get('op-2:upgrade')).toMatchObject({ instanceId: 'acme', payload: { outcome: 'failed', detail: 'helm timed out' } });
    await until('the dropped message to be reported', () => errors.length === 1);
  });
});

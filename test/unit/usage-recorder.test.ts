import { describe, expect, it } from 'vitest';
import { makeEnvelope } from '../../shared/events/index.js';
import type { EventBus, PublishOptions } from '../../shared/ports.js';
import { UsageRecorder } from '../support/usage.js';

const envelope = () => makeEnvelope({ type: 'alert', payload: { severity: 'warning', summary: 's', details: {} }, actor: 'system:test', reason: 'r' });

/** A bus that remembers what it was handed, answering with a message id or failing. */
function innerBus(fail = false) {
  const seen: Array<{ topic: string; eventId: string; options: PublishOptions | undefined }> = [];
  const bus: EventBus = {
    publish(topic, e, options) {
      seen.push({ topic, eventId: e.eventId, options });
      return fail ? Promise.reject(new Error('PERMISSION_DENIED')) : Promise.resolve(`msg-${seen.length}`);
    },
  };
  return { bus, seen };
}

/** A port as the simulators are: a class whose methods need `this` (a private field). */
class Port {
  #calls = 0;
  readonly region = 'us-central1';
  list(parent: string): Promise<string[]> {
    this.#calls += 1;
    return Promise.resolve([`${parent}/a`, `${this.#calls}`]);
  }
  get(name: string): Promise<string> {
    return name === 'missing' ? Promise.reject(new Error('not-found')) : Promise.resolve(name);
  }
  count(): number {
    return this.#calls;
  }
}

describe('UsageRecorder.bus', () => {
  it('records the topic and hands the publish on unchanged, with its answer', async () => {
    const recorder = new UsageRecorder();
    const inner = innerBus();
    const e = envelope();
    await expect(recorder.bus('rollout', inner.bus).publish('mi-lifecycle', e, { orderingKey: 'k' })).resolves.toBe('msg-1');
    expect(inner.seen).toEqual([{ topic: 'mi-lifecycle', eventId: e.eventId, options: { orderingKey: 'k' } }]);
    expect(recorder.usage()).toEqual({ rollout: { publishes: ['mi-lifecycle'], calls: {} } });
  });

  it('records a publish that fails: the attempt needed the right', async () => {
    const recorder = new UsageRecorder();
    await expect(recorder.bus('reconcile', innerBus(true).bus).publish('mi-deployments', envelope())).rejects.toThrow('PERMISSION_DENIED');
    expect(recorder.usage().reconcile?.publishes).toEqual(['mi-deployments']);
  });
});

describe('UsageRecorder.port', () => {
  it('records each method called, running it on the port itself (this bound, private fields work)', async () => {
    const recorder = new UsageRecorder();
    const port = new Port();
    const recorded = recorder.port('complianceCheck', 'cloudSql', port);
    await expect(recorded.list('p')).resolves.toEqual(['p/a', '1']);
    // Detached from the proxy, the method still runs on the port.
    // eslint-disable-next-line @typescript-eslint/unbound-method -- detaching it is what this checks
    const { list } = recorded;
    await expect(list('q')).resolves.toEqual(['q/a', '2']);
    expect(port.count()).toBe(2);
    expect(recorded).toBeInstanceOf(Port);
    expect(recorder.usage()).toEqual({ complianceCheck: { publishes: [], calls: { cloudSql: ['list'] } } });
  });

  it('records a call that fails, and nothing for reading a property or awaiting the port', async () => {
    const recorder = new UsageRecorder();
    const recorded = recorder.port('lifecycle', 'gkeBackup', new Port());
    await expect(recorded.get('missing')).rejects.toThrow('not-found');
    expect(recorded.region).toBe('us-central1');
    void recorded.count;
    // An async function returning the port reads its `then`: that is not a call of the port.
    expect(await Promise.resolve(recorded)).toBe(recorded);
    expect(recorder.usage().lifecycle?.calls).toEqual({ gkeBackup: ['get'] });
  });
});

describe('UsageRecorder.usage', () => {
  it('is per function, sorted and deduplicated, lists functions wired that used nothing, and is the same on every call', async () => {
    const recorder = new UsageRecorder();
    const bus = innerBus().bus;
    const b = recorder.bus('zeta', bus);
    const a = recorder.bus('alpha', bus);
    await b.publish('mi-rollout', envelope());
    await b.publish('mi-events', envelope());
    await b.publish('mi-rollout', envelope());
    await a.publish('mi-lifecycle', envelope());
    const repo = recorder.port('zeta', 'repo', new Port());
    const sql = recorder.port('zeta', 'cloudSql', new Port());
    await repo.list('r');
    await repo.get('x');
    await repo.list('r');
    await sql.get('y');
    recorder.port('idle', 'scheduler', new Port());
    const usage = recorder.usage();
    expect(usage).toEqual({
      alpha: { publishes: ['mi-lifecycle'], calls: {} },
      idle: { publishes: [], calls: {} },
      zeta: { publishes: ['mi-events', 'mi-rollout'], calls: { cloudSql: ['get'], repo: ['get', 'list'] } },
    });
    expect(Object.keys(usage)).toEqual(['alpha', 'idle', 'zeta']);
    expect(Object.keys(usage.zeta?.calls ?? {})).toEqual(['cloudSql', 'repo']);
    expect(recorder.usage()).toEqual(usage);
    expect(recorder.usage()).not.toBe(usage);
  });
});

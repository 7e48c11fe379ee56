/**
 * A process that dies: after `kill()`, every call it makes to the store or the bus fails, as
 * they would for a function instance that crashed mid-way. What it committed before stays.
 */
import { ControlPlaneError } from '../../shared/errors.js';
import type { EventBus, StateStore } from '../../shared/ports.js';

export interface Mortal {
  store: StateStore;
  bus: EventBus;
  kill(): void;
  readonly dead: boolean;
}

function dead(): never {
  throw new ControlPlaneError('unavailable', 'the process crashed');
}

/** Wraps the store and bus of one simulated process so they die together. */
export function mortalProcess(store: StateStore, bus: EventBus): Mortal {
  let isDead = false;
  const guard = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (isDead) dead();
      const result = await fn(...args);
      // A call that was in flight when the process died never reports back.
      if (isDead) dead();
      return result;
    };
  const store2: StateStore = {
    get: <T extends object>(path: string) => guard(() => store.get<T>(path))(),
    set: guard((path: string, data: object) => store.set(path, data)),
    create: guard((path: string, data: object) => store.create(path, data)),
    delete: guard((path: string) => store.delete(path)),
    query: <T extends object>(spec: Parameters<StateStore['query']>[0]) => guard(() => store.query<T>(spec))(),
    queryIds: guard((spec: Parameters<StateStore['queryIds']>[0]) => store.queryIds(spec)),
    count: guard((spec: Parameters<StateStore['count']>[0]) => store.count(spec)),
    transaction: <T>(work: Parameters<StateStore['transaction']>[0]) =>
      guard(() =>
        store.transaction<T>(async (tx) => {
          if (isDead) dead();
          return (await work(tx)) as T;
        }),
      )(),
  };
  const bus2: EventBus = { publish: (topic, envelope, options) => guard(() => bus.publish(topic, envelope, options))() };
  return {
    store: store2,
    bus: bus2,
    kill() {
      isDead = true;
    },
    get dead() {
      return isDead;
    },
  };
}

/** A copy of `port` whose `method` calls `after()` once it returned (or threw) — e.g. to kill the process right after a side effect. */
export function afterCalling<P extends object, K extends keyof P>(port: P, method: K, after: () => void): P {
  return new Proxy(port, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (key !== method || typeof value !== 'function') return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          after();
        }
      };
    },
  });
}

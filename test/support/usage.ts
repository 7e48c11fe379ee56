/**
 * What each function of the topology used while a test drove it: the topics it published to and
 * the methods of the simulated Google APIs (and the deployment repository) it called. The tests
 * wrap each function's own bus and ports with one recorder, then compare what was recorded with
 * what the Pulumi program grants that function's service account.
 */
import type { EventBus } from '../../shared/ports.js';

/** The ports whose calls need a right of the function's service account (or a token it holds); Firestore where a function may only read it. */
export type RecordedService = 'firestore' | 'cloudSql' | 'gkeBackup' | 'scheduler' | 'executor' | 'builds' | 'repo' | 'access' | 'iamPolicies' | 'plans' | 'evidence' | 'firestoreAdmin' | 'slack' | 'pager';

/** One function's recorded use: topics it published to, and per service the methods it called (sorted, each once). */
export interface FunctionUsage {
  publishes: string[];
  /** Keyed by RecordedService; a service with no call is absent. */
  calls: Record<string, string[]>;
}

export interface UsageRecorderOptions {
  /**
   * Where a call acts, when that needs a right of its own (`central` for the central backup
   * project, say): the method is then recorded as `method@place`.
   */
  placeOf?: (service: RecordedService, method: string, args: readonly unknown[]) => string | undefined;
}

export class UsageRecorder {
  private readonly published = new Map<string, Set<string>>();
  private readonly called = new Map<string, Map<RecordedService, Set<string>>>();

  constructor(private readonly options: UsageRecorderOptions = {}) {}

  /** `bus` as `fn`'s: each publish is recorded when it is attempted (a publish that then fails still needed the right), then handed on. */
  bus(fn: string, bus: EventBus): EventBus {
    this.wired(fn);
    return {
      publish: (topic, envelope, options) => {
        this.topicsOf(fn).add(topic);
        return bus.publish(topic, envelope, options);
      },
    };
  }

  /**
   * `port` as `fn`'s use of `service`: each method called is recorded by name when it is called
   * (even if it then fails), and runs on the port itself, `this` bound to it (so classes with
   * private fields work). Reading a property without calling it records nothing. The port must
   * not be frozen (a Proxy may not hand out wrappers of a frozen object's methods).
   */
  port<T extends object>(fn: string, service: RecordedService, port: T): T {
    this.wired(fn);
    const methods = this.methodsOf(fn, service);
    const placeOf = this.options.placeOf;
    return new Proxy(port, {
      get(target, key) {
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== 'function' || typeof key === 'symbol') return value;
        return (...args: unknown[]): unknown => {
          const place = placeOf?.(service, key, args);
          methods.add(place === undefined ? key : `${key}@${place}`);
          return Reflect.apply(value as (...a: unknown[]) => unknown, target, args);
        };
      },
    });
  }

  /**
   * Every function wired through this recorder (even one that used nothing), by name, with
   * what it used: sorted and deduplicated, a fresh object each time.
   */
  usage(): Record<string, FunctionUsage> {
    const names = [...new Set([...this.published.keys(), ...this.called.keys()])].sort();
    return Object.fromEntries(
      names.map((fn) => {
        const services = [...(this.called.get(fn)?.entries() ?? [])].filter(([, methods]) => methods.size > 0).sort(([a], [b]) => a.localeCompare(b));
        const usage: FunctionUsage = {
          publishes: [...(this.published.get(fn) ?? [])].sort(),
          calls: Object.fromEntries(services.map(([service, methods]) => [service, [...methods].sort()])),
        };
        return [fn, usage];
      }),
    );
  }

  private wired(fn: string): void {
    this.topicsOf(fn);
    if (!this.called.has(fn)) this.called.set(fn, new Map());
  }

  private topicsOf(fn: string): Set<string> {
    let topics = this.published.get(fn);
    if (topics === undefined) {
      topics = new Set();
      this.published.set(fn, topics);
    }
    return topics;
  }

  private methodsOf(fn: string, service: RecordedService): Set<string> {
    this.wired(fn);
    const services = this.called.get(fn) as Map<RecordedService, Set<string>>;
    let methods = services.get(service);
    if (methods === undefined) {
      methods = new Set();
      services.set(service, methods);
    }
    return methods;
  }
}

/**
 * Fault and latency injection shared by every simulator. Faults reach the code under test
 * only as what the simulated API answers (an error with an HTTP status, a slow answer),
 * never as a flag it could read.
 */
import { ControlPlaneError, type ErrorCode } from '../errors.js';

/** An error the simulated API answers with, as the real one would: an HTTP status. */
export interface InjectedError {
  httpStatus: number;
  message?: string;
}

export interface FaultRule<M extends string> {
  /** The port method to fail, or '*' for every method. */
  method: M | '*';
  /** How many matching calls fail; default 1, Infinity until cleared. */
  times?: number;
  error: InjectedError;
  /**
   * Fail after the call took effect (the answer was lost on the way back, as with a timeout):
   * the code under test must then find what its call started.
   */
  afterEffect?: boolean;
  /** Only calls about this resource (the simulator's target string: a name, `project/instance`). */
  target?: string;
}

interface ActiveRule<M extends string> extends FaultRule<M> {
  remaining: number;
}

/** How a service names its 409: Cloud SQL means "operation in progress", GKE "exists". */
export interface ServiceErrorStyle {
  service: string;
  conflictCode: ErrorCode;
}

/** The ControlPlaneError an adapter would raise for this HTTP status from this service. */
export function errorForHttpStatus(style: ServiceErrorStyle, method: string, httpStatus: number, message?: string): ControlPlaneError {
  const code = codeForHttpStatus(style, httpStatus);
  const text = message ?? `${style.service}.${method} answered HTTP ${httpStatus}`;
  // 500s are worth retrying at Google APIs, though our 'internal' code is not by default.
  const retryable = httpStatus === 500 ? true : undefined;
  return new ControlPlaneError(code, text, {
    ...(retryable === undefined ? {} : { retryable }),
    details: { httpStatus, service: style.service, method },
  });
}

function codeForHttpStatus(style: ServiceErrorStyle, httpStatus: number): ErrorCode {
  switch (httpStatus) {
    case 404:
      return 'not-found';
    case 409:
      return style.conflictCode;
    case 429:
      return 'rate-limited';
    case 500:
      return 'internal';
    case 504:
      return 'deadline-exceeded';
    default:
      return httpStatus >= 500 ? 'unavailable' : 'failed-precondition';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Counts calls, delays them, and fails them as scripted; one per simulator. */
export class FaultInjector<M extends string> {
  private readonly rules: Array<ActiveRule<M>> = [];
  private readonly counts = new Map<string, number>();
  private readonly latencies = new Map<string, number>();
  private observer: (() => Promise<void>) | undefined;

  constructor(private readonly style: ServiceErrorStyle) {}

  /**
   * Awaited after every call, answered or failed, before its answer goes back: the local stack
   * keeps the simulator's state there, so nothing a caller has seen is lost by a crash.
   */
  observe(observer: (() => Promise<void>) | undefined): void {
    this.observer = observer;
  }

  /** The rules and latencies not used up, as plain data (see state.ts). */
  exportState(): { rules: Array<FaultRule<M> & { remaining: number }>; latencies: Map<string, number> } {
    return structuredClone({ rules: this.rules, latencies: this.latencies });
  }

  importState(state: { rules: Array<FaultRule<M> & { remaining: number }>; latencies: Map<string, number> }): void {
    this.rules.length = 0;
    this.rules.push(...structuredClone(state.rules));
    this.latencies.clear();
    for (const [method, ms] of state.latencies) this.latencies.set(method, ms);
  }

  /** Scripts failures; rules are matched in the order they were injected. */
  inject(rule: FaultRule<M>): void {
    const times = rule.times ?? 1;
    if (!(times > 0)) throw new RangeError(`a fault rule needs times > 0, got ${times}`);
    this.rules.push({ ...rule, remaining: times });
  }

  /** Real milliseconds every call (or one method's calls) waits before it answers. */
  setLatency(ms: number, method: M | '*' = '*'): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`latency must be a finite, non-negative number of ms, got ${ms}`);
    this.latencies.set(method, ms);
  }

  /** Forgets every rule and latency (call counts stay). */
  clear(): void {
    this.rules.length = 0;
    this.latencies.clear();
  }

  /** Fault rules not used up yet, to check a test's script ran as planned. */
  pending(): number {
    return this.rules.reduce((sum, rule) => sum + rule.remaining, 0);
  }

  /** Calls received by a method, including those that failed. */
  calls(method: M): number {
    return this.counts.get(method) ?? 0;
  }

  resetCalls(): void {
    this.counts.clear();
  }

  /** Runs one simulated API call: count, wait, maybe fail before or after its effect. */
  async call<T>(method: M, target: string, effect: () => T | Promise<T>): Promise<T> {
    try {
      return await this.answer(method, target, effect);
    } finally {
      if (this.observer !== undefined) await this.observer();
    }
  }

  private async answer<T>(method: M, target: string, effect: () => T | Promise<T>): Promise<T> {
    this.counts.set(method, this.calls(method) + 1);
    const delay = this.latencies.get(method) ?? this.latencies.get('*') ?? 0;
    if (delay > 0) await sleep(delay);
    const before = this.take(method, target, false);
    if (before) throw before;
    const result = await effect();
    const after = this.take(method, target, true);
    if (after) throw after;
    return result;
  }

  private take(method: M, target: string, afterEffect: boolean): ControlPlaneError | undefined {
    const index = this.rules.findIndex(
      (rule) =>
        (rule.method === '*' || rule.method === method) &&
        (rule.afterEffect ?? false) === afterEffect &&
        (rule.target === undefined || rule.target === target),
    );
    const rule = this.rules[index];
    if (rule === undefined) return undefined;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.rules.splice(index, 1);
    return errorForHttpStatus(this.style, method, rule.error.httpStatus, rule.error.message);
  }
}

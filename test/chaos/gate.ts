/**
 * The chaos scheduler's unit: one whole port call. Every call a process makes to a port (a
 * Firestore read or transaction, a publish, a Cloud SQL or Backup for GKE call, an executor
 * status read) waits here until the scheduler lets it through, alone; so a run is a sequence of
 * whole calls, and replays exactly from the same choices. Faults are injected here, around the
 * ports, never through anything the code under test can read: a call fails before it is made,
 * or after it took effect (its answer lost); a process crashes before or after a call, or is
 * stopped by its function's timeout.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ControlPlaneError } from '../../shared/errors.js';
import type { Clock } from '../../shared/ports.js';

export const FAULT_KINDS = ['error-before', 'error-after', 'refused', 'crash-before', 'crash-after', 'timeout-kill', 'service-failure'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type ReleaseFault = Exclude<FaultKind, 'timeout-kill' | 'service-failure'>;

/** One simulated function invocation: a delivery, a reconcile, an operator's abandon. */
export interface Process {
  id: number;
  name: string;
  spawnedAt: number;
  timeoutMs: number;
  dead: boolean;
  done: boolean;
}

export interface PendingCall {
  seq: number;
  proc: Process;
  /** `port.method`, for traces. */
  label: string;
  /** False for reads: they change nothing, so invariants need not be checked after them. */
  changes: boolean;
  run: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** Told of a call that took effect (its run resolved), before the process hears the answer. */
  landed?: (result: unknown) => Promise<void> | void;
}

export interface GateOptions<T> {
  /** Methods that only read. */
  reads: ReadonlySet<string>;
  /** Called with the method, its arguments and its result when a call took effect. */
  landed?: (method: string, args: unknown[], result: unknown) => Promise<void> | void;
  /** Methods that pass straight through (test helpers, not the port). */
  passThrough?: ReadonlySet<keyof T & string>;
}

function crashed(label: string): ControlPlaneError {
  return new ControlPlaneError('unavailable', `the process crashed during ${label}`);
}

export class Gate {
  private readonly als = new AsyncLocalStorage<Process>();
  private seq = 0;
  private processSeq = 0;
  readonly pending: PendingCall[] = [];
  readonly processes: Process[] = [];
  readonly faults: Record<FaultKind, number> = { 'error-before': 0, 'error-after': 0, refused: 0, 'crash-before': 0, 'crash-after': 0, 'timeout-kill': 0, 'service-failure': 0 };

  constructor(private readonly clock: Clock) {}

  /** A copy of `port` whose every method waits for the scheduler (when called from a process). */
  wrap<T extends object>(portName: string, port: T, options: GateOptions<T>): T {
    return new Proxy(port, {
      get: (target, key, receiver) => {
        const value: unknown = Reflect.get(target, key, receiver);
        if (typeof value !== 'function') return value;
        const method = String(key);
        const fn = (value as (...a: unknown[]) => unknown).bind(target);
        if (options.passThrough?.has(method as keyof T & string)) return fn;
        return (...args: unknown[]) =>
          this.call(`${portName}.${method}`, !options.reads.has(method), () => fn(...args) as Promise<unknown>, options.landed ? (result) => options.landed?.(method, args, result) : undefined);
      },
    });
  }

  /** A call from a process waits to be released; a call from the harness itself runs at once. */
  call<R>(label: string, changes: boolean, run: () => Promise<R>, landed?: (result: unknown) => Promise<void> | void): Promise<R> {
    const proc = this.als.getStore();
    if (proc === undefined) return run();
    if (proc.dead) return Promise.reject(crashed(label));
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ seq: (this.seq += 1), proc, label, changes, run, resolve: resolve as (value: unknown) => void, reject, ...(landed ? { landed } : {}) });
    });
  }

  /** Runs `body` as a process; `onEnd` is told how it ended. */
  spawn(name: string, timeoutMs: number, body: () => Promise<unknown>, onEnd: (outcome: { ok: boolean; crashed: boolean; error?: unknown }) => void): Process {
    const proc: Process = { id: (this.processSeq += 1), name, spawnedAt: this.clock.now().getTime(), timeoutMs, dead: false, done: false };
    this.processes.push(proc);
    void this.als
      .run(proc, body)
      .then(
        () => onEnd({ ok: true, crashed: proc.dead }),
        (error: unknown) => onEnd({ ok: false, crashed: proc.dead, error }),
      )
      .finally(() => {
        proc.done = true;
      });
    return proc;
  }

  alive(): Process[] {
    return this.processes.filter((p) => !p.done);
  }

  /**
   * Lets one pending call through, alone, with or without a fault. A process that outlived its
   * function's timeout is stopped instead, as Cloud Functions stops it. Returns whether the
   * call took effect.
   */
  async release(call: PendingCall, fault: ReleaseFault | undefined): Promise<{ landed: boolean; changes: boolean }> {
    const index = this.pending.indexOf(call);
    if (index >= 0) this.pending.splice(index, 1);
    const { proc } = call;
    if (proc.dead) {
      call.reject(crashed(call.label));
      return { landed: false, changes: false };
    }
    if (this.clock.now().getTime() - proc.spawnedAt > proc.timeoutMs) {
      proc.dead = true;
      this.faults['timeout-kill'] += 1;
      call.reject(crashed(call.label));
      return { landed: false, changes: false };
    }
    if (fault === 'crash-before') {
      proc.dead = true;
      this.faults[fault] += 1;
      call.reject(crashed(call.label));
      return { landed: false, changes: false };
    }
    if (fault === 'error-before') {
      this.faults[fault] += 1;
      call.reject(new ControlPlaneError('unavailable', `${call.label} answered HTTP 503 (injected before it took effect)`));
      return { landed: false, changes: false };
    }
    if (fault === 'refused') {
      this.faults[fault] += 1;
      call.reject(new ControlPlaneError('failed-precondition', `${call.label} answered HTTP 400 (injected: refused for good)`, { retryable: false, details: { httpStatus: 400 } }));
      return { landed: false, changes: false };
    }
    let result: unknown;
    try {
      result = await call.run();
    } catch (error) {
      call.reject(error);
      return { landed: false, changes: call.changes };
    }
    await call.landed?.(result);
    if (fault === 'error-after') {
      this.faults[fault] += 1;
      call.reject(new ControlPlaneError('deadline-exceeded', `${call.label} took effect but its answer was lost (injected)`));
    } else if (fault === 'crash-after') {
      this.faults[fault] += 1;
      proc.dead = true;
      call.reject(crashed(call.label));
    } else {
      call.resolve(result);
    }
    return { landed: true, changes: call.changes };
  }

  /** Lets every runnable process go on until it waits at a gate or ends (microtasks only). */
  async settle(): Promise<void> {
    for (let round = 0; round < 3; round += 1) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * The external runner, in process: one run per run key however often asked; a run is queued,
 * then running, then succeeded or failed as the clock moves. It knows nothing of Pub/Sub: the
 * runner in executor-runner.ts (or a test) reports finished runs with finishDue().
 */
import type { ExecutorAction } from '../events/index.js';
import type { Clock, ExecutorPort, RunRequest, RunState } from '../ports.js';
import { exportWithFaults, importWithFaults, type SimState } from './state.js';
import { FaultInjector, type ServiceErrorStyle } from './faults.js';

export type ExecutorMethod = keyof ExecutorPort;

/** Which runs a script applies to; every given field must match. */
export interface RunMatcher {
  action?: ExecutorAction;
  runKey?: string | RegExp;
  instanceId?: string;
}

export type ScriptedOutcome = 'succeeded' | 'failed' | 'hang';

export interface FinishedRun {
  runKey: string;
  action: ExecutorAction;
  instanceId: string;
  outcome: 'succeeded' | 'failed';
  detail: string;
  /** What its steps reported (an upgrade: whether migrations ran). */
  outputs: Record<string, string>;
  finishedAt: Date;
  request: RunRequest;
}

export interface ExecutorSimOptions {
  clock: Clock;
  /** How long a run waits before it starts. */
  queuedMs?: number;
  /** How long a run of each action runs; `defaultDurationMs` for the others. */
  durations?: Partial<Record<ExecutorAction, number>>;
  defaultDurationMs?: number;
  /** Told of each finished run by finishDue(); a failure leaves the run to be reported again. */
  onFinished?: (run: FinishedRun) => Promise<void> | void;
  /** What a run does to the simulated world when it succeeds (see ExecutorEffects). */
  effects?: ExecutorEffects;
}

/**
 * The world-side effect of runs: a succeeded `provision` makes the instance's resources
 * exist, a succeeded `destroy` removes its project. Applied once per run, the first time the
 * executor notices the run has ended (a status read, finishDue, runs()), so whoever learns
 * that a run succeeded already sees its effect.
 */
export interface ExecutorEffects {
  onSucceeded(run: FinishedRun): void;
}

interface RunRecord {
  request: RunRequest;
  requestedAt: number;
  startAt: number;
  /** Undefined while the run hangs. */
  endAt: number | undefined;
  outcome: 'succeeded' | 'failed';
  detail: string;
  outputs: Record<string, string>;
  reported: boolean;
  /** Its effect on the world has been applied (succeeded runs only). */
  effected: boolean;
}

interface Script {
  matcher: RunMatcher;
  outcome: ScriptedOutcome;
  detail: string | undefined;
  remaining: number;
}

const STYLE: ServiceErrorStyle = { service: 'executor', conflictCode: 'conflict' };

function matches(matcher: RunMatcher, request: RunRequest): boolean {
  const { action, runKey, instanceId } = matcher;
  if (action !== undefined && action !== request.action) return false;
  if (instanceId !== undefined && instanceId !== request.instanceId) return false;
  if (runKey === undefined) return true;
  return typeof runKey === 'string' ? runKey === request.runKey : runKey.test(request.runKey);
}

/** The fields exportState keeps. */
const EXECUTOR_STATE_FIELDS = ['runsByKey', 'scripts', 'outputScripts', 'duplicates', 'refused'] as const;

/** The simulated executor. */
export class SimulatedExecutor implements ExecutorPort {
  readonly faults = new FaultInjector<ExecutorMethod>(STYLE);
  private readonly runsByKey = new Map<string, RunRecord>();
  private readonly scripts: Script[] = [];
  private readonly outputScripts: Array<{ matcher: RunMatcher; outputs: Record<string, string>; remaining: number }> = [];
  private duplicates = 0;
  private readonly refused: RunRequest[] = [];

  constructor(private readonly options: ExecutorSimOptions) {}

  /** Its world as plain data (state.ts): what a restart of the local stack must find. */
  exportState(): SimState {
    return exportWithFaults(this, EXECUTOR_STATE_FIELDS, this.faults);
  }

  /** Puts a world taken by exportState back. */
  importState(state: SimState): void {
    importWithFaults(this, EXECUTOR_STATE_FIELDS, this.faults, state);
  }

  // ------------------------------------------------------------------ test control

  /** The next run(s) matching end this way (or hang: stay running until finishRun). */
  scriptOutcome(matcher: RunMatcher, outcome: ScriptedOutcome, detail?: string, times = 1): void {
    if (!(times > 0)) throw new RangeError(`scriptOutcome needs times > 0, got ${times}`);
    this.scripts.push({ matcher, outcome, detail, remaining: times });
  }

  /** What the next run(s) matching report (an upgrade reports no migrations unless told). */
  scriptOutputs(matcher: RunMatcher, outputs: Record<string, string>, times = 1): void {
    if (!(times > 0)) throw new RangeError(`scriptOutputs needs times > 0, got ${times}`);
    this.outputScripts.push({ matcher, outputs, remaining: times });
  }

  /** The next run(s) matching never finish by themselves, as a stuck runner would. */
  scriptHang(matcher: RunMatcher, times = 1): void {
    this.scriptOutcome(matcher, 'hang', undefined, times);
  }

  /** Ends a run now (a hung one, or one a test does not want to wait for). */
  finishRun(runKey: string, outcome: 'succeeded' | 'failed', detail?: string): void {
    const run = this.runsByKey.get(runKey);
    if (run === undefined) throw new Error(`executor sim: no run ${runKey}`);
    const now = this.now();
    run.startAt = Math.min(run.startAt, now);
    run.endAt = now;
    run.outcome = outcome;
    run.detail = detail ?? `${run.request.action} ${outcome}`;
  }

  /** Runs started (one per distinct run key). */
  runsStarted(): number {
    return this.runsByKey.size;
  }

  /** Requests that named a run key already known. */
  duplicateRequests(): number {
    return this.duplicates;
  }

  /** Requests refused because they came after their refuse-after time (never run). */
  refusedRequests(): RunRequest[] {
    return this.refused.map((request) => structuredClone(request));
  }

  /** What was asked of each run, in request order. */
  runs(): Array<{ request: RunRequest; state: RunState; reported: boolean }> {
    this.settle();
    return [...this.runsByKey.values()].map((run) => ({ request: structuredClone(run.request), state: this.stateOf(run), reported: run.reported }));
  }

  /** Calls received by a method, including failed ones. */
  calls(method: ExecutorMethod): number {
    return this.faults.calls(method);
  }

  /**
   * Finished runs not reported yet, each handed to `report` (or the constructor's onFinished)
   * and marked reported only once that resolved: a lost report is made again next time.
   * Calls must not overlap, or a run could be reported twice (the runner serialises them).
   */
  async finishDue(report?: (run: FinishedRun) => Promise<void> | void): Promise<FinishedRun[]> {
    this.settle();
    const reporter = report ?? this.options.onFinished;
    const due = [...this.runsByKey.values()]
      .filter((run) => !run.reported && run.endAt !== undefined && run.endAt <= this.now())
      .sort((a, b) => (a.endAt ?? 0) - (b.endAt ?? 0));
    const finished: FinishedRun[] = [];
    for (const run of due) {
      const result = this.finished(run);
      if (reporter !== undefined) await reporter(result);
      run.reported = true;
      finished.push(result);
    }
    return finished;
  }

  // ------------------------------------------------------------------ the port

  requestRun(request: RunRequest): Promise<void> {
    return this.faults.call('requestRun', request.runKey, () => {
      if (this.runsByKey.has(request.runKey)) {
        this.duplicates += 1;
        return;
      }
      const now = this.now();
      // The runner's contract: a request taken up after its refuse-after time is never run.
      if (now > Date.parse(request.refuseAfter)) {
        this.refused.push(structuredClone(request));
        return;
      }
      const script = this.takeScript(request);
      const startAt = now + (this.options.queuedMs ?? 5_000);
      const duration = this.options.durations?.[request.action] ?? this.options.defaultDurationMs ?? 60_000;
      const outcome = script?.outcome === 'failed' ? 'failed' : 'succeeded';
      this.runsByKey.set(request.runKey, {
        request: structuredClone(request),
        requestedAt: now,
        startAt,
        endAt: script?.outcome === 'hang' ? undefined : startAt + duration,
        outcome,
        detail: script?.detail ?? `${request.action} ${outcome}`,
        outputs: this.takeOutputs(request, outcome),
        reported: false,
        effected: false,
      });
    });
  }

  getRunStatus(runKey: string): Promise<{ state: RunState; detail?: string; outputs?: Record<string, string> }> {
    return this.faults.call('getRunStatus', runKey, () => {
      this.settle();
      const run = this.runsByKey.get(runKey);
      if (run === undefined) return { state: 'unknown' as const };
      const state = this.stateOf(run);
      return state === 'succeeded' || state === 'failed' ? { state, detail: run.detail, ...(Object.keys(run.outputs).length === 0 ? {} : { outputs: { ...run.outputs } }) } : { state };
    });
  }

  /** Applies the effects of runs that have succeeded by now, in the order they ended. */
  settle(): void {
    const effects = this.options.effects;
    if (effects === undefined) return;
    const now = this.now();
    const due = [...this.runsByKey.values()]
      .filter((run) => !run.effected && run.outcome === 'succeeded' && run.endAt !== undefined && run.endAt <= now)
      .sort((a, b) => (a.endAt ?? 0) - (b.endAt ?? 0));
    for (const run of due) {
      // Marked first: an effect that throws (a bug in the hook) must not be applied twice.
      run.effected = true;
      effects.onSucceeded(this.finished(run));
    }
  }

  // ------------------------------------------------------------------ internals

  private finished(run: RunRecord): FinishedRun {
    return {
      runKey: run.request.runKey,
      action: run.request.action,
      instanceId: run.request.instanceId,
      outcome: run.outcome,
      detail: run.detail,
      outputs: { ...run.outputs },
      finishedAt: new Date(run.endAt ?? this.now()),
      request: structuredClone(run.request),
    };
  }

  private takeOutputs(request: RunRequest, outcome: 'succeeded' | 'failed'): Record<string, string> {
    const index = this.outputScripts.findIndex((script) => matches(script.matcher, request));
    const script = this.outputScripts[index];
    if (script !== undefined) {
      script.remaining -= 1;
      if (script.remaining <= 0) this.outputScripts.splice(index, 1);
      return { ...script.outputs };
    }
    // A succeeded upgrade found no migration pending unless told; a failed one says nothing.
    return request.action === 'upgrade' && outcome === 'succeeded' ? { migrationsRan: 'false', migrationsApplied: '0' } : {};
  }

  private now(): number {
    return this.options.clock.now().getTime();
  }

  private stateOf(run: RunRecord): RunState {
    const now = this.now();
    if (now < run.startAt) return 'queued';
    if (run.endAt === undefined || now < run.endAt) return 'running';
    return run.outcome;
  }

  private takeScript(request: RunRequest): Script | undefined {
    const index = this.scripts.findIndex((script) => matches(script.matcher, request));
    const script = this.scripts[index];
    if (script === undefined) return undefined;
    script.remaining -= 1;
    if (script.remaining <= 0) this.scripts.splice(index, 1);
    return script;
  }
}

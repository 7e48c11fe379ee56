/**
 * Where each entry point gets its engine. In the cloud the engine is built once per
 * instance from the Google Cloud adapters; `mi dev` and tests hand in their own wiring.
 * The approvals function's dependencies (identity, approver, audience) are wired the same way.
 */
import type { Engine } from '../shared/engine/index.js';
import type { ApprovalDeps, Approver } from './approvals.js';

/** One dependency of the entry points: handed in (local stack, tests), or built on first use (the cloud). */
export function lazily<T>(what: string, hint: string) {
  let current: T | undefined;
  let build: (() => Promise<T>) | undefined;
  let building: Promise<T> | undefined;
  return {
    use(value: T): void {
      current = value;
      building = undefined;
    },
    buildWith(factory: () => Promise<T>): void {
      build = factory;
    },
    async get(): Promise<T> {
      if (current) return current;
      if (!build) throw new Error(`no ${what} configured: call ${hint} before serving functions`);
      // A failed build is not kept: the next request tries again (a cold start's network blip).
      building ??= build().then(
        (built) => (current = built),
        (error: unknown) => {
          building = undefined;
          throw error;
        },
      );
      return building;
    },
  };
}

const engines = lazily<Engine>('engine', 'useEngine() or buildEngineWith()');
const approvalDeps = lazily<ApprovalDeps>('approvals wiring', 'useApprovals() or buildApprovalsWith()');

/** Uses this engine for every function in this process (local stack, tests). */
export function useEngine(engine: Engine): void {
  engines.use(engine);
}

/** Sets how the engine is built on first use (the production entry point). */
export function buildEngineWith(factory: () => Promise<Engine>): void {
  engines.buildWith(factory);
}

/** The engine for this process, built on first use. */
export function engine(): Promise<Engine> {
  return engines.get();
}

/** Uses this identity, approver and audience for the approvals function (local stack, tests). */
export function useApprovals(deps: ApprovalDeps): void {
  approvalDeps.use(deps);
}

/** Sets how the approvals function's dependencies are built on first use (the production entry point). */
export function buildApprovalsWith(factory: () => Promise<ApprovalDeps>): void {
  approvalDeps.buildWith(factory);
}

/** The approvals function's dependencies, built on first use. */
export function approvals(): Promise<ApprovalDeps> {
  return approvalDeps.get();
}

/** The engine as the approvals function's Approver: its `approve` runs the approval transaction. */
export function approverOf(engine: Engine): Approver {
  return engine;
}

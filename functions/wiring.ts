/**
 * Where each entry point gets its engine. In the cloud the engine is built once per
 * instance from the Google Cloud adapters; `mi dev` and tests hand in their own wiring.
 */
import type { Engine } from '../shared/engine/index.js';

let current: Engine | undefined;
let build: (() => Promise<Engine>) | undefined;
let building: Promise<Engine> | undefined;

/** Uses this engine for every function in this process (local stack, tests). */
export function useEngine(engine: Engine): void {
  current = engine;
  building = undefined;
}

/** Sets how the engine is built on first use (the production entry point). */
export function buildEngineWith(factory: () => Promise<Engine>): void {
  build = factory;
}

/** The engine for this process, built on first use. */
export async function engine(): Promise<Engine> {
  if (current) return current;
  if (!build) throw new Error('no engine configured: call useEngine() or buildEngineWith() before serving functions');
  building ??= build().then((built) => (current = built));
  return building;
}

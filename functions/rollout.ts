import * as functions from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import type { Engine } from '../shared/engine/index.js';
import { createRollouts, type Rollouts } from '../shared/rollout/service.js';
import { engine } from './wiring.js';

let wired: { engine: Engine; rollouts: Rollouts } | undefined;

/** The rollouts service on the engine's store, bus and clock (rebuilt when the engine is replaced). */
export async function rollouts(): Promise<Rollouts> {
  const current = await engine();
  if (wired?.engine !== current) wired = { engine: current, rollouts: createRollouts({ ...current.deps }) };
  return wired.rollouts;
}

/** `mi-rollout`: a scheduled tick (every running rollout) or one rollout's tick: plan, start the next upgrades. */
export async function handleRolloutTick(event: CloudEvent<unknown>): Promise<void> {
  await (await rollouts()).handleTickMessage(event);
}

functions.cloudEvent('rollout', handleRolloutTick);

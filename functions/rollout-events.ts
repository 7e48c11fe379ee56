import * as functions from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { rollouts } from './rollout.js';

/** `mi-events`: record the outcome of an upgrade a rollout started, then tick that rollout. */
export async function handleRolloutEvents(event: CloudEvent<unknown>): Promise<void> {
  await (await rollouts()).handleFactMessage(event);
}

functions.cloudEvent('rolloutEvents', handleRolloutEvents);

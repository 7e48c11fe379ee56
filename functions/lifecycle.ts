import * as functions from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { engine } from './wiring.js';

/** `mi-lifecycle`: accept a lifecycle command and start its operation. Throws only to be retried. */
export async function handleLifecycle(event: CloudEvent<unknown>): Promise<void> {
  await (await engine()).handleLifecycleMessage(event);
}

functions.cloudEvent('lifecycle', handleLifecycle);

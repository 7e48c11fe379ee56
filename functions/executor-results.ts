import * as functions from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { engine } from './wiring.js';

/** `mi-executor-results`: record an executor run's outcome on its operation. */
export async function handleExecutorResults(event: CloudEvent<unknown>): Promise<void> {
  await (await engine()).handleExecutorResult(event);
}

functions.cloudEvent('executorResults', handleExecutorResults);

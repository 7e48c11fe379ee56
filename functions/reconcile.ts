import * as functions from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { engine } from './wiring.js';

/** `mi-reconcile` (every minute): advance due operations, flag stuck ones, drain the outbox. */
export async function handleReconcile(_event: CloudEvent<unknown>): Promise<void> {
  await (await engine()).reconcile();
}

functions.cloudEvent('reconcile', handleReconcile);

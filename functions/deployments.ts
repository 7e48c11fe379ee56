import * as functions from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { deployments } from './deployments-wiring.js';

/** `mi-deployments`: a merged push (classified changes) or the schedule's tick. Throws only to be retried. */
export async function handleDeployments(event: CloudEvent<unknown>): Promise<void> {
  await (await deployments()).handleMessage(event);
}

functions.cloudEvent('deployments', handleDeployments);

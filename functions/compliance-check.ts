import * as functions from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { compliance } from './compliance-wiring.js';

/** `mi-checks`: check one instance (or the schedules) for a run and write its finding. Throws only to be retried. */
export async function handleComplianceCheck(event: CloudEvent<unknown>): Promise<void> {
  await (await compliance()).handleCheckMessage(event);
}

functions.cloudEvent('complianceCheck', handleComplianceCheck);

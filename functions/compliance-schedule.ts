import * as functions from '@google-cloud/functions-framework';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { compliance } from './compliance-wiring.js';

/** `mi-compliance`: a schedule's message (verify-backups, check-retention, compliance-report, restore-drill), run once per cron slot. */
export async function handleComplianceSchedule(event: CloudEvent<unknown>): Promise<void> {
  await (await compliance()).handleScheduleMessage(event);
}

functions.cloudEvent('complianceSchedule', handleComplianceSchedule);

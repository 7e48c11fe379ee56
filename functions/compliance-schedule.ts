import { onMessagePublished } from './edge.js';

/** `mi-compliance`: a schedule's message (verify-backups, check-retention, compliance-report, restore-drill), run once per cron slot. */
export const handle = onMessagePublished('complianceSchedule');

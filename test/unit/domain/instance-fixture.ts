/** The prod customer instance the domain's lifecycle tests decide over, at their fixed "now". */
import type { InstanceRecord } from '../../../shared/events/index.js';

export const NOW = new Date('2026-11-26T10:00:00.000Z');

export function acmeInstance(overrides: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    id: 'acme-prod',
    slug: 'acme',
    environment: 'prod',
    tier: 'customer',
    domain: 'acme.example.com',
    region: 'us-central1',
    version: '5.4.2',
    maintenanceWindow: { days: ['sat'], start: '02:00', hours: 4, timeZone: 'America/New_York' },
    status: 'active',
    resources: { project: 'mi-acme-prod', sqlInstance: 'acme-prod-db', gkeCluster: 'c', backupPlan: 'plan', backupPlanRegion: 'us-east1' },
    lease: null,
    generation: 3,
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
    ...overrides,
  };
}

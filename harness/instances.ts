/** An active prod customer instance as the tests and the benchmarks seed it: its record on the resources the simulated fleet made for it. */
import type { InstanceRecord, InstanceResources } from '../shared/events/index.js';

export function customerInstance(id: string, region: string, resources: InstanceResources, at: string): InstanceRecord {
  return {
    id,
    slug: id,
    environment: 'prod',
    tier: 'customer',
    domain: `${id}.example.com`,
    region,
    version: '5.4.2',
    maintenanceWindow: { days: ['sat', 'sun'], start: '02:00', hours: 4, timeZone: 'America/New_York' },
    status: 'active',
    resources,
    lease: null,
    generation: 1,
    createdAt: at,
    updatedAt: at,
  };
}

/**
 * The simulated fleet `mi dev` starts with: dev, internal prod and customer prod instances in
 * Firestore, and their Cloud SQL instances and GKE backup plans in the simulators. Seeding is
 * idempotent, so restarting `mi dev` on running emulators keeps whatever state they hold.
 */
import { appendAudit } from '../../shared/store/records.js';
import { instanceSpecSchema, type InstanceRecord, type InstanceResources, type InstanceSpec } from '../../shared/events/index.js';
import type { StateStore } from '../../shared/ports.js';
import { resourceNamesFor, type SimulatedFleet } from '../../shared/sim/index.js';
import { COLLECTIONS, paths } from '../../shared/store/collections.js';

/** The version every seeded instance runs, so `mi upgrade --to 5.5.0` is newer. */
export const SEED_VERSION = '5.4.2';

/** Who the audit trail says seeded the fleet. */
export const SEED_ACTOR = 'system:mi-dev';

const DAY_MS = 86_400_000;

/** The specs of the local fleet: 3 dev, 2 internal prod, 5 customer prod instances. */
export function localFleetSpecs(now: Date): InstanceSpec[] {
  const expiresAt = new Date(now.getTime() + 7 * DAY_MS).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const dev = (name: string, region: string): InstanceSpec => ({
    id: `dev-${name}`,
    slug: name,
    environment: 'dev',
    tier: 'internal',
    domain: `${name}.dev.example.com`,
    region,
    version: SEED_VERSION,
    expiresAt,
    owner: `${name}@example.com`,
  });
  const internal = (name: string, region: string): InstanceSpec => ({
    id: `int-${name}`,
    slug: name,
    environment: 'prod',
    tier: 'internal',
    domain: `${name}.internal.example.com`,
    region,
    version: SEED_VERSION,
  });
  const customer = (name: string, region: string, window: NonNullable<InstanceSpec['maintenanceWindow']>): InstanceSpec => ({
    id: `cus-${name}`,
    slug: name,
    environment: 'prod',
    tier: 'customer',
    domain: `${name}.example.com`,
    region,
    version: SEED_VERSION,
    maintenanceWindow: window,
  });
  return [
    dev('alice', 'us-central1'),
    dev('bob', 'europe-west1'),
    dev('release-check', 'us-central1'),
    internal('staging', 'us-central1'),
    internal('dogfood', 'europe-west4'),
    customer('acme', 'us-east4', { days: ['sat', 'sun'], start: '02:00', hours: 4, timeZone: 'America/New_York' }),
    customer('globex', 'europe-west3', { days: ['sun'], start: '01:00', hours: 6, timeZone: 'Europe/Berlin' }),
    customer('initech', 'us-west1', { days: ['tue', 'thu'], start: '22:00', hours: 3, timeZone: 'America/Los_Angeles' }),
    customer('umbrella', 'asia-northeast1', { days: ['sat'], start: '03:00', hours: 4, timeZone: 'Asia/Tokyo' }),
    customer('hooli', 'australia-southeast1', { days: ['wed'], start: '23:30', hours: 2, timeZone: 'Australia/Sydney' }),
  ];
}

/** The record of a freshly seeded instance: active, unleased, generation 1. */
export function seedRecord(spec: InstanceSpec, now: Date): InstanceRecord {
  // Validated here so a typo in the seed fails at start-up, not in the first operation.
  const valid = instanceSpecSchema.parse(spec);
  const at = now.toISOString();
  return {
    ...valid,
    status: 'active',
    resources: resourceNamesFor(valid.id, valid.region),
    lease: null,
    generation: 1,
    createdAt: at,
    updatedAt: at,
  };
}

export interface SeedResult {
  created: InstanceRecord[];
  /** Already in Firestore (an earlier `mi dev`): left exactly as they are. */
  existing: InstanceRecord[];
}

/** Writes each instance (with its slug and an audit record) unless it already exists. */
export async function seedInstances(store: StateStore, specs: readonly InstanceSpec[], now: Date): Promise<SeedResult> {
  const result: SeedResult = { created: [], existing: [] };
  for (const spec of specs) {
    const record = seedRecord(spec, now);
    // One transaction per instance: a check then a create, so a second `mi dev` racing this
    // one cannot overwrite an instance an operation has already changed.
    const existing = await store.transaction(async (tx) => {
      const found = await tx.get<InstanceRecord>(paths.instance(record.id));
      if (found !== undefined) return found;
      tx.create(paths.instance(record.id), record);
      tx.set(paths.slug(record.environment, record.slug), { instanceId: record.id });
      appendAudit(
        tx,
        {
          actor: SEED_ACTOR,
          action: 'instance.seeded',
          instanceId: record.id,
          operationId: null,
          before: null,
          after: { status: record.status, version: record.version, generation: record.generation },
          causeEventId: null,
        },
        now,
      );
      return undefined;
    });
    if (existing === undefined) result.created.push(record);
    else result.existing.push(existing);
  }
  return result;
}

/**
 * Gives every instance Firestore knows (seeded now, earlier, or created since) its Cloud SQL
 * instance and backup plan in the simulators, unless they hold them already (`known`, kept with
 * the simulators' state by cli/dev/fleet-state.ts). Returns the ids it added.
 */
export async function mirrorInstancesInFleet(store: StateStore, fleet: SimulatedFleet, known: Set<string>): Promise<string[]> {
  const instances = await store.query<InstanceRecord>({ collection: COLLECTIONS.instances });
  const added: string[] = [];
  for (const { data } of instances) {
    if (data.status === 'deleted' || known.has(data.id)) continue;
    // Kept by an earlier `mi dev` (cli/dev/fleet-state.ts), or provisioned since by the executor: already there.
    const existing = resourceNamesFor(data.id, data.region);
    if (fleet.cloudSql.hasInstance(existing.project, existing.sqlInstance)) {
      known.add(data.id);
      continue;
    }
    // A prod instance's stack keeps its database protected from deletion, as the real ones do.
    const names = fleet.seedInstance({ instanceId: data.id, region: data.region, deletionProtection: data.environment === 'prod', application: { domain: data.domain, version: data.version } });
    seedDailyBackups(fleet, names);
    known.add(data.id);
    added.push(data.id);
  }
  return added;
}

/**
 * A week of the daily backups the real schedules would have taken, so a compliance run on
 * the local fleet passes for healthy instances instead of reporting every backup as missing.
 */
function seedDailyBackups(fleet: SimulatedFleet, names: InstanceResources): void {
  const now = fleet.clock.now().getTime();
  const days = Array.from({ length: 7 }, (_, day) => now - day * DAY_MS - 3_600_000);
  fleet.cloudSql.seedAutomatedBackups(
    names.project,
    names.sqlInstance,
    days.map((end) => ({ startTime: new Date(end - 600_000).toISOString(), endTime: new Date(end).toISOString() })),
  );
  fleet.gkeBackup.seedBackups(
    names.backupPlan,
    days.map((end) => ({ createTime: new Date(end - 900_000).toISOString(), completeTime: new Date(end).toISOString(), state: 'SUCCEEDED' as const })),
  );
}

/**
 * The fleet of `mi dev`: Firestore first (seeded unless `seed` is false), then the simulators
 * for every instance Firestore holds, before any push can deliver work on them.
 */
export async function seedLocalFleet(store: StateStore, fleet: SimulatedFleet, seed: boolean, log: (line: string) => void, known: Set<string> = new Set()): Promise<SeedResult | undefined> {
  let seeded: SeedResult | undefined;
  if (seed) {
    seeded = await seedInstances(store, localFleetSpecs(fleet.clock.now()), fleet.clock.now());
    log(`seeded ${seeded.created.length} instances; ${seeded.existing.length} were already there`);
  }
  const mirrored = await mirrorInstancesInFleet(store, fleet, known);
  log(`simulated Cloud SQL and GKE backup plans for ${mirrored.length} more instances (${known.size} in all)`);
  return seeded;
}

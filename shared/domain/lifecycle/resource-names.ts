/**
 * How an instance's Google Cloud resources are named. The simulated fleet, the local stack
 * and the create operation all use these functions, so a name is derived in one place.
 */
import { createHash } from 'node:crypto';
import type { InstanceResources } from '../../events/index.js';

/** GCP project ids: 6-30 characters, a letter first, no hyphen last. */
const PROJECT_ID_MIN = 6;
const PROJECT_ID_MAX = 30;

/** Backups are kept in another region of the same geography, so a regional outage spares them. */
const BACKUP_REGION: Readonly<Record<string, string>> = {
  'us-central1': 'us-east1',
  'us-east1': 'us-central1',
  'us-east4': 'us-central1',
  'us-west1': 'us-west2',
  'us-west2': 'us-west1',
  'northamerica-northeast1': 'northamerica-northeast2',
  'northamerica-northeast2': 'northamerica-northeast1',
  'europe-west1': 'europe-west4',
  'europe-west4': 'europe-west1',
  'europe-west2': 'europe-west1',
  'europe-west3': 'europe-west4',
  'asia-northeast1': 'asia-northeast2',
  'asia-northeast2': 'asia-northeast1',
  'asia-southeast1': 'asia-southeast2',
  'australia-southeast1': 'australia-southeast2',
};

/**
 * The project of an instance: `mi-<id>`; a hash of the id is added when that would be too
 * short or cut to fit when too long, so distinct ids keep distinct projects.
 */
export function projectIdFor(instanceId: string): string {
  const plain = `mi-${instanceId}`;
  if (plain.length >= PROJECT_ID_MIN && plain.length <= PROJECT_ID_MAX) return plain;
  const hash = createHash('sha256').update(instanceId).digest('hex').slice(0, 6);
  const head = plain.slice(0, PROJECT_ID_MAX - hash.length - 1).replace(/-+$/, '');
  return `${head}-${hash}`;
}

/** The region that holds an instance's GKE backups: never the instance's own. */
export function backupRegionFor(region: string): string {
  const paired = BACKUP_REGION[region];
  if (paired !== undefined) return paired;
  return region === 'us-central1' ? 'us-east1' : 'us-central1';
}

/** Every resource name of an instance, in the shape its record stores them. */
export function resourceNamesFor(instanceId: string, region: string): InstanceResources {
  const project = projectIdFor(instanceId);
  const backupPlanRegion = backupRegionFor(region);
  return {
    project,
    sqlInstance: `${instanceId}-db`,
    gkeCluster: `projects/${project}/locations/${region}/clusters/${instanceId}`,
    backupPlan: `projects/${project}/locations/${backupPlanRegion}/backupPlans/${instanceId}-daily`,
    backupPlanRegion,
  };
}

/** Where final GKE backups of deleted instances live: a plan in the central backup project (cross-project backup), which deleting the instance's project does not remove. */
export function finalBackupPlanFor(instanceId: string, region: string, centralProject: string): { parent: string; backupPlanId: string; name: string } {
  const location = backupRegionFor(region);
  const backupPlanId = `${instanceId}-final`.slice(0, 63).replace(/-+$/, '');
  const parent = `projects/${centralProject}/locations/${location}`;
  return { parent, backupPlanId, name: `${parent}/backupPlans/${backupPlanId}` };
}

/**
 * The backup channel that lets the clusters of an instance's project and region be backed up
 * into the central backup project (where its final GKE backup goes): one per project and region.
 */
export function backupChannelFor(project: string, region: string, centralProject: string): { parent: string; backupChannelId: string; name: string; destinationProject: string } {
  const parent = `projects/${project}/locations/${region}`;
  const backupChannelId = 'mi-final-backups';
  return { parent, backupChannelId, name: `${parent}/backupChannels/${backupChannelId}`, destinationProject: `projects/${centralProject}` };
}

/** The resources of an instance rebuilt in another region by disaster recovery. */
export function recoveredResourcesFor(instanceId: string, targetRegion: string, project: string, key: string): InstanceResources {
  const backupPlanRegion = backupRegionFor(targetRegion);
  const suffix = createHash('sha256').update(key).digest('hex').slice(0, 6);
  return {
    project,
    sqlInstance: `${instanceId}-${targetRegion}-${suffix}`.slice(0, 90),
    gkeCluster: `projects/${project}/locations/${targetRegion}/clusters/${instanceId}-${suffix}`,
    backupPlan: `projects/${project}/locations/${backupPlanRegion}/backupPlans/${instanceId}-${suffix}-daily`,
    backupPlanRegion,
  };
}

/** True when the control plane knows where to keep this region's backups (a region it supports). */
export function isSupportedRegion(region: string): boolean {
  return Object.hasOwn(BACKUP_REGION, region);
}

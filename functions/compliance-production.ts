/**
 * The compliance functions in the cloud: Firestore, Pub/Sub, Cloud SQL, Backup for GKE and
 * Cloud Scheduler adapters, configured from the environment, validated before anything runs.
 */
import { z } from 'zod';
import { createCompliance, type Compliance } from '../shared/compliance/index.js';
import { jsonLogger } from '../shared/log.js';
import { systemClock } from '../shared/ports.js';

export const complianceEnvironmentSchema = z.object({
  GOOGLE_CLOUD_PROJECT: z.string({ error: 'GOOGLE_CLOUD_PROJECT is missing: the project that holds Firestore, the topics and the scheduler jobs' }).min(1),
  MI_SCHEDULER_LOCATION: z
    .string({ error: 'MI_SCHEDULER_LOCATION is missing: the region of the Cloud Scheduler jobs (such as us-central1)' })
    .regex(/^[a-z]+-[a-z]+[1-9][0-9]?$/, { error: 'MI_SCHEDULER_LOCATION: expected a region such as us-central1' }),
});

/** Reads and checks the environment; the error lists every variable at fault. */
export function readComplianceEnvironment(env: NodeJS.ProcessEnv): z.infer<typeof complianceEnvironmentSchema> {
  const parsed = complianceEnvironmentSchema.safeParse(env);
  if (!parsed.success) throw new Error(`cannot start: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  return parsed.data;
}

/** Builds the compliance wiring on the real services; clients load lazily. */
export async function buildProductionCompliance(env: NodeJS.ProcessEnv = process.env): Promise<Compliance> {
  const config = readComplianceEnvironment(env);
  const [{ PubSub }, { createFirestore, createFirestoreStore }, { createPubSubBus }, { createCloudSqlAdapter }, { createGkeBackupAdapter }, { createSchedulerAdapter }] = await Promise.all([
    import('@google-cloud/pubsub'),
    import('../shared/gcp/firestore-store.js'),
    import('../shared/gcp/pubsub-bus.js'),
    import('../shared/gcp/cloud-sql.js'),
    import('../shared/gcp/gke-backup.js'),
    import('../shared/gcp/scheduler.js'),
  ]);
  return createCompliance({
    store: createFirestoreStore({ firestore: createFirestore(config.GOOGLE_CLOUD_PROJECT) }),
    bus: createPubSubBus({ pubsub: new PubSub({ projectId: config.GOOGLE_CLOUD_PROJECT }) }),
    cloudSql: createCloudSqlAdapter(),
    gkeBackup: createGkeBackupAdapter(),
    scheduler: createSchedulerAdapter(),
    clock: systemClock,
    log: jsonLogger(),
    schedulerParent: `projects/${config.GOOGLE_CLOUD_PROJECT}/locations/${config.MI_SCHEDULER_LOCATION}`,
  });
}

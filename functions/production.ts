/**
 * How the functions are wired in the cloud: Firestore, Pub/Sub and the Google Cloud adapters,
 * configured from the environment the infrastructure sets, validated before anything runs.
 */
import { z } from 'zod';
import { DEFAULT_POLICY } from '../shared/domain/lifecycle/acceptance.js';
import { createEngine, type Engine } from '../shared/engine/index.js';
import { createOnceOutbox } from '../shared/store/outbox.js';
import { createGoogleIdentity, googleJwks } from '../shared/identity/index.js';
import { jsonLogger } from '../shared/log.js';
import { systemClock } from '../shared/ports.js';
import type { ApprovalDeps } from './approvals.js';
import { approverOf, engine } from './wiring.js';

export const productionEnvironmentSchema = z.object({
  GOOGLE_CLOUD_PROJECT: z.string({ error: 'GOOGLE_CLOUD_PROJECT is missing: the project that holds Firestore and the topics' }).min(1),
  MI_EXECUTOR_STATUS_URL: z.url({ error: 'MI_EXECUTOR_STATUS_URL is missing or not a URL: where the executor answers GET /runs/<key>' }),
  MI_CENTRAL_BACKUP_PROJECT: z
    .string({ error: "MI_CENTRAL_BACKUP_PROJECT is missing: the project that keeps deleted instances' final GKE backups" })
    .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, { error: 'MI_CENTRAL_BACKUP_PROJECT: expected a project id' }),
});
export type ProductionEnvironment = z.infer<typeof productionEnvironmentSchema>;

/** Reads and checks the environment; the error lists every variable at fault. */
export function readProductionEnvironment(env: NodeJS.ProcessEnv): ProductionEnvironment {
  const parsed = productionEnvironmentSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`cannot start: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  }
  return parsed.data;
}

/** Builds the engine on the real services; clients load lazily so each function pays only for its own cold start. */
export async function buildProductionEngine(env: NodeJS.ProcessEnv = process.env): Promise<Engine> {
  const config = readProductionEnvironment(env);
  const [{ PubSub }, { createFirestore, createFirestoreStore }, { createPubSubBus }, { createCloudSqlAdapter }, { createGkeBackupAdapter }, { createExecutorAdapter }] =
    await Promise.all([
      import('@google-cloud/pubsub'),
      import('../shared/gcp/firestore-store.js'),
      import('../shared/gcp/pubsub-bus.js'),
      import('../shared/gcp/cloud-sql.js'),
      import('../shared/gcp/gke-backup.js'),
      import('../shared/gcp/executor.js'),
    ]);
  const bus = createPubSubBus({ pubsub: new PubSub({ projectId: config.GOOGLE_CLOUD_PROJECT }) });
  const store = createFirestoreStore({ firestore: createFirestore(config.GOOGLE_CLOUD_PROJECT) });
  const log = jsonLogger();
  return createEngine({
    store,
    bus,
    cloudSql: createCloudSqlAdapter(),
    gkeBackup: createGkeBackupAdapter(),
    executor: createExecutorAdapter({ outbox: createOnceOutbox({ store, bus, clock: systemClock, log }), statusUrl: config.MI_EXECUTOR_STATUS_URL }),
    clock: systemClock,
    log,
    policy: { ...DEFAULT_POLICY, centralBackupProject: config.MI_CENTRAL_BACKUP_PROJECT },
  });
}

/** The approvals function needs, on top of the engine, the audience its callers' ID tokens are for. */
export const approvalsEnvironmentSchema = z.object({
  MI_APPROVALS_AUDIENCE: z
    .string({ error: 'MI_APPROVALS_AUDIENCE is missing: the audience of approvers\' ID tokens (the approvals function\'s URL)' })
    .trim()
    .min(1, { error: 'MI_APPROVALS_AUDIENCE is empty: the audience of approvers\' ID tokens (the approvals function\'s URL)' }),
});
export type ApprovalsEnvironment = z.infer<typeof approvalsEnvironmentSchema>;

/** Reads and checks the approvals function's own environment. */
export function readApprovalsEnvironment(env: NodeJS.ProcessEnv): ApprovalsEnvironment {
  const parsed = approvalsEnvironmentSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`cannot start: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  }
  return parsed.data;
}

/** The approvals function in the cloud: Google's ID-token keys, the audience from the environment, the engine as approver. */
export async function buildProductionApprovals(env: NodeJS.ProcessEnv = process.env): Promise<ApprovalDeps> {
  const config = readApprovalsEnvironment(env);
  return {
    identity: createGoogleIdentity({ keys: googleJwks() }),
    approver: approverOf(await engine()),
    audience: config.MI_APPROVALS_AUDIENCE,
  };
}

/**
 * The simulated part of the local stack: Cloud SQL, Backup for GKE, Cloud Scheduler and the
 * executor, in process with durations of seconds, and the executor's runner on its real topics.
 */
import type { PubSub } from '@google-cloud/pubsub';
import { describeError } from '../../shared/errors.js';
import { systemClock } from '../../shared/ports.js';
import type { InstanceRecord } from '../../shared/events/index.js';
import type { StateStore } from '../../shared/ports.js';
import { serveApplications } from '../../shared/sim/applications-http.js';
import { createFaultControl } from '../../shared/sim/fault-control.js';
import { serveFaults } from '../../shared/sim/faults-http.js';
import { COLLECTIONS } from '../../shared/store/collections.js';
import { serveCloudBuild } from '../../shared/sim/cloud-build-http.js';
import { serveStorage } from '../../shared/sim/storage-http.js';
import { SimulatedFirestoreAdmin } from '../../shared/sim/firestore-admin.js';
import { serveFirestoreAdmin } from '../../shared/sim/firestore-admin-http.js';
import { startExecutorRunner } from '../../shared/sim/executor-runner.js';
import { TOPICS } from '../../shared/topology.js';
import { createSimulatedFleet, type SimulatedFleet } from '../../shared/sim/index.js';
import type { UndoStack } from './undo.js';

/**
 * Simulated durations: realistic in shape (queued, then running, then done) but seconds long,
 * so an upgrade (two backups, then the executor's run) finishes well under a minute, and a
 * restore drill (a throwaway instance, a restore into it, its delete), which leases its
 * instance, does not hold a rollout up for ten minutes.
 */
export const LOCAL_DURATIONS = {
  sql: { backupEnqueuedMs: 1_000, backupRunMs: 3_000, deleteMs: 5_000, operationQueuedMs: 500, createMs: 8_000, patchMs: 2_000, restoreMs: 6_000 },
  gke: { creatingMs: 1_000, inProgressMs: 4_000, restoreCreatingMs: 1_000, restoreInProgressMs: 6_000 },
  executor: { queuedMs: 1_000, defaultDurationMs: 5_000 },
  cloudBuild: { queuedMs: 1_000, stepMs: 1_500 },
  applications: { warmupMs: 3_000, latencyMs: 30 },
} as const;

/** How often the simulated executor's runner looks for finished runs to publish. */
const RUNNER_INTERVAL_MS = 1_000;

/** The simulated fleet of a project, on the system clock and the local durations. */
export function createLocalFleet(projectId: string): SimulatedFleet {
  return createSimulatedFleet({
    clock: systemClock,
    sqlDurations: LOCAL_DURATIONS.sql,
    gkeDurations: LOCAL_DURATIONS.gke,
    executor: LOCAL_DURATIONS.executor,
    cloudBuild: LOCAL_DURATIONS.cloudBuild,
    applications: LOCAL_DURATIONS.applications,
    scheduler: { project: projectId, location: 'us-central1' },
  });
}

/** The simulated executor, listening on its real topics (stopped on stop). */
export async function runSimulatedExecutor(admin: PubSub, fleet: SimulatedFleet, undo: UndoStack, log: (line: string) => void): Promise<void> {
  const runner = await startExecutorRunner({
    pubsub: admin,
    executor: fleet.executor,
    intervalMs: RUNNER_INTERVAL_MS,
    onError: (error, context) => log(`executor sim: ${context}: ${describeError(error)}`),
  });
  undo.push('stop the executor runner', () => runner.stop());
}

/** How often the simulated Cloud Build publishes its builds' status changes. */
const NOTIFY_INTERVAL_MS = 1_000;

/**
 * The simulated Cloud Build over HTTP (the executor's adapter calls it there, as it calls Google),
 * publishing every status change on `cloud-builds` as Cloud Build does. Returns its URL.
 */
export async function runSimulatedCloudBuild(admin: PubSub, fleet: SimulatedFleet, undo: UndoStack, log: (line: string) => void): Promise<string> {
  const server = await serveCloudBuild(fleet.cloudBuild);
  undo.push('stop the simulated Cloud Build', () => server.close());
  const topic = admin.topic(TOPICS.buildNotifications);
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    fleet.cloudBuild
      .notifyDue(async (n) => {
        await topic.publishMessage({ data: Buffer.from(n.data, 'base64'), attributes: n.attributes });
      })
      .catch((error: unknown) => log(`cloud build sim: publishing a notification: ${describeError(error)} (published again next time)`))
      .finally(() => {
        busy = false;
      });
  }, NOTIFY_INTERVAL_MS);
  undo.push('stop the Cloud Build notifications', () => {
    clearInterval(timer);
    return Promise.resolve();
  });
  return server.url;
}

/** The plans buckets on Cloud Storage's JSON API paths: the commands function reads saved plans there with the production reader. Returns its URL. */
export async function runSimulatedStorage(fleet: SimulatedFleet, undo: UndoStack): Promise<string> {
  const server = await serveStorage(fleet.plans);
  undo.push('stop the simulated plans buckets', () => server.close());
  return server.url;
}

/**
 * The instances' applications over HTTP: the health gates probe them with the production
 * probe, as they would probe https://<domain>. Returns the MI_HEALTH_URL template that reaches them.
 */
export async function runSimulatedApplications(fleet: SimulatedFleet, undo: UndoStack): Promise<string> {
  const server = await serveApplications(fleet.applications);
  undo.push('stop the simulated applications', () => server.close());
  return server.urlTemplate;
}

/**
 * The fleet's fault control over HTTP (`mi dev fault` reaches it there), for the instances the
 * control plane records; each change is kept (`changed`) before it is answered. Returns its URL.
 */
export async function runSimulatedFaults(fleet: SimulatedFleet, store: StateStore, changed: () => Promise<void>, undo: UndoStack): Promise<string> {
  const targets = async () =>
    (await store.query<InstanceRecord>({ collection: COLLECTIONS.instances }))
      .map(({ data }) => data)
      .filter((instance) => instance.status !== 'deleted')
      .map((instance) => ({ id: instance.id, region: instance.region, domain: instance.domain }));
  const server = await serveFaults(createFaultControl(fleet, targets), { changed });
  undo.push('stop the fault control', () => server.close());
  return server.url;
}

/**
 * The Firestore Admin API of the local project on the emulator: its backup schedule takes the
 * first backup two minutes after the stack starts (the seeded fleet's records settled by then)
 * and one every half hour (daily in the cloud), so the weekly drill of the control plane's
 * database has a backup to restore at the next quarter hour.
 */
export async function runSimulatedFirestoreAdmin(projectId: string, emulatorHost: string, undo: UndoStack, log: (line: string) => void): Promise<string> {
  const sim = new SimulatedFirestoreAdmin({ emulatorHost, project: projectId, firstBackupAfterMs: 2 * 60_000, backupEveryMs: 30 * 60_000, readyAfterMs: 30_000, restoreMs: 20_000 });
  const server = await serveFirestoreAdmin(sim);
  const timer = setInterval(() => {
    sim.runSchedule().catch((error: unknown) => log(`simulated Firestore backups: ${error instanceof Error ? error.message : String(error)}`));
  }, 15_000);
  undo.push('stop the simulated Firestore Admin API', () => {
    clearInterval(timer);
    return server.close();
  });
  return server.url;
}

/**
 * `mi dev`: the whole control plane on one machine. The Firestore and Pub/Sub emulators (started
 * here, or running ones reused), the topology's topics and push subscriptions, every function
 * served by the functions framework on 127.0.0.1 and fed by those subscriptions as in the
 * cloud, the schedules on a local clock, the simulated executor on its real topics, and a
 * seeded simulated fleet. The functions run the same engine as in Cloud Functions, on the
 * Firestore and Pub/Sub adapters; only Cloud SQL, Backup for GKE and the executor are simulated.
 *
 * This file starts the pieces in order and stops them in reverse; each piece is a small file
 * of cli/dev/: clients.ts (emulators and clients), fleet.ts (the simulators and the executor's
 * runner), fleet-state.ts (the simulators' state, kept in the emulator), seed.ts (the seeded fleet), services.ts (the composition root on local ports),
 * local-identity.ts (the signer and the file `mi` reads), push.ts (the functions
 * server and the push subscriptions), schedules.ts (the local clock), describe.ts (what
 * `mi dev` prints), undo.ts (what stop undoes).
 */
import { LOCAL_PROJECT_ID } from '../config.js';
import { ensureTopics } from '../../shared/gcp/pubsub-admin.js';
import { createLocalSigner } from '../../shared/identity/index.js';
import { systemClock } from '../../shared/ports.js';
import { allTopics } from '../../shared/topology.js';
import { useEmulators, openClients } from './clients.js';
import { localDeployments } from './deployments.js';
import { describeStack } from './describe.js';
import { keepFleetState } from './fleet-state.js';
import { createLocalFleet, runSimulatedFaults, runSimulatedApplications, runSimulatedCloudBuild, runSimulatedFirestoreAdmin, runSimulatedStorage } from './fleet.js';
import { leaveIdentityFile } from './local-identity.js';
import { EVIDENCE_RETENTION_DAYS, evidenceBucketName } from '../../shared/domain/compliance/anchor.js';
import { startLocalAccess } from './access.js';
import { pushToServer, serveEveryFunction } from './push.js';
import { runSchedules } from './schedules.js';
import { LOCAL_SOAK_SCALE, LOCAL_WINDOW_CLOCK, localSchedules } from './local-time.js';
import { identityFilePath } from './identity-file.js';
import { localFleetSpecs, seedLocalFleet } from './seed.js';
import { lineLogger, useLocalServices } from './services.js';
import { runNotificationStandIns } from './notifications.js';
import type { LocalStack, LocalStackOptions } from './stack-types.js';
import { createUndoStack } from './undo.js';

export type { LocalStack, LocalStackOptions } from './stack-types.js';
// test/integration/rights/exercise.ts drives the functions with local mode's executor.
export { executorOnTopics } from './services.js';

/** Starts the whole system on this machine; `stop()` undoes exactly what it did. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const projectId = options.projectId ?? LOCAL_PROJECT_ID;
  const log = options.log ?? (() => {});
  // Undone in reverse order by stop(), and by a failed start.
  const undo = createUndoStack(log);

  try {
    // 1. Emulators, and the variables the clients of this process read.
    const emulators = await useEmulators(options, undo, log);

    // 2. Clients.
    const { store, admin, bus } = openClients(projectId, undo);
    const topics = allTopics();
    await ensureTopics(admin, topics);

    // 3. The simulated fleet, the deployment repository, and every function registered.
    const fleet = createLocalFleet(projectId);
    const engineLog = lineLogger(log);
    const schedulerParent = `projects/${projectId}/locations/us-central1`;
    const deployments = await localDeployments({ log: engineLog });
    log(`githubWebhook: deployment repository ${deployments.repoPath} (git), webhook secret ${deployments.webhookSecret}`);
    // Registers every function with the framework (once per process; later imports are cached).
    await import('../../functions/index.js');

    // 4. The fleet: Firestore first, then the simulators (as an earlier `mi dev` left them, see
    // fleet-state.ts: a crash mid-operation leaves it in the emulator) for every instance Firestore
    // holds, before any push can deliver work on them.
    const kept = await keepFleetState({ projectId, fleet, log }, undo);
    const seeded = await seedLocalFleet(store, fleet, options.seed ?? true, log, kept.mirrored);
    await kept.save();
    // From here on every simulator answer waits until the change it made is kept.
    fleet.observe(kept.save);
    // The repository is every environment's source of truth: the seeded instances get their config.yaml.
    if (seeded !== undefined) {
      const configs = await deployments.seedConfigs([...seeded.created, ...seeded.existing]);
      if (configs > 0) log(`deployment repository: committed config.yaml of ${configs} seeded instances`);
    }

    // 5. The executor: the simulated Cloud Build over HTTP, its notifications on cloud-builds.
    const cloudBuildUrl = await runSimulatedCloudBuild(admin, fleet, undo, log);
    const healthUrl = await runSimulatedApplications(fleet, undo);
    const plansUrl = await runSimulatedStorage(fleet, undo);
    // The evidence bucket's retention is locked, as infra/evidence.ts declares it.
    fleet.plans.lockRetention(evidenceBucketName(projectId), EVIDENCE_RETENTION_DAYS);
    const firestoreAdminUrl = await runSimulatedFirestoreAdmin(projectId, emulators.firestore.host, undo, log);
    const faultsUrl = await runSimulatedFaults(fleet, store, kept.save, undo);

    // 6. Every function on 127.0.0.1, on the services of the simulated fleet. `mi` in
    // another terminal signs with the same local key, which it finds in the identity file.
    const server = await serveEveryFunction(options.functionsPort, undo, log);
    const commandsUrl = server.routes.commands ?? `${server.url}/commands`;
    deployments.deliverPushesTo(server.routes.githubWebhook ?? `${server.url}/githubWebhook`);
    const signer = await createLocalSigner();
    const access = await startLocalAccess(systemClock, signer, undo, log);
    const notifications = await runNotificationStandIns(undo, log, localFleetSpecs(new Date()).flatMap((s) => (s.owner === undefined ? [] : [s.owner])));
    const services = useLocalServices({ store, bus, fleet, log: engineLog, deployments, signer, schedulerParent, commandsUrl, access, cloudBuildUrl, healthUrl, plansUrl, firestoreAdminUrl, notifications });
    const identityFile = await leaveIdentityFile(options.identityFile, { functionsUrl: server.url, commandsUrl, signer, projectId, access: { url: access.url, entitlements: access.entitlements }, faultsUrl, storageUrl: plansUrl, soakScale: LOCAL_SOAK_SCALE, windowClock: LOCAL_WINDOW_CLOCK }, undo, log);

    // 7. The push subscriptions, exactly as the topology describes them, pointed at the server.
    const subscriptions = await pushToServer(admin, server, { projectId, ownsEmulator: emulators.pubsub.owned }, undo);

    // 8. The schedules, on the local clock.
    const schedules = localSchedules();
    runSchedules({ admin, server, fleet, schedulerParent, schedules, speedup: options.scheduleSpeedup }, undo, log);

    return {
      projectId,
      firestoreHost: emulators.firestore.host,
      pubsubHost: emulators.pubsub.host,
      functionsUrl: server.url,
      cloudBuildUrl,
      healthUrl,
      plansUrl,
      firestoreAdminUrl,
      faultsUrl,
      fleet,
      engine: services.engine,
      routes: server.routes,
      commandsUrl,
      signer,
      access,
      identityFile,
      topics,
      subscriptions,
      schedules,
      seeded,
      startedEmulators: [emulators.firestore, emulators.pubsub].filter((e) => e.owned).map((e) => e.kind),
      functionStats: () => server.stats(),
      stop: () => undo.stop(),
    };
  } catch (error) {
    await undo.stop();
    throw error;
  }
}

/** `mi dev`: starts the stack, prints how to use it, and stops it cleanly on SIGINT or SIGTERM. */
export async function runDev(options: { projectId?: string; seed?: boolean; port?: number } = {}): Promise<void> {
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const log = (line: string) => print(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
  print('mi dev: starting the emulators, topics, functions, executor and fleet...');
  const stack = await startLocalStack({
    ...(options.projectId === undefined ? {} : { projectId: options.projectId }),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.port === undefined ? {} : { functionsPort: options.port }),
    // Where `mi` looks for it (MI_DEV_IDENTITY_FILE, or .mi-dev/identity.json).
    identityFile: identityFilePath(process.env),
    log,
  });
  for (const line of describeStack(stack)) print(line);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (received: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(received);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  // A second Ctrl-C while stopping means "now": the emulators module kills what it started on exit.
  const force = () => process.exit(130);
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  print(`\nmi dev: ${signal}, stopping...`);
  await stack.stop();
  process.off('SIGINT', force);
  process.off('SIGTERM', force);
  print('mi dev: stopped');
  process.exitCode = 0;
  // Everything is closed, so the process should end by itself; if a client library still holds
  // a handle, end anyway rather than hang after the user asked to stop.
  setTimeout(() => {
    process.stderr.write(`mi dev: something still held the process open after stopping (${process.getActiveResourcesInfo().join(', ')}); exiting anyway\n`);
    process.exit(0);
  }, 3_000).unref();
}

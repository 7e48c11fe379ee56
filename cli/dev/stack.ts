/**
 * `mi dev`: the whole control plane on one machine. The Firestore and Pub/Sub emulators (started
 * here, or running ones reused), the topology's topics and push subscriptions, every function
 * served by the functions framework on 127.0.0.1 and fed by those subscriptions as in the
 * cloud, the schedules on a local clock, the simulated executor on its real topics, and a
 * seeded simulated fleet. The functions run the same engine as in Cloud Functions, on the
 * Firestore and Pub/Sub adapters; only Cloud SQL, Backup for GKE and the executor are simulated.
 */
import { fileURLToPath } from 'node:url';
import { PubSub } from '@google-cloud/pubsub';
import { LOCAL_PROJECT_ID } from '../config.js';
import { DEFAULT_TIMINGS, type EngineTimings } from '../../shared/domain/lifecycle/operations.js';
import type { Engine } from '../../shared/engine/index.js';
import { createOnceOutbox } from '../../shared/store/outbox.js';
import { describeError } from '../../shared/errors.js';
import { createExecutorAdapter } from '../../shared/gcp/executor.js';
import { createFirestore, createFirestoreStore } from '../../shared/gcp/firestore-store.js';
import { ensurePushSubscription, ensureTopics } from '../../shared/gcp/pubsub-admin.js';
import { createPubSubBus } from '../../shared/gcp/pubsub-bus.js';
import { createLocalSigner, localIdentity, type LocalSigner } from '../../shared/identity/index.js';
import type { Logger } from '../../shared/log.js';
import { systemClock, type ExecutorPort, type OnceOutbox } from '../../shared/ports.js';
import { startExecutorRunner, DEFAULT_RUNNER_SUBSCRIPTION } from '../../shared/sim/executor-runner.js';
import { createSimulatedFleet, type SimulatedExecutor, type SimulatedFleet } from '../../shared/sim/index.js';
import { FUNCTIONS, SCHEDULES, SUBSCRIPTIONS, TOPICS, allTopics, type Schedule } from '../../shared/topology.js';
import { useServices } from '../../functions/wiring.js';
import { createServices } from '../../shared/services.js';
import { EMULATOR_HOST_VARIABLE, ensureEmulator, isEmulatorUp, type EmulatorKind, type RunningEmulator } from './emulators.js';
import { serveFunctions, type FunctionStats } from './functions-server.js';
import { localDeployments } from './deployments.js';
import { DEFAULT_IDENTITY_FILE, removeIdentityFile, writeIdentityFile } from './identity-file.js';
import { startLocalClock } from './local-clock.js';
import { localFleetSpecs, mirrorInstancesInFleet, seedInstances, type SeedResult } from './seed.js';

/**
 * Engine timings for local mode: steps polled every 2 s (the cloud polls every 30 s) and
 * claims that expire after 30 s, so a crashed step is taken up again while someone watches.
 */
export const LOCAL_TIMINGS: EngineTimings = {
  ...DEFAULT_TIMINGS,
  claimMs: 30_000,
  pollMs: 2_000,
  backoffMs: 2_000,
  maxBackoffMs: 30_000,
};

/**
 * Simulated durations: realistic in shape (queued, then running, then done) but seconds long,
 * so an upgrade (two backups, then the executor's run) finishes well under a minute.
 */
export const LOCAL_DURATIONS = {
  sql: { backupEnqueuedMs: 1_000, backupRunMs: 3_000, deleteMs: 5_000 },
  gke: { creatingMs: 1_000, inProgressMs: 4_000 },
  executor: { queuedMs: 1_000, defaultDurationMs: 5_000 },
} as const;

/** How often the simulated executor's runner looks for finished runs to publish. */
const RUNNER_INTERVAL_MS = 1_000;

export interface LocalStackOptions {
  /** Default: LOCAL_PROJECT_ID (`demo-…`, so no client ever reaches a real project). */
  projectId?: string;
  /** Seed the simulated fleet (default true; never overwrites instances that exist). */
  seed?: boolean;
  /** Use the Firestore emulator there (it must answer) instead of FIRESTORE_EMULATOR_HOST or a new one. */
  firestoreHost?: string;
  /** Use the Pub/Sub emulator there (it must answer) instead of PUBSUB_EMULATOR_HOST or a new one. */
  pubsubHost?: string;
  /** How much faster the local clock runs than each schedule's `localEverySeconds` (default 1). */
  scheduleSpeedup?: number;
  /** Where the stack's own lines go (deliveries, engine warnings, the executor); default nowhere. */
  log?: (line: string) => void;
  /** Port of the functions server on 127.0.0.1; default 0, a free one. */
  functionsPort?: number;
  /**
   * Where to leave the local identity (signing key, approvals URL) for `mi approve`; default
   * `.mi-dev/identity.json` in the repository; false: nowhere (tests that sign their own tokens).
   */
  identityFile?: string | false;
}

export interface LocalStack {
  projectId: string;
  firestoreHost: string;
  pubsubHost: string;
  /** `http://127.0.0.1:<port>`; each function is at `<functionsUrl>/<name>`. */
  functionsUrl: string;
  fleet: SimulatedFleet;
  engine: Engine;
  /** Each function's route. */
  routes: Readonly<Record<string, string>>;
  /** Where `mi approve` posts; ID tokens must be for this audience (the URL itself, as in the cloud). */
  approvalsUrl: string;
  /** Signs ID tokens the approvals function accepts: local mode's identity provider. */
  signer: LocalSigner;
  /** The file `mi approve` reads, or undefined when asked to write none. */
  identityFile: string | undefined;
  topics: readonly string[];
  subscriptions: ReadonlyArray<{ name: string; topic: string; pushEndpoint: string; maxDeliveryAttempts: number; deadLetterTopic: string }>;
  /** What seeding did; undefined when asked not to seed. */
  seeded: SeedResult | undefined;
  /** Which emulators this stack started (and will stop) rather than reused. */
  startedEmulators: readonly EmulatorKind[];
  /** Requests each function has answered so far. */
  functionStats(): Record<string, FunctionStats>;
  /** Stops what this stack started, in reverse order; safe to call twice. */
  stop(): Promise<void>;
}

/** Uses the emulator at `host` (which must answer), or the configured or a new one. */
async function emulator(kind: EmulatorKind, host: string | undefined): Promise<RunningEmulator> {
  if (host === undefined) return ensureEmulator(kind);
  if (!(await isEmulatorUp(host))) {
    throw new Error(`No ${kind} emulator answers on ${host}: start one there, or leave the host out and mi dev starts its own`);
  }
  return { kind, host, owned: false, stop: async () => {} };
}

/** Engine log lines for a person watching a terminal, rather than Cloud Logging's JSON. */
function lineLogger(write: (line: string) => void): Logger {
  const fields = (f: Record<string, unknown> | undefined) => (f === undefined || Object.keys(f).length === 0 ? '' : ` ${JSON.stringify(f)}`);
  return {
    info: (message, f) => write(`engine: ${message}${fields(f)}`),
    warn: (message, f) => write(`engine: warning: ${message}${fields(f)}`),
    error: (message, error, f) => write(`engine: error: ${message}: ${describeError(error)}${fields(f)}`),
  };
}

/**
 * The executor as the control plane sees it locally: runs are asked for on the real
 * `mi-executor-requests` topic (the production adapter's publish), where the simulated runner
 * listens; a run's status, which the real runner serves over HTTP, is read from the
 * simulator in process.
 */
export function executorOnTopics(outbox: OnceOutbox, simulated: Pick<SimulatedExecutor, 'getRunStatus'>): ExecutorPort {
  const adapter = createExecutorAdapter({ outbox, statusUrl: 'http://127.0.0.1/unused-in-local-mode' });
  return {
    requestRun: (request) => adapter.requestRun(request),
    getRunStatus: (runKey) => simulated.getRunStatus(runKey),
  };
}

/** Starts the whole system on this machine; `stop()` undoes exactly what it did. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const projectId = options.projectId ?? LOCAL_PROJECT_ID;
  const log = options.log ?? (() => {});
  // Undone in reverse order by stop(), and by a failed start.
  const undo: Array<{ what: string; run: () => Promise<void> }> = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const errors: string[] = [];
      for (const step of undo.reverse()) {
        try {
          await step.run();
        } catch (error) {
          errors.push(`${step.what}: ${describeError(error)}`);
        }
      }
      undo.length = 0;
      if (errors.length > 0) log(`stop: could not cleanly ${errors.join('; ')}`);
    })();
    return stopping;
  };

  try {
    // 1. Emulators, and the variables the clients of this process read.
    const [firestoreEmulator, pubsubEmulator] = await Promise.all([
      emulator('firestore', options.firestoreHost),
      emulator('pubsub', options.pubsubHost),
    ]);
    for (const running of [firestoreEmulator, pubsubEmulator]) {
      if (running.owned) undo.push({ what: `stop the ${running.kind} emulator`, run: () => running.stop() });
      log(`${running.kind} emulator: ${running.host} (${running.owned ? 'started' : 'reused'})`);
    }
    const saved = Object.fromEntries(
      [EMULATOR_HOST_VARIABLE.firestore, EMULATOR_HOST_VARIABLE.pubsub, 'METADATA_SERVER_DETECTION'].map((name) => [name, process.env[name]]),
    );
    undo.push({
      what: 'restore the environment',
      run: () => {
        for (const [name, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
        return Promise.resolve();
      },
    });
    process.env[EMULATOR_HOST_VARIABLE.firestore] = firestoreEmulator.host;
    process.env[EMULATOR_HOST_VARIABLE.pubsub] = pubsubEmulator.host;
    // Otherwise the Google clients probe the GCE metadata server and print warnings.
    process.env.METADATA_SERVER_DETECTION ??= 'none';

    // 2. Clients. The bus closes its own client, so the administration (topics, subscriptions,
    // the local clock, the executor runner) has another.
    const firestore = createFirestore(projectId);
    undo.push({ what: 'close the Firestore client', run: () => firestore.terminate() });
    const store = createFirestoreStore({ firestore });
    const admin = new PubSub({ projectId });
    undo.push({ what: 'close the Pub/Sub client', run: () => admin.close() });
    const bus = createPubSubBus({ pubsub: new PubSub({ projectId }) });
    undo.push({ what: 'close the event bus', run: () => bus.close() });

    const topics = allTopics();
    await ensureTopics(admin, topics);

    // 3. The simulated fleet and the engine the functions use.
    const fleet = createSimulatedFleet({
      clock: systemClock,
      sqlDurations: LOCAL_DURATIONS.sql,
      gkeDurations: LOCAL_DURATIONS.gke,
      executor: LOCAL_DURATIONS.executor,
      scheduler: { project: projectId, location: 'us-central1' },
    });
    const engineLog = lineLogger(log);
    const schedulerParent = `projects/${projectId}/locations/us-central1`;
    const deploymentsLocal = await localDeployments({ log: engineLog });
    log(`githubWebhook: deployment repository ${deploymentsLocal.repoPath} (git), webhook secret ${deploymentsLocal.webhookSecret}`);
    // Registers every function with the framework (once per process; later imports are cached).
    await import('../../functions/index.js');

    // 4. The fleet: Firestore first, then the in-memory simulators for every instance Firestore
    // holds, before any push can deliver work on them.
    let seeded: SeedResult | undefined;
    if (options.seed ?? true) {
      seeded = await seedInstances(store, localFleetSpecs(systemClock.now()), systemClock.now());
      log(`seeded ${seeded.created.length} instances; ${seeded.existing.length} were already there`);
    }
    const mirrored = await mirrorInstancesInFleet(store, fleet, new Set());
    log(`simulated Cloud SQL and GKE backup plans for ${mirrored.length} instances`);

    // 5. The simulated executor, listening on its real topics.
    const runner = await startExecutorRunner({
      pubsub: admin,
      executor: fleet.executor,
      intervalMs: RUNNER_INTERVAL_MS,
      onError: (error, context) => log(`executor sim: ${context}: ${describeError(error)}`),
    });
    undo.push({ what: 'stop the executor runner', run: () => runner.stop() });

    // 6. Every function on 127.0.0.1.
    const scheduledFunctions = new Set(SUBSCRIPTIONS.filter((s) => SCHEDULES.some((c) => c.topic === s.topic)).map((s) => s.function));
    const server = await serveFunctions({
      functionNames: FUNCTIONS.map((f) => f.name),
      ...(options.functionsPort === undefined ? {} : { port: options.functionsPort }),
      onDelivery: (d) => {
        // The schedules fire every few seconds: only their failures are worth a line.
        if (d.status >= 200 && d.status < 300 && scheduledFunctions.has(d.functionName as (typeof FUNCTIONS)[number]['name'])) return;
        const how = SUBSCRIPTIONS.some((s) => s.function === d.functionName) ? 'push' : 'request';
        log(`${how} -> ${d.functionName}: ${d.status === 0 ? 'connection closed' : d.status} in ${d.ms} ms`);
      },
    });
    undo.push({ what: 'close the functions server', run: () => server.close() });
    log(`functions: ${server.url}`);

    // 6b. The services every function uses, on the simulated fleet (the jobs compliance checks are
    // the simulated Cloud Scheduler's, which the local clock keeps up to date below). Local
    // identity: the production verifier on a key generated here; the audiences are the
    // functions' URLs, as in the cloud; `mi approve` in another terminal signs with the same key,
    // which it finds in the identity file.
    const approvalsUrl = server.routes.approvals ?? `${server.url}/approvals`;
    const signer = await createLocalSigner();
    const services = createServices(
      {
        store,
        bus,
        clock: systemClock,
        log: engineLog,
        cloudSql: fleet.cloudSql,
        gkeBackup: fleet.gkeBackup,
        executor: executorOnTopics(createOnceOutbox({ store, bus, clock: systemClock, log: engineLog }), fleet.executor),
        scheduler: fleet.scheduler,
        repo: deploymentsLocal.repo,
        identity: localIdentity(signer),
      },
      {
        timings: LOCAL_TIMINGS,
        schedulerParent,
        webhook: deploymentsLocal.webhook,
        audiences: { approvals: approvalsUrl, confirmations: server.routes.applyConfirmations ?? `${server.url}/applyConfirmations` },
      },
    );
    useServices(services);
    const engine = services.engine;
    const identityFile = options.identityFile === false ? undefined : (options.identityFile ?? DEFAULT_IDENTITY_FILE);
    if (identityFile !== undefined) {
      await writeIdentityFile(identityFile, {
        version: 1,
        functionsUrl: server.url,
        approvalsUrl,
        audience: approvalsUrl,
        issuer: signer.issuer,
        privateJwk: await signer.exportPrivateJwk(),
        projectId,
        pid: process.pid,
        writtenAt: new Date().toISOString(),
      });
      undo.push({ what: 'remove the local identity file', run: () => removeIdentityFile(identityFile, signer.kid) });
      log(`local identity for mi approve: ${identityFile}`);
    }

    // 7. The push subscriptions, exactly as the topology describes them, pointed at the server.
    const subscriptions = SUBSCRIPTIONS.map((s) => ({
      name: s.name,
      topic: s.topic,
      pushEndpoint: server.pushEndpoint(s.function, projectId, s.topic),
      maxDeliveryAttempts: s.deadLetter.maxDeliveryAttempts,
      deadLetterTopic: s.deadLetter.topic,
    }));
    await Promise.all(
      SUBSCRIPTIONS.map((s, i) =>
        ensurePushSubscription(admin, {
          name: s.name,
          topic: s.topic,
          ackDeadlineSeconds: s.ackDeadlineSeconds,
          retryPolicy: s.retryPolicy,
          deadLetter: s.deadLetter,
          pushEndpoint: subscriptions[i]?.pushEndpoint ?? '',
        }),
      ),
    );
    if (!pubsubEmulator.owned) {
      // On an emulator that outlives this stack, turn the subscriptions to pull when stopping:
      // messages published meanwhile (an `mi upgrade` while mi dev is down) then wait for the
      // next start instead of being pushed to a closed port until they are dead-lettered.
      undo.push({
        what: 'pause the push subscriptions',
        run: async () => {
          await Promise.all(SUBSCRIPTIONS.map((s) => admin.subscription(s.name).setMetadata({ pushConfig: {} })));
        },
      });
    }

    // 8. The schedules, on the local clock.
    const fedBy = (schedule: Schedule) => SUBSCRIPTIONS.filter((s) => s.topic === schedule.topic).map((s) => s.function);
    const clock = startLocalClock({
      pubsub: admin,
      schedules: SCHEDULES,
      ...(options.scheduleSpeedup === undefined ? {} : { speedup: options.scheduleSpeedup }),
      isBusy: (schedule) => {
        const stats = server.stats();
        return fedBy(schedule).some((name) => (stats[name]?.inFlight ?? 0) > 0);
      },
      onError: (error, schedule) => log(`schedule ${schedule.name}: ${describeError(error)}`),
      // What Cloud Scheduler records of each attempt, so the schedules' own check sees them run.
      onPublished: (schedule) => fleet.scheduler.setLastAttempt(`${schedulerParent}/jobs/${schedule.name}`, { code: 0 }),
    });
    undo.push({ what: 'stop the local clock', run: () => clock.stop() });

    return {
      projectId,
      firestoreHost: firestoreEmulator.host,
      pubsubHost: pubsubEmulator.host,
      functionsUrl: server.url,
      fleet,
      engine,
      routes: server.routes,
      approvalsUrl,
      signer,
      identityFile,
      topics,
      subscriptions,
      seeded,
      startedEmulators: [firestoreEmulator, pubsubEmulator].filter((e) => e.owned).map((e) => e.kind),
      functionStats: () => server.stats(),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Where `mi` is in this checkout, for the "try it" hints. */
const MI_BIN = fileURLToPath(new URL('../../bin/mi.js', import.meta.url));

/** What `mi dev` prints once the stack is up: where everything is and how to try it. */
export function describeStack(stack: LocalStack): string[] {
  const customer = [...(stack.seeded?.created ?? []), ...(stack.seeded?.existing ?? [])].find((i) => i.tier === 'customer');
  const target = customer?.id ?? '<instance id>';
  const instances = [...(stack.seeded?.created ?? []), ...(stack.seeded?.existing ?? [])]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((i) => {
      const window = i.maintenanceWindow ? `  window ${i.maintenanceWindow.days.join(',')} ${i.maintenanceWindow.start} ${i.maintenanceWindow.timeZone}` : '';
      const expiry = i.expiresAt ? `  expires ${i.expiresAt}` : '';
      return `    ${i.id.padEnd(18)} ${i.environment.padEnd(4)} ${i.tier.padEnd(8)} ${i.version.padEnd(7)} ${i.status.padEnd(10)} ${i.region.padEnd(21)}${window}${expiry}`;
    });
  const schedules = SCHEDULES.map((s) => `    ${s.name}: every ${s.localEverySeconds} s -> ${s.topic} (in the cloud: "${s.cron}" ${s.timeZone})`);
  return [
    '',
    'mi dev is running: the control plane on this machine',
    '',
    `  project           ${stack.projectId}`,
    `  Firestore         ${stack.firestoreHost}${stack.startedEmulators.includes('firestore') ? '' : ' (reused)'}`,
    `  Pub/Sub           ${stack.pubsubHost}${stack.startedEmulators.includes('pubsub') ? '' : ' (reused)'}`,
    `  functions         ${stack.functionsUrl}`,
    ...Object.entries(stack.routes).map(([name, url]) => `    ${name.padEnd(16)} ${url}`),
    `  topics            ${stack.topics.join(', ')}`,
    '  push subscriptions',
    ...stack.subscriptions.map((s) => `    ${s.name} -> ${s.pushEndpoint} (dead letter ${s.deadLetterTopic} after ${s.maxDeliveryAttempts} attempts)`),
    `  approvals         ${stack.approvalsUrl} (ID tokens signed by a local key${stack.identityFile === undefined ? '' : `, left for mi approve in ${stack.identityFile}`})`,
    `  executor (sim)    pulls ${TOPICS.executorRequests} (${DEFAULT_RUNNER_SUBSCRIPTION}), answers on ${TOPICS.executorResults}`,
    '  schedules (local clock)',
    ...schedules,
    stack.seeded === undefined ? '  instances         not seeded (--no-seed)' : '  instances',
    ...instances,
    '',
    'Try it, in another terminal:',
    '',
    `  export FIRESTORE_EMULATOR_HOST=${stack.firestoreHost}`,
    `  export PUBSUB_EMULATOR_HOST=${stack.pubsubHost}`,
    `  export GOOGLE_CLOUD_PROJECT=${stack.projectId}`,
    `  alias mi='node ${MI_BIN}'   # or: npm link`,
    '',
    '  mi instance list',
    `  mi upgrade ${target} --to 5.5.0 --wait`,
    '  mi op get <operation id printed by mi upgrade>',
    '  MI_ACTOR=second.person@example.com mi approve <operation waiting for approval>',
    '',
    'Ctrl-C stops everything mi dev started.',
    '',
  ];
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

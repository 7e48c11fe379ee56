/**
 * What the local stack is asked for, and what a running one offers: where everything listens,
 * the simulated fleet, the engine, the local identity, and how to stop it.
 */
import type { Engine } from '../../shared/engine/index.js';
import type { LocalAccess } from './access.js';
import type { LocalSigner } from '../../shared/identity/index.js';
import type { SimulatedFleet } from '../../shared/sim/index.js';
import type { EmulatorKind } from './emulators.js';
import type { FunctionStats } from './functions-server.js';
import type { LocalSubscription } from './push.js';
import type { SeedResult } from './seed.js';
import type { Schedule } from '../../shared/topology.js';

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
   * Where to leave the local identity (signing key, commands URL) for `mi`; default
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
  /** Where the simulated Cloud Build answers the v1 REST API (the executor adapter calls it there). */
  cloudBuildUrl: string;
  /** The simulated plans buckets (Cloud Storage's JSON API paths). */
  plansUrl: string;
  /** The simulated Firestore Admin API (backups of the emulator's default database, restores into named ones). */
  firestoreAdminUrl: string;
  /** Where the simulated applications answer (the health gates' MI_HEALTH_URL). */
  healthUrl: string;
  /** The simulated fleet's fault control (`mi dev fault`): POST, GET, DELETE /v1/faults. */
  faultsUrl: string;
  fleet: SimulatedFleet;
  engine: Engine;
  /** Each function's route. */
  routes: Readonly<Record<string, string>>;
  /** Where `mi` sends commands; ID tokens must be for this audience (the URL itself, as in the cloud). */
  commandsUrl: string;
  /** Signs ID tokens the commands function accepts: local mode's identity provider. */
  signer: LocalSigner;
  /** The simulated Privileged Access Manager `mi access` talks to. */
  access: LocalAccess;
  /** The file `mi` reads, or undefined when asked to write none. */
  identityFile: string | undefined;
  topics: readonly string[];
  subscriptions: readonly LocalSubscription[];
  /** The schedules as the local clock runs them (the drill's week shortened, cli/dev/local-time.ts). */
  schedules: readonly Schedule[];
  /** What seeding did; undefined when asked not to seed. */
  seeded: SeedResult | undefined;
  /** Which emulators this stack started (and will stop) rather than reused. */
  startedEmulators: readonly EmulatorKind[];
  /** Requests each function has answered so far. */
  functionStats(): Record<string, FunctionStats>;
  /** Stops what this stack started, in reverse order; safe to call twice. */
  stop(): Promise<void>;
}

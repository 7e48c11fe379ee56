/**
 * The client `mi` reads with, built from its flags and environment: Firestore, read directly.
 * Nothing is written or published from here: commands go to the commands function as the
 * verified caller (commands-client.ts). Every call runs under the adapters'
 * deadline, and a failure to reach either is translated into one message that says what to
 * do next, with exit code 3.
 */
import { execFileSync } from 'node:child_process';
import type { Firestore } from '@google-cloud/firestore';
import { ControlPlaneError } from '../shared/errors.js';
import { createFirestore, createFirestoreStore } from '../shared/gcp/firestore-store.js';
import { GrpcCode } from '../shared/gcp/grpc-errors.js';
import type { DocumentData, QuerySpec, StateStore, StoreTransaction, StoredDocument } from '../shared/ports.js';
import { EXIT, LOCAL_PROJECT_ID } from './config.js';
import { CliError, refused } from './errors.js';
import { parseFlags, projectIdSchema } from './flags.js';

/** Environment variables as the CLI sees them (process.env, or a test's own). */
export type CliEnv = Readonly<Record<string, string | undefined>>;

export const FIRESTORE_EMULATOR_VARIABLE = 'FIRESTORE_EMULATOR_HOST';
export const PUBSUB_EMULATOR_VARIABLE = 'PUBSUB_EMULATOR_HOST';

/** Which project `mi` works on: --project, else GOOGLE_CLOUD_PROJECT, else local mode's when an emulator is configured. */
export function resolveProjectId(flag: string | undefined, env: CliEnv): string {
  const chosen =
    flag ??
    nonEmpty(env.GOOGLE_CLOUD_PROJECT) ??
    (nonEmpty(env[FIRESTORE_EMULATOR_VARIABLE]) !== undefined || nonEmpty(env[PUBSUB_EMULATOR_VARIABLE]) !== undefined
      ? LOCAL_PROJECT_ID
      : undefined);
  if (chosen === undefined) {
    throw refused(
      'no project: pass --project <id> or set GOOGLE_CLOUD_PROJECT (for the local stack, run `mi dev` and set FIRESTORE_EMULATOR_HOST and PUBSUB_EMULATOR_HOST as it prints)',
    );
  }
  const source = flag !== undefined ? '--project' : env.GOOGLE_CLOUD_PROJECT ? 'GOOGLE_CLOUD_PROJECT' : 'project';
  return parseFlags(projectIdSchema, chosen, { '': source });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** The local stack's operator: `git config user.email`, else `$USER@local` (never who asks in the cloud). */
export function localOperator(env: CliEnv, gitEmail: () => string | undefined = readGitEmail): string {
  return gitEmail() ?? `${nonEmpty(env.USER) ?? nonEmpty(env.LOGNAME) ?? 'unknown'}@local`;
}

function readGitEmail(): string | undefined {
  try {
    const out = execFileSync('git', ['config', 'user.email'], { encoding: 'utf8', timeout: 2_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return nonEmpty(out);
  } catch {
    // No git, or no email configured: the next fallback applies.
    return undefined;
  }
}

export interface BackendOptions {
  projectId: string;
  env: CliEnv;
  /** Deadline of each Firestore call; the adapters' default when absent. */
  deadlineMs?: number;
}

/** The clients of one `mi` invocation; created lazily, so a command pays only for what it uses. */
export interface Backend {
  projectId: string;
  /** Firestore, with unreachable-backend failures turned into CliErrors (exit 3). */
  store: StateStore;
  close(): Promise<void>;
}

type Service = 'Firestore' | 'Pub/Sub';

/**
 * Builds a client while `name` holds the CLI's own value: the Google clients read the emulator
 * variables from process.env when they are constructed, and the env the CLI was given (a
 * test's) must win. Construction is synchronous, so nothing else sees the swap.
 */
function withProcessEnv<T>(name: string, value: string | undefined, make: () => T): T {
  const saved = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return make();
  } finally {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  }
}

/** What to tell the operator when a service cannot be reached. */
function unreachableMessage(service: Service, projectId: string, env: CliEnv): string {
  const variable = service === 'Firestore' ? FIRESTORE_EMULATOR_VARIABLE : PUBSUB_EMULATOR_VARIABLE;
  const host = nonEmpty(env[variable]);
  if (host !== undefined) {
    return `cannot reach ${service} at ${host} (is \`mi dev\` running? set ${variable} or GOOGLE_CLOUD_PROJECT)`;
  }
  return `cannot reach ${service} of project ${projectId} (check your network and credentials: gcloud auth application-default login; for the local stack run \`mi dev\` and set ${variable})`;
}

const CREDENTIAL_FAILURE = /could not load the default credentials|unable to detect a project id|invalid_grant|reauthenticate/i;

/** Turns a failure to reach or use a service into a CliError with exit 3; other errors pass unchanged. */
export function translateBackendError(error: unknown, service: Service, projectId: string, env: CliEnv, note = ''): unknown {
  if (error instanceof CliError) return error;
  if (error instanceof ControlPlaneError) {
    if (error.code === 'unavailable' || error.code === 'deadline-exceeded') {
      return new CliError(unreachableMessage(service, projectId, env) + note, EXIT.unreachable, { cause: error });
    }
    const grpcCode = error.details.grpcCode;
    if (grpcCode === GrpcCode.PERMISSION_DENIED || grpcCode === GrpcCode.UNAUTHENTICATED) {
      return new CliError(
        `${service} of project ${projectId} refused the call (${grpcCode === GrpcCode.PERMISSION_DENIED ? 'permission denied' : 'not authenticated'}): check the project and your credentials (gcloud auth application-default login)`,
        EXIT.unreachable,
        { cause: error },
      );
    }
    return error;
  }
  return credentialsProblem(error, service) ?? error;
}

/** A CliError (exit 3) when the failure is the absence of usable Google Cloud credentials. */
export function credentialsProblem(error: unknown, service: Service | 'Google Cloud' = 'Google Cloud'): CliError | undefined {
  if (!(error instanceof Error) || !CREDENTIAL_FAILURE.test(error.message)) return undefined;
  return new CliError(
    `no usable Google Cloud credentials${service === 'Google Cloud' ? '' : ` for ${service}`} (${error.message.split('\n')[0] ?? ''}): run gcloud auth application-default login, or use the local stack (\`mi dev\`)`,
    EXIT.unreachable,
    { cause: error },
  );
}

/** Settles with the promise, or after `ms` regardless: closing a client of a dead service must not hang the CLI. */
async function bounded(promise: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (promise === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}

/** The Firestore client of one invocation. */
export function createBackend(options: BackendOptions): Backend {
  const { projectId, env, deadlineMs } = options;
  let firestore: Firestore | undefined;
  let rawStore: StateStore | undefined;

  const storeOf = (): StateStore => {
    if (rawStore === undefined) {
      const client = withProcessEnv(FIRESTORE_EMULATOR_VARIABLE, nonEmpty(env[FIRESTORE_EMULATOR_VARIABLE]), () => createFirestore(projectId));
      firestore = client;
      rawStore = createFirestoreStore({
        firestore: client,
        ...(deadlineMs === undefined ? {} : { deadlineMs, transactionDeadlineMs: 2 * deadlineMs }),
      });
    }
    return rawStore;
  };
  // Once a service did not answer, closing its client is not waited for: it would not answer either.
  let gaveUp = false;
  const noted = (error: unknown): unknown => {
    if (error instanceof CliError && error.exitCode === EXIT.unreachable) gaveUp = true;
    return error;
  };

  async function firestoreCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw noted(translateBackendError(error, 'Firestore', projectId, env));
    }
  }

  const store: StateStore = {
    get: <T extends object = DocumentData>(path: string) => firestoreCall(() => storeOf().get<T>(path)),
    set: (path: string, data: object) => firestoreCall(() => storeOf().set(path, data)),
    create: (path: string, data: object) => firestoreCall(() => storeOf().create(path, data)),
    delete: (path: string) => firestoreCall(() => storeOf().delete(path)),
    query: <T extends object = DocumentData>(spec: QuerySpec): Promise<Array<StoredDocument<T>>> => firestoreCall(() => storeOf().query<T>(spec)),
    queryIds: (spec: QuerySpec) => firestoreCall(() => storeOf().queryIds(spec)),
    count: (spec: Omit<QuerySpec, 'orderBy' | 'limit' | 'startAfterId'>) => firestoreCall(() => storeOf().count(spec)),
    transaction: <T>(work: (tx: StoreTransaction) => Promise<T>) => firestoreCall(() => storeOf().transaction(work)),
  };

  return {
    projectId,
    store,
    async close() {
      // A dead service never answers the shutdown either: wait a little, then leave it.
      const patienceMs = gaveUp ? 0 : 1_000;
      await bounded(firestore?.terminate(), patienceMs);
    },
  };
}

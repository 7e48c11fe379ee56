/**
 * The local stack's backend: the Firestore and Pub/Sub emulators (given, configured, or
 * started here), the variables this process's clients read pointed at them, and the clients.
 */
import { PubSub } from '@google-cloud/pubsub';
import type { Firestore } from '@google-cloud/firestore';
import { createFirestore, createFirestoreStore } from '../../shared/gcp/firestore-store.js';
import { createPubSubBus, type ClosableEventBus } from '../../shared/gcp/pubsub-bus.js';
import type { StateStore } from '../../shared/ports.js';
import { EMULATOR_HOST_VARIABLE, ensureEmulator, isEmulatorUp, type EmulatorKind, type RunningEmulator } from './emulators.js';
import type { UndoStack } from './undo.js';

/** Uses the emulator at `host` (which must answer), or the configured or a new one. */
async function emulator(kind: EmulatorKind, host: string | undefined): Promise<RunningEmulator> {
  if (host === undefined) return ensureEmulator(kind);
  if (!(await isEmulatorUp(host))) {
    throw new Error(`No ${kind} emulator answers on ${host}: start one there, or leave the host out and mi dev starts its own`);
  }
  return { kind, host, owned: false, stop: async () => {} };
}

/** Sets the emulator variables (and no metadata server) for this process, restored on stop. */
function pointClientsAt(firestore: RunningEmulator, pubsub: RunningEmulator, undo: UndoStack): void {
  const saved = Object.fromEntries(
    [EMULATOR_HOST_VARIABLE.firestore, EMULATOR_HOST_VARIABLE.pubsub, 'METADATA_SERVER_DETECTION'].map((name) => [name, process.env[name]]),
  );
  undo.push('restore the environment', () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    return Promise.resolve();
  });
  process.env[EMULATOR_HOST_VARIABLE.firestore] = firestore.host;
  process.env[EMULATOR_HOST_VARIABLE.pubsub] = pubsub.host;
  // Otherwise the Google clients probe the GCE metadata server and print warnings.
  process.env.METADATA_SERVER_DETECTION ??= 'none';
}

/** Both emulators, running (those started here are stopped on stop), and this process pointed at them. */
export async function useEmulators(
  hosts: { firestoreHost?: string | undefined; pubsubHost?: string | undefined },
  undo: UndoStack,
  log: (line: string) => void,
): Promise<{ firestore: RunningEmulator; pubsub: RunningEmulator }> {
  const [firestore, pubsub] = await Promise.all([emulator('firestore', hosts.firestoreHost), emulator('pubsub', hosts.pubsubHost)]);
  for (const running of [firestore, pubsub]) {
    if (running.owned) undo.push(`stop the ${running.kind} emulator`, () => running.stop());
    log(`${running.kind} emulator: ${running.host} (${running.owned ? 'started' : 'reused'})`);
  }
  pointClientsAt(firestore, pubsub, undo);
  return { firestore, pubsub };
}

export interface LocalClients {
  firestore: Firestore;
  store: StateStore;
  /** Topics, subscriptions, the local clock and the executor runner. */
  admin: PubSub;
  bus: ClosableEventBus;
}

/** The clients, each closed on stop. The bus closes its own client, so the administration has another. */
export function openClients(projectId: string, undo: UndoStack): LocalClients {
  const firestore = createFirestore(projectId);
  undo.push('close the Firestore client', () => firestore.terminate());
  const store = createFirestoreStore({ firestore });
  const admin = new PubSub({ projectId });
  undo.push('close the Pub/Sub client', () => admin.close());
  const bus = createPubSubBus({ pubsub: new PubSub({ projectId }) });
  undo.push('close the event bus', () => bus.close());
  return { firestore, store, admin, bus };
}

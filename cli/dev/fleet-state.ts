/**
 * The simulated fleet outlives the `mi dev` process that simulates it, as Cloud SQL, Backup for
 * GKE and Cloud Build outlive a crashed control plane: every simulator's state is kept in the
 * Firestore emulator under a project of its own (`<project>-sim`, apart from the control
 * plane's documents), written as it changes. A simulator's answer goes back only once the change
 * it made is written (FaultInjector.observe), so whatever the engine recorded (a backup run's
 * id, a build's id) is found again by a `mi dev` started after a crash, on the same emulators. A
 * fresh Firestore emulator holds none: the fleet starts fresh with it.
 *
 * Each part (a simulator) is one head document and its bytes (the structured clone of its
 * state, node:v8) in chunks below a document's size limit; only the parts that changed are
 * written, in one batch.
 */
import { deserialize, serialize } from 'node:v8';
import type { Firestore } from '@google-cloud/firestore';
import { withDeadline } from '../../shared/deadline.js';
import { ControlPlaneError, describeError } from '../../shared/errors.js';
import { createFirestore } from '../../shared/gcp/firestore-store.js';
import { FLEET_STATE_PARTS, type FleetState, type SimulatedFleet, type SimState } from '../../shared/sim/index.js';
import type { UndoStack } from './undo.js';

/** Where the simulators' state lives in the emulator: a project of its own beside the control plane's. */
export function simulatorProjectOf(projectId: string): string {
  return `${projectId}-sim`;
}

export const SIMULATOR_COLLECTION = 'simulators';
/** The instances the simulators were given resources for (seed.ts mirrors each once). */
const MIRRORED_PART = 'mirrored';
/** Below Firestore's 1 MiB document limit, with room for the field's name. */
const CHUNK_BYTES = 900_000;
/** Changes made outside an API call (a build settling, a probe counted) are written this often. */
const FLUSH_INTERVAL_MS = 1_000;

export interface KeptFleetState {
  /** True when an earlier `mi dev` left state that was put back into the fleet. */
  restored: boolean;
  /** The instances the simulators hold resources for (kept with the state). */
  mirrored: Set<string>;
  /** Writes what changed since the last write; resolves once it is written. */
  save: () => Promise<void>;
}

interface PartHead {
  chunks: number;
  bytes: number;
  savedAt: string;
}

function partsOf(fleet: SimulatedFleet, mirrored: Set<string>): Map<string, Buffer> {
  const state = fleet.exportState();
  const parts = new Map<string, Buffer>();
  for (const part of FLEET_STATE_PARTS) if (state[part] !== undefined) parts.set(part, serialize(state[part]));
  parts.set(MIRRORED_PART, serialize([...mirrored].sort()));
  return parts;
}

/** Reads every part an earlier `mi dev` wrote; undefined when there are none. */
async function readParts(firestore: Firestore): Promise<Map<string, Buffer> | undefined> {
  const collection = firestore.collection(SIMULATOR_COLLECTION);
  const heads = await withDeadline('read the simulators state', () => collection.get(), 10_000);
  if (heads.empty) return undefined;
  const parts = new Map<string, Buffer>();
  for (const head of heads.docs) {
    const { chunks } = head.data() as PartHead;
    const docs = await withDeadline(`read the ${head.id} simulator state`, () => Promise.all(Array.from({ length: chunks }, (_, i) => head.ref.collection('chunks').doc(String(i)).get())), 10_000);
    const bytes = docs.map((doc, i) => {
      const data = doc.get('data') as unknown;
      if (!(data instanceof Uint8Array)) throw new Error(`the ${head.id} simulator state is missing chunk ${i} of ${chunks}: stop mi dev, clear the emulator (or start a fresh one) and start again`);
      return Buffer.from(data);
    });
    parts.set(head.id, Buffer.concat(bytes));
  }
  return parts;
}

/**
 * Puts what an earlier `mi dev` left into `fleet`, then keeps the fleet's state as it changes:
 * after every simulator call (awaited before its answer) and every second; a last write on stop.
 */
export async function keepFleetState(input: { projectId: string; fleet: SimulatedFleet; log: (line: string) => void }, undo: UndoStack): Promise<KeptFleetState> {
  const { fleet, log } = input;
  const firestore = createFirestore(simulatorProjectOf(input.projectId));
  undo.push('close the simulators state client', () => firestore.terminate());
  const mirrored = new Set<string>();
  const written = new Map<string, Buffer>();

  const found = await readParts(firestore);
  if (found !== undefined) {
    const state: FleetState = {};
    for (const part of FLEET_STATE_PARTS) {
      const bytes = found.get(part);
      if (bytes !== undefined) state[part] = deserialize(bytes) as SimState;
    }
    fleet.importState(state);
    const ids = found.get(MIRRORED_PART);
    if (ids !== undefined) for (const id of deserialize(ids) as string[]) mirrored.add(id);
    for (const [part, bytes] of found) written.set(part, bytes);
    log(`simulators: state of ${mirrored.size} instances found in ${simulatorProjectOf(input.projectId)} (an earlier mi dev), carried on`);
  }

  const writeChanged = async (): Promise<void> => {
    const parts = partsOf(fleet, mirrored);
    const changed = [...parts].filter(([part, bytes]) => !(written.get(part)?.equals(bytes) ?? false));
    if (changed.length === 0) return;
    const batch = firestore.batch();
    const savedAt = new Date().toISOString();
    for (const [part, bytes] of changed) {
      const head = firestore.collection(SIMULATOR_COLLECTION).doc(part);
      const chunks = Math.max(1, Math.ceil(bytes.length / CHUNK_BYTES));
      for (let i = 0; i < chunks; i += 1) batch.set(head.collection('chunks').doc(String(i)), { data: bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES) });
      batch.set(head, { chunks, bytes: bytes.length, savedAt } satisfies PartHead);
    }
    try {
      await withDeadline('write the simulators state', () => batch.commit(), 10_000);
    } catch (error) {
      throw new ControlPlaneError('unavailable', `the simulators' state could not be written to the Firestore emulator: ${describeError(error)}`, { retryable: true, cause: error });
    }
    for (const [part, bytes] of changed) written.set(part, bytes);
  };

  // One write at a time; callers that come while one waits share it (it takes their changes too).
  let tail: Promise<void> = Promise.resolve();
  let waiting: Promise<void> | undefined;
  const save = (): Promise<void> => {
    if (waiting !== undefined) return waiting;
    const next = tail
      .catch(() => undefined)
      .then(() => {
        waiting = undefined;
        return writeChanged();
      });
    waiting = next;
    tail = next;
    return next;
  };

  const timer = setInterval(() => {
    save().catch((error: unknown) => log(`simulators: ${describeError(error)} (tried again in a second)`));
  }, FLUSH_INTERVAL_MS);
  undo.push('write the simulators state a last time', async () => {
    clearInterval(timer);
    fleet.observe(undefined);
    await save().catch((error: unknown) => log(`simulators: the last write failed: ${describeError(error)}`));
  });
  return { restored: found !== undefined, mirrored, save };
}

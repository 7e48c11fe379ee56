/**
 * What every schedule shares: the emulators' clients, in one Firestore project wiped before
 * each schedule, and the real Pub/Sub bus (its topics created once).
 */
import { createHash } from 'node:crypto';
import { PubSub } from '@google-cloud/pubsub';
import { createFirestore } from '../../shared/gcp/firestore-store.js';
import { ensureTopics } from '../../shared/gcp/pubsub-admin.js';
import { createPubSubBus } from '../../shared/gcp/pubsub-bus.js';
import { allTopics } from '../../shared/topology.js';
import type { ChaosContext } from './schedule.js';

export async function createChaosContext(name: string): Promise<ChaosContext & { close(): Promise<void> }> {
  const projectId = `demo-chaos-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
  const host = process.env.FIRESTORE_EMULATOR_HOST;
  if (host === undefined) throw new Error('FIRESTORE_EMULATOR_HOST is not set: the chaos suite runs on the Firestore emulator');
  const firestore = createFirestore(projectId);
  const pubsub = new PubSub({ projectId });
  await ensureTopics(pubsub, allTopics());
  const bus = createPubSubBus({ pubsub, maxBatchDelayMs: 1 });
  return {
    firestore,
    pubsub,
    bus,
    async wipe() {
      const response = await fetch(`http://${host}/emulator/v1/projects/${projectId}/databases/(default)/documents`, { method: 'DELETE' });
      if (!response.ok) throw new Error(`could not wipe the chaos project: HTTP ${response.status}`);
    },
    async close() {
      await bus.close();
      await firestore.terminate();
    },
  };
}

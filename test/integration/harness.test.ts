import { describe, expect, it } from 'vitest';
import { Firestore } from '@google-cloud/firestore';
import { PubSub } from '@google-cloud/pubsub';
import { projectIdFor } from '../support/project.js';
import { isEmulatorUp } from '../../cli/dev/emulators.js';

describe('test harness', () => {
  it('points every worker at running Firestore and Pub/Sub emulators on loopback', async () => {
    const firestoreHost = process.env.FIRESTORE_EMULATOR_HOST ?? '';
    const pubsubHost = process.env.PUBSUB_EMULATOR_HOST ?? '';
    expect(firestoreHost).toMatch(/^(127\.0\.0\.1|localhost):\d+$/);
    expect(pubsubHost).toMatch(/^(127\.0\.0\.1|localhost):\d+$/);
    expect(await isEmulatorUp(firestoreHost)).toBe(true);
    expect(await isEmulatorUp(pubsubHost)).toBe(true);
  });

  it('gives each test file a project of its own, so files do not see each other', async () => {
    const mine = new Firestore({ projectId: projectIdFor(import.meta.url) });
    const other = new Firestore({ projectId: projectIdFor(import.meta.url, 'other') });
    await mine.doc('probe/one').set({ value: 1 });
    expect((await other.doc('probe/one').get()).exists).toBe(false);
    expect((await mine.doc('probe/one').get()).data()).toEqual({ value: 1 });
    await Promise.all([mine.terminate(), other.terminate()]);
  });

  it('can create a topic and round-trip a message through the Pub/Sub emulator', async () => {
    const pubsub = new PubSub({ projectId: projectIdFor(import.meta.url) });
    const [topic] = await pubsub.createTopic(`harness-${Date.now()}`);
    const [subscription] = await topic.createSubscription('harness-sub');
    await topic.publishMessage({ data: Buffer.from('hello') });
    const received = await new Promise<string>((resolve) => {
      subscription.on('message', (message: { data: Buffer; ack(): void }) => {
        message.ack();
        resolve(message.data.toString());
      });
    });
    expect(received).toBe('hello');
    await subscription.close();
    await pubsub.close();
  });
});

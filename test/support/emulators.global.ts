import type { TestProject } from 'vitest/node';
import { ensureEmulator, EMULATOR_HOST_VARIABLE } from '../../cli/dev/emulators.js';

declare module 'vitest' {
  export interface ProvidedContext {
    firestoreHost: string;
    pubsubHost: string;
  }
}

/** Starts the emulators the tests need (unless running ones are configured) and stops what it started. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [firestore, pubsub] = await Promise.all([ensureEmulator('firestore'), ensureEmulator('pubsub')]);
  project.provide('firestoreHost', firestore.host);
  project.provide('pubsubHost', pubsub.host);
  process.env[EMULATOR_HOST_VARIABLE.firestore] = firestore.host;
  process.env[EMULATOR_HOST_VARIABLE.pubsub] = pubsub.host;
  return async () => {
    await Promise.all([firestore.stop(), pubsub.stop()]);
  };
}

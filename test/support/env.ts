import { inject } from 'vitest';

// Every worker talks to the emulators the global setup found or started.
process.env.FIRESTORE_EMULATOR_HOST = inject('firestoreHost');
process.env.PUBSUB_EMULATOR_HOST = inject('pubsubHost');
process.env.METADATA_SERVER_DETECTION = 'none';

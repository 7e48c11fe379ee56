// The floor of a cold start: the functions framework and the Google clients every function
// builds at its start (Firestore and Pub/Sub, for the emulator's project), nothing of ours.
import process from 'node:process';
import { performance } from 'node:perf_hooks';

await import('@google-cloud/functions-framework');
const [{ Firestore }, { PubSub }] = await Promise.all([import('@google-cloud/firestore'), import('@google-cloud/pubsub')]);
const projectId = process.env.GOOGLE_CLOUD_PROJECT;
new Firestore({ projectId });
new PubSub({ projectId });
process.stdout.write(`${JSON.stringify({ ms: performance.now() })}\n`);
process.exit(0);

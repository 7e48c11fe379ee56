import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PubSub } from '@google-cloud/pubsub';
import type { Firestore } from '@google-cloud/firestore';
import { freePort } from '../../../cli/dev/emulators.js';
import { ControlPlaneError } from '../../../shared/errors.js';
import { makeEnvelope } from '../../../shared/events/index.js';
import { createFirestore, createFirestoreStore } from '../../../shared/gcp/firestore-store.js';
import { createPubSubBus } from '../../../shared/gcp/pubsub-bus.js';
import { projectIdFor } from '../../support/project.js';

// Nothing listens on the dead port: a client pointed there hangs (for minutes) unless the
// adapter's deadline stops the call.
const DEADLINE_MS = 500;
const GENEROUS_BOUND_MS = 5_000;
const projectId = projectIdFor(import.meta.url);
let deadPort: number;
let firestore: Firestore;

/** Builds a client while FIRESTORE_EMULATOR_HOST is unset: the client prefers it over any host it is given. */
function withoutFirestoreEmulatorVariable<T>(make: () => T): T {
  const saved = process.env.FIRESTORE_EMULATOR_HOST;
  delete process.env.FIRESTORE_EMULATOR_HOST;
  try {
    return make();
  } finally {
    process.env.FIRESTORE_EMULATOR_HOST = saved;
  }
}

async function timedRejection(call: () => Promise<unknown>): Promise<{ error: unknown; elapsedMs: number }> {
  const started = Date.now();
  try {
    await call();
  } catch (error) {
    return { error, elapsedMs: Date.now() - started };
  }
  throw new Error('expected the call to a dead port to fail');
}

function expectRetryableTimeout(error: unknown): void {
  expect(error).toBeInstanceOf(ControlPlaneError);
  const { code, retryable } = error as ControlPlaneError;
  expect(['deadline-exceeded', 'unavailable']).toContain(code);
  expect(retryable).toBe(true);
}

beforeAll(async () => {
  deadPort = await freePort();
  firestore = withoutFirestoreEmulatorVariable(() =>
    createFirestore(projectId, { host: '127.0.0.1', port: deadPort, ssl: false }),
  );
});

afterAll(() => {
  // terminate() waits for the abandoned calls, which a dead port keeps pending for minutes;
  // the worker process ends with the file anyway.
  firestore.terminate().catch(() => undefined);
});

describe('adapters pointed at a dead port', () => {
  it('a store read fails within its deadline with a retryable error', async () => {
    const store = createFirestoreStore({ firestore, deadlineMs: DEADLINE_MS });
    const { error, elapsedMs } = await timedRejection(() => store.get('instances/any'));
    expectRetryableTimeout(error);
    expect(elapsedMs).toBeLessThan(GENEROUS_BOUND_MS);
  });

  it('a store write and a transaction fail within their deadlines with retryable errors', async () => {
    const store = createFirestoreStore({ firestore, deadlineMs: DEADLINE_MS, transactionDeadlineMs: DEADLINE_MS });
    const write = await timedRejection(() => store.set('instances/any', { id: 'any' }));
    expectRetryableTimeout(write.error);
    expect(write.elapsedMs).toBeLessThan(GENEROUS_BOUND_MS);
    const transaction = await timedRejection(() =>
      store.transaction(async (tx) => {
        await tx.get('instances/any');
        tx.set('instances/any', { id: 'any' });
      }),
    );
    expectRetryableTimeout(transaction.error);
    expect(transaction.elapsedMs).toBeLessThan(GENEROUS_BOUND_MS);
  });

  it('a publish fails within its deadline with a retryable error, and a later publish on its ordering key is sent again', async () => {
    // An apiEndpoint that is not *.googleapis.com puts the client in emulator mode (plain text).
    const bus = createPubSubBus({ pubsub: new PubSub({ projectId, apiEndpoint: `127.0.0.1:${deadPort}` }), deadlineMs: DEADLINE_MS });
    const envelope = makeEnvelope({
      type: 'alert',
      actor: 'test',
      reason: 'dead port',
      payload: { severity: 'info', summary: 'x', details: {} },
    });
    const first = await timedRejection(() => bus.publish('mi-events', envelope, { orderingKey: 'k' }));
    expectRetryableTimeout(first.error);
    expect(first.elapsedMs).toBeLessThan(GENEROUS_BOUND_MS);
    const plain = await timedRejection(() => bus.publish('mi-events', envelope));
    expectRetryableTimeout(plain.error);
    expect(plain.elapsedMs).toBeLessThan(GENEROUS_BOUND_MS);
    // A failed ordered publish may pause its key (the documented contract); the bus resumes
    // it, so the next publish on k is sent (and times out) instead of failing on the pause.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const again = await timedRejection(() => bus.publish('mi-events', envelope, { orderingKey: 'k' }));
    expectRetryableTimeout(again.error);
    expect(String((again.error as Error).cause)).not.toContain('Unable to publish for key');
    // Closing does not hang on what the dead port never answered: it flushes under the same
    // deadline (a publish still pending fails it retryably) and closes the client either way.
    const closing = await bus.close().then(
      () => undefined,
      (error: unknown) => error,
    );
    if (closing !== undefined) expectRetryableTimeout(closing);
  });
});

/**
 * The raw side of benchmark (c): a trivial push endpoint on 127.0.0.1 that notes when the push
 * carrying an event id was read, and answers 204 after as long as it is told to hold.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

/** The trivial push endpoint: reads the request, notes when, answers 204 (after `holdMs`). */
export interface RawReceiver {
  url: string;
  /** Resolves with the moment the push carrying `eventId` was read, and again once answered. */
  expect(eventId: string, holdMs: number): { received: Promise<number>; answered: Promise<void> };
  close(): Promise<void>;
}

/** Starts the endpoint on a free loopback port. */
export async function startRawReceiver(): Promise<RawReceiver> {
  const waiting = new Map<string, { received: (at: number) => void; answered: () => void; holdMs: number }>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = performance.now();
      let eventId: string | undefined;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message?: { attributes?: Record<string, string> } };
        eventId = body.message?.attributes?.eventId;
      } catch {
        // Not a push body: answered all the same, so nothing is redelivered.
      }
      const waiter = eventId === undefined ? undefined : waiting.get(eventId);
      res.once('finish', () => waiter?.answered());
      waiter?.received(at);
      const answer = () => res.writeHead(204).end();
      if (waiter === undefined || waiter.holdMs <= 0) answer();
      else setTimeout(answer, waiter.holdMs);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    expect(eventId, holdMs) {
      let received!: (at: number) => void;
      let answered!: () => void;
      const receivedPromise = new Promise<number>((resolve) => (received = resolve));
      const answeredPromise = new Promise<void>((resolve) => (answered = resolve));
      waiting.set(eventId, {
        holdMs,
        received,
        answered: () => {
          waiting.delete(eventId);
          answered();
        },
      });
      return { received: receivedPromise, answered: answeredPromise };
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // The emulator keeps its push connections alive.
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * A local HTTP server that answers like a Google REST API: each test scripts the answer and
 * reads back exactly what the real client library sent (method, path, query, JSON body).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  /** The path as sent, before percent-decoding. */
  rawPath: string;
  query: Record<string, string>;
  body: unknown;
  headers: IncomingMessage['headers'];
}

export interface ScriptedAnswer {
  status: number;
  body?: unknown;
  /** Never answer (a hung service): the client's deadline must end the call. */
  hang?: boolean;
  /** A body that is not JSON (a media download), sent as it is. */
  raw?: string;
}

export interface FakeGoogleApi {
  url: string;
  requests: RecordedRequest[];
  /** Sets how the server answers from now on. */
  answer(script: ScriptedAnswer | ((request: RecordedRequest) => ScriptedAnswer)): void;
  close(): Promise<void>;
}

/** Google's JSON error format (https://cloud.google.com/apis/design/errors). */
export function googleError(code: number, status: string | undefined, message: string, reason?: string): { status: number; body: unknown } {
  return {
    status: code,
    body: {
      error: {
        code,
        message,
        ...(status === undefined ? {} : { status }),
        ...(reason === undefined ? {} : { errors: [{ message, domain: 'global', reason }] }),
      },
    },
  };
}

/** Starts the fake on 127.0.0.1, on a port the system picks. */
export async function startFakeGoogleApi(): Promise<FakeGoogleApi> {
  const requests: RecordedRequest[] = [];
  let script: (request: RecordedRequest) => ScriptedAnswer = () => ({ status: 500, body: { error: { code: 500, message: 'no answer scripted' } } });
  const hung = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const text = Buffer.concat(chunks).toString('utf8');
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: decodeURIComponent(url.pathname),
        rawPath: url.pathname,
        query: Object.fromEntries(url.searchParams.entries()),
        body: text === '' ? undefined : (JSON.parse(text) as unknown),
        headers: req.headers,
      };
      requests.push(recorded);
      const reply = script(recorded);
      if (reply.hang) {
        hung.add(res);
        return;
      }
      if (reply.raw !== undefined) {
        res.writeHead(reply.status, { 'content-type': 'application/octet-stream' });
        res.end(reply.raw);
        return;
      }
      res.writeHead(reply.status, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answer(next) {
      script = typeof next === 'function' ? next : () => next;
    },
    async close() {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A URL on a port where nothing listens (bound, then released). */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

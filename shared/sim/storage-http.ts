/**
 * The simulated plans buckets served on Cloud Storage's JSON API path for objects.get with
 * alt=media, so the real reader runs against it in `mi dev` and the tests as against Google. A
 * missing object answers 404 with Cloud Storage's error body; injected faults answer their status.
 */
import { createServer, type Server } from 'node:http';
import { ControlPlaneError } from '../errors.js';
import { listenLocally } from './local-server.js';
import type { SimulatedStorage } from './storage.js';

export interface StorageServer {
  url: string;
  close(): Promise<void>;
}

/** Cloud Storage's error body (it carries errors[].reason, not a status name). */
function storageError(code: number, message: string, reason: string): string {
  return JSON.stringify({ error: { code, message, errors: [{ message, domain: 'global', reason }] } });
}

export async function serveStorage(sim: SimulatedStorage, options: { port?: number } = {}): Promise<StorageServer> {
  const server: Server = createServer((req, res) => {
    void (async (): Promise<void> => {
      const url = new URL(req.url ?? '/', 'http://storage');
      const match = /^\/storage\/v1\/b\/([^/]+)\/o\/([^/]+)$/.exec(url.pathname);
      if (match === null || req.method !== 'GET' || url.searchParams.get('alt') !== 'media') {
        res.writeHead(404, { 'content-type': 'application/json; charset=UTF-8' }).end(storageError(404, `no such method: ${req.method ?? ''} ${url.pathname}`, 'notFound'));
        return;
      }
      const bucket = decodeURIComponent(match[1] ?? '');
      const name = decodeURIComponent(match[2] ?? '');
      try {
        const found = await sim.readText(`gs://${bucket}/${name}`);
        if (found === undefined) {
          res.writeHead(404, { 'content-type': 'application/json; charset=UTF-8' }).end(storageError(404, `No such object: ${bucket}/${name}`, 'notFound'));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(Buffer.byteLength(found.text)) }).end(found.text);
      } catch (error) {
        const http = error instanceof ControlPlaneError && typeof error.details.httpStatus === 'number' ? error.details.httpStatus : 500;
        const reason = http === 403 ? 'forbidden' : http === 429 ? 'rateLimitExceeded' : http >= 500 ? 'backendError' : 'invalid';
        res.writeHead(http, { 'content-type': 'application/json; charset=UTF-8' }).end(storageError(http, error instanceof Error ? error.message : String(error), reason));
      }
    })();
  });
  return listenLocally(server, options.port);
}

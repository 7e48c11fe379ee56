/**
 * The simulated Firestore Admin API served on the REST API's paths (v1), so the real adapter
 * runs against it in `mi dev` and the tests as against Google: backups.list, databases.restore,
 * operations.get and .list, databases.delete, with Google's JSON error body (its status name
 * says ALREADY_EXISTS from ABORTED, FAILED_PRECONDITION from INVALID_ARGUMENT).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { ControlPlaneError } from '../errors.js';
import { listenLocally } from './local-server.js';
import type { SimulatedFirestoreAdmin } from './firestore-admin.js';

export interface FirestoreAdminServer {
  url: string;
  close(): Promise<void>;
}

const JSON_TYPE = { 'content-type': 'application/json; charset=UTF-8' };

const STATUS_BY_HTTP: Record<number, string> = { 400: 'INVALID_ARGUMENT', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 409: 'ALREADY_EXISTS', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED' };

function googleError(code: number, status: string, message: string): string {
  return JSON.stringify({ error: { code, message, status } });
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text === '' ? {} : JSON.parse(text));
      } catch {
        resolve(undefined);
      }
    });
    req.on('error', reject);
  });
}

export async function serveFirestoreAdmin(sim: SimulatedFirestoreAdmin, options: { port?: number } = {}): Promise<FirestoreAdminServer> {
  const project = sim.project;
  const server: Server = createServer((req, res) => {
    void (async (): Promise<void> => {
      const url = new URL(req.url ?? '/', 'http://firestore');
      const path = decodeURIComponent(url.pathname);
      const send = (body: unknown) => res.writeHead(200, JSON_TYPE).end(JSON.stringify(body));
      try {
        if (req.method === 'GET' && new RegExp(`^/v1/projects/${project}/locations/[^/]+/backups$`).test(path)) {
          const { backups, unreachable } = await sim.listBackups();
          const location = path.split('/')[5];
          const inLocation = location === '-' ? backups : backups.filter((b) => b.name.split('/')[3] === location);
          send({ ...(inLocation.length === 0 ? {} : { backups: inLocation }), ...(unreachable.length === 0 ? {} : { unreachable }) });
          return;
        }
        if (req.method === 'POST' && path === `/v1/projects/${project}/databases:restore`) {
          const body = (await readJson(req)) as { databaseId?: unknown; backup?: unknown } | undefined;
          if (typeof body?.databaseId !== 'string' || typeof body.backup !== 'string') {
            res.writeHead(400, JSON_TYPE).end(googleError(400, 'INVALID_ARGUMENT', 'databaseId and backup are required'));
            return;
          }
          send(sim.restResourceOf(await sim.restoreDatabase(body.databaseId, body.backup)));
          return;
        }
        const operation = new RegExp(`^/v1/(projects/${project}/databases/[^/]+/operations/[^/]+)$`).exec(path);
        if (req.method === 'GET' && operation !== null) {
          send(sim.restResourceOf(await sim.getOperation(operation[1] ?? '')));
          return;
        }
        const operations = new RegExp(`^/v1/projects/${project}/databases/([^/]+)/operations$`).exec(path);
        if (req.method === 'GET' && operations !== null) {
          const found = await sim.listOperations(operations[1] ?? '');
          send(found.length === 0 ? {} : { operations: found.map((op) => sim.restResourceOf(op)) });
          return;
        }
        const database = new RegExp(`^/v1/projects/${project}/databases/([^/:]+)$`).exec(path);
        if (req.method === 'DELETE' && database !== null) {
          send(sim.restResourceOf(await sim.deleteDatabase(database[1] ?? '')));
          return;
        }
        res.writeHead(404, JSON_TYPE).end(googleError(404, 'NOT_FOUND', `no such method: ${req.method ?? ''} ${url.pathname}`));
      } catch (error) {
        const http = error instanceof ControlPlaneError && typeof error.details.httpStatus === 'number' ? error.details.httpStatus : 500;
        const status = error instanceof ControlPlaneError && typeof error.details.status === 'string' ? error.details.status : (STATUS_BY_HTTP[http] ?? 'UNKNOWN');
        res.writeHead(http, JSON_TYPE).end(googleError(http, status, error instanceof Error ? error.message : String(error)));
      }
    })();
  });
  return listenLocally(server, options.port);
}

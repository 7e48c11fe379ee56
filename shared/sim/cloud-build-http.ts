/**
 * The simulated Cloud Build served over HTTP on the v1 REST paths, so the real adapter (the
 * Node client over REST) runs against it in `mi dev` and the tests exactly as against Google:
 * builds.create, builds.get and builds.list under `projects/P/locations/L`. Faults injected into
 * the simulator come back as Google's JSON errors with their HTTP status.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { ControlPlaneError } from '../errors.js';
import { listenLocally } from './local-server.js';
import type { SimulatedCloudBuild } from './cloud-build.js';

export interface CloudBuildServer {
  url: string;
  close(): Promise<void>;
}

const STATUS_OF_HTTP: Record<number, string> = { 400: 'INVALID_ARGUMENT', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 409: 'ALREADY_EXISTS', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED' };

async function bodyOf(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text.trim() === '' ? {} : (JSON.parse(text) as unknown);
}

export async function serveCloudBuild(sim: SimulatedCloudBuild, options: { port?: number } = {}): Promise<CloudBuildServer> {
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(body));
    };
    const fail = (error: unknown) => {
      const http = error instanceof ControlPlaneError && typeof error.details.httpStatus === 'number' ? error.details.httpStatus : 500;
      send(http, { error: { code: http, message: error instanceof Error ? error.message : String(error), status: STATUS_OF_HTTP[http] ?? (http >= 500 ? 'UNAVAILABLE' : 'FAILED_PRECONDITION') } });
    };
    void (async (): Promise<void> => {
      try {
        const url = new URL(req.url ?? '/', 'http://cloud-build');
        const path = decodeURIComponent(url.pathname);
        let match: RegExpExecArray | null;
        if ((match = /^\/v1\/(projects\/[^/]+\/locations\/[^/]+)\/builds$/.exec(path))) {
          const parent = match[1] ?? '';
          if (req.method === 'POST') return send(200, await sim.createBuild(parent, await bodyOf(req)));
          if (req.method === 'GET') {
            const pageSize = url.searchParams.get('pageSize');
            const pageToken = url.searchParams.get('pageToken');
            const filter = url.searchParams.get('filter');
            return send(200, await sim.listBuilds(parent, { ...(filter ? { filter } : {}), ...(pageSize ? { pageSize: Number(pageSize) } : {}), ...(pageToken ? { pageToken } : {}) }));
          }
        }
        if ((match = /^\/v1\/(projects\/[^/]+\/locations\/[^/]+\/builds\/[^/:]+)$/.exec(path)) && req.method === 'GET') {
          const build = await sim.getBuild(match[1] ?? '');
          return build === undefined ? send(404, { error: { code: 404, message: 'Requested entity was not found.', status: 'NOT_FOUND' } }) : send(200, build);
        }
        return send(404, { error: { code: 404, message: `no such method: ${req.method ?? ''} ${path}`, status: 'NOT_FOUND' } });
      } catch (error) {
        fail(error);
      }
    })();
  });
  return listenLocally(server, options.port);
}

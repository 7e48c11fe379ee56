/**
 * The simulated applications over HTTP, so the real health probe (shared/gcp/https-health.ts)
 * runs against them in `mi dev` as against an instance's domain: `GET /<domain><path>` is what
 * `https://<domain><path>` would answer (MI_HEALTH_URL http://127.0.0.1:<port>/{domain}). An
 * unknown domain resets the connection, as a name that does not resolve fails; a timeout holds
 * the answer past any probe's deadline.
 */
import { createServer, type Server } from 'node:http';
import type { SimulatedApplications } from './applications.js';
import { listenLocally } from './local-server.js';

export interface ApplicationsServer {
  url: string;
  /** The MI_HEALTH_URL template that reaches these applications. */
  urlTemplate: string;
  close(): Promise<void>;
}

/** How long a "timeout" answer is held: longer than any probe waits. */
const HOLD_MS = 60_000;

export async function serveApplications(sim: SimulatedApplications, options: { port?: number } = {}): Promise<ApplicationsServer> {
  const held = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://applications');
    const [, domain = '', ...rest] = decodeURIComponent(url.pathname).split('/');
    const answer = sim.answer(domain, `/${rest.join('/')}`, HOLD_MS, `http://${req.headers.host ?? ''}${url.pathname}`);
    if (answer.status === null && answer.error?.startsWith('timed out') === true) {
      const timer = setTimeout(() => {
        held.delete(timer);
        req.socket.destroy();
      }, HOLD_MS);
      held.add(timer);
      return;
    }
    if (answer.status === null) {
      req.socket.destroy();
      return;
    }
    res.writeHead(answer.status, { 'content-type': answer.body.startsWith('{') ? 'application/json' : 'text/plain' }).end(answer.body);
  });
  const local = await listenLocally(server, options.port, () => {
    for (const timer of held) clearTimeout(timer);
  });
  return { ...local, urlTemplate: `${local.url}/{domain}` };
}

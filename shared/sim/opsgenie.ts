/**
 * A stand-in for OpsGenie's alerts API (v2), served on 127.0.0.1 for the real adapter:
 * `POST /v2/alerts` with `Authorization: GenieKey <key>`, answered 202 {"result": "Request will
 * be processed", "took", "requestId"} as OpsGenie does. As OpsGenie, an alert whose alias an open
 * alert already has is not created again: the open one's count goes up and nobody is paged twice.
 * A wrong key gets 401, an alert without a message 422.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { listenLocally, type LocalServer } from './local-server.js';

export interface SimulatedAlert {
  alias: string;
  message: string;
  description?: string;
  priority?: string;
  tags?: string[];
  details?: Record<string, string>;
  entity?: string;
  /** How many times it was asked for (1 when created; repeats raise it instead of paging again). */
  count: number;
  createdAt: Date;
}

export interface OpsGenieStandIn extends LocalServer {
  /** The alerts as OpsGenie would list them: one per alias. */
  alerts(): SimulatedAlert[];
  /** Every page that reached a person: one per alias created. */
  pages(): SimulatedAlert[];
}

async function jsonOf(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

export async function serveOpsGenieStandIn(options: { apiKey: string; port?: number; onPage?: (alert: SimulatedAlert) => void }): Promise<OpsGenieStandIn> {
  const byAlias = new Map<string, SimulatedAlert>();
  const paged: SimulatedAlert[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const started = Date.now();
      const answer = (status: number, body: Record<string, unknown>) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ ...body, took: (Date.now() - started) / 1000, requestId: randomUUID() }));
      if (req.method !== 'POST' || req.url !== '/v2/alerts') return answer(404, { message: 'Could not find the requested resource' });
      if (req.headers.authorization !== `GenieKey ${options.apiKey}`) return answer(401, { message: 'Key format is not valid!' });
      const body = (await jsonOf(req)) as Partial<SimulatedAlert> | undefined;
      if (body === undefined || typeof body.message !== 'string' || body.message === '') return answer(422, { message: 'Message can not be empty.' });
      const alias = typeof body.alias === 'string' && body.alias !== '' ? body.alias : randomUUID();
      const open = byAlias.get(alias);
      if (open !== undefined) open.count += 1;
      else {
        const alert: SimulatedAlert = { ...body, alias, message: body.message, count: 1, createdAt: new Date() };
        byAlias.set(alias, alert);
        paged.push(alert);
        options.onPage?.(alert);
      }
      return answer(202, { result: 'Request will be processed' });
    })();
  });
  const local = await listenLocally(server, options.port);
  return { ...local, alerts: () => [...byAlias.values()], pages: () => [...paged] };
}

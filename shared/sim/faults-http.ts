/**
 * The simulated fleet's fault control over HTTP on 127.0.0.1, so `mi dev fault` in another
 * terminal reaches the simulators that live in the `mi dev` process: POST /v1/faults injects
 * one, GET lists those pending, DELETE (optionally ?service=&instance=) clears them. Every body
 * is checked against the schemas of fault-control.ts; a refusal says which field was wrong and
 * what is accepted, in Google's JSON error shape.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { z } from 'zod';
import { faultClearSchema, faultRequestSchema, UnknownFaultTarget, type FaultControl } from './fault-control.js';
import { listenLocally, type LocalServer } from './local-server.js';

async function bodyOf(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text.trim() === '' ? {} : (JSON.parse(text) as unknown);
}

class BadRequest extends Error {}

function parsed<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new BadRequest(`${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
}

/** Serves `control`; `changed` is awaited after an injection or a clear, before the answer (the local stack keeps the state there). */
export async function serveFaults(control: FaultControl, options: { port?: number; changed?: () => Promise<void> } = {}): Promise<LocalServer> {
  const changed = options.changed ?? (() => Promise.resolve());
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(body));
    };
    const refuse = (status: number, message: string) => send(status, { error: { code: status, message, status: status === 404 ? 'NOT_FOUND' : 'INVALID_ARGUMENT' } });
    void (async (): Promise<void> => {
      try {
        const url = new URL(req.url ?? '/', 'http://faults');
        if (url.pathname !== '/v1/faults') return refuse(404, `no such path: ${url.pathname} (the fault control answers /v1/faults)`);
        if (req.method === 'POST') {
          let body: unknown;
          try {
            body = await bodyOf(req);
          } catch {
            throw new BadRequest('body: expected JSON');
          }
          const fault = await control.inject(parsed(faultRequestSchema, body));
          await changed();
          return send(201, fault);
        }
        if (req.method === 'GET') return send(200, { faults: await control.list() });
        if (req.method === 'DELETE') {
          const filter = parsed(faultClearSchema, Object.fromEntries(url.searchParams));
          const cleared = await control.clear(filter);
          await changed();
          return send(200, { cleared });
        }
        return refuse(404, `no such method: ${req.method ?? ''} /v1/faults (POST, GET or DELETE)`);
      } catch (error) {
        if (error instanceof BadRequest) return refuse(400, error.message);
        if (error instanceof UnknownFaultTarget) return refuse(404, error.message);
        send(500, { error: { code: 500, message: error instanceof Error ? error.message : String(error), status: 'INTERNAL' } });
      }
    })();
  });
  return listenLocally(server, options.port);
}

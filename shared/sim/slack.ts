/**
 * A stand-in for Slack's incoming webhooks, served on 127.0.0.1 for the real adapter to post to:
 * `POST /services/<channel>` with the message's JSON, answered as Slack answers (200 "ok"; 400
 * "invalid_payload" without text; 404 "no_service" for a channel it does not serve). `mi dev`
 * prints what it receives; tests read it back. Faults are what it answers: the next posts to a
 * channel get a given status and reason (a 429 with Retry-After, a 500, a 404 of a removed hook).
 */
import { createServer, type IncomingMessage } from 'node:http';
import { listenLocally, type LocalServer } from './local-server.js';

export interface ReceivedSlackMessage {
  channel: string;
  text: string;
  at: Date;
}

export interface SlackStandIn extends LocalServer {
  /** The incoming webhook's URL of a channel. */
  webhookOf(channel: string): string;
  received(channel?: string): ReceivedSlackMessage[];
  /** The next `times` posts to the channel are answered with this status and reason. */
  failNext(channel: string, status: number, reason: string, times?: number): void;
}

async function textOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function serveSlackStandIn(options: { channels: readonly string[]; port?: number; onMessage?: (message: ReceivedSlackMessage) => void }): Promise<SlackStandIn> {
  const messages: ReceivedSlackMessage[] = [];
  const faults = new Map<string, Array<{ status: number; reason: string }>>();
  const served = new Set(options.channels);
  const server = createServer((req, res) => {
    void (async () => {
      const answer = (status: number, body: string, headers: Record<string, string> = {}) => res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(body);
      const channel = /^\/services\/([a-z0-9-]+)$/.exec(req.url ?? '')?.[1];
      const body = await textOf(req);
      if (req.method !== 'POST' || channel === undefined || !served.has(channel)) return answer(404, 'no_service');
      const fault = faults.get(channel)?.shift();
      if (fault !== undefined) return answer(fault.status, fault.reason, fault.status === 429 ? { 'retry-after': '1' } : {});
      let text: unknown;
      try {
        text = (JSON.parse(body) as { text?: unknown }).text;
      } catch {
        return answer(400, 'invalid_payload');
      }
      if (typeof text !== 'string' || text === '') return answer(400, 'no_text');
      const message = { channel, text, at: new Date() };
      messages.push(message);
      options.onMessage?.(message);
      return answer(200, 'ok');
    })();
  });
  const local = await listenLocally(server, options.port);
  return {
    ...local,
    webhookOf: (channel) => `${local.url}/services/${channel}`,
    received: (channel) => messages.filter((m) => channel === undefined || m.channel === channel),
    failNext(channel, status, reason, times = 1) {
      faults.set(channel, [...(faults.get(channel) ?? []), ...Array.from({ length: times }, () => ({ status, reason }))]);
    },
  };
}

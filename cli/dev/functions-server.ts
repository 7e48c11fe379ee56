/**
 * Every registered function behind one HTTP server on the loopback interface, for `mi dev`.
 * The functions framework's CLI serves one target per process and listens on all interfaces,
 * so the stack hosts the framework's own per-function apps (the ones `getTestServer` builds:
 * body parsing, the Pub/Sub push body to CloudEvent conversion, error responses) and routes
 * `/<function>/...` to them. The framework's app matches every path, and finds the topic
 * anywhere in it, so push endpoints are `/<function>/projects/P/topics/T`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getTestServer } from '@google-cloud/functions-framework/testing';

/** What the server saw of one function's requests. */
export interface FunctionStats {
  /** Answered 2xx: Pub/Sub acks the message. */
  succeeded: number;
  /** Answered otherwise: Pub/Sub delivers the message again, then dead-letters it. */
  failed: number;
  inFlight: number;
}

/** One finished request, for the stack's log. */
export interface Delivery {
  functionName: string;
  status: number;
  ms: number;
  path: string;
}

export interface FunctionsServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** The route of each function: `<url>/<name>`. */
  readonly routes: Readonly<Record<string, string>>;
  /** The push endpoint of a function fed by a topic: the path carries the topic, so the CloudEvent's source is right. */
  pushEndpoint(functionName: string, projectId: string, topic: string): string;
  stats(): Record<string, FunctionStats>;
  /** Stops accepting, lets requests in flight finish (up to `graceMs`), then closes every connection. */
  close(graceMs?: number): Promise<void>;
}

export interface ServeFunctionsOptions {
  /** Names registered with the functions framework (import their modules first). */
  functionNames: readonly string[];
  /** 0 (the default) lets the system pick a free port. */
  port?: number;
  onDelivery?: (delivery: Delivery) => void;
}

const HOST = '127.0.0.1';

/** Serves the named functions on 127.0.0.1, one route per function. */
export async function serveFunctions(options: ServeFunctionsOptions): Promise<FunctionsServer> {
  // Never listened on: each is the framework's request handler for one function.
  const apps = new Map<string, Server>(options.functionNames.map((name) => [name, getTestServer(name)]));
  const stats = new Map<string, FunctionStats>(options.functionNames.map((name) => [name, { succeeded: 0, failed: 0, inFlight: 0 }]));
  let idle: (() => void) | undefined;
  const totalInFlight = () => [...stats.values()].reduce((sum, s) => sum + s.inFlight, 0);

  const route = (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? '/';
    const name = path.split('/')[1]?.split('?')[0] ?? '';
    const app = apps.get(name);
    const stat = stats.get(name);
    if (app === undefined || stat === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `no function at ${path}`, functions: [...apps.keys()].map((n) => `/${n}/projects/P/topics/T`) }));
      return;
    }
    const started = Date.now();
    stat.inFlight += 1;
    let counted = false;
    const done = () => {
      if (counted) return;
      counted = true;
      stat.inFlight -= 1;
      const ok = res.writableFinished && res.statusCode >= 200 && res.statusCode < 300;
      if (ok) stat.succeeded += 1;
      else stat.failed += 1;
      options.onDelivery?.({ functionName: name, status: res.writableFinished ? res.statusCode : 0, ms: Date.now() - started, path });
      if (totalInFlight() === 0) idle?.();
    };
    res.once('finish', done);
    res.once('close', done);
    app.emit('request', req, res);
  };

  const server = createServer(route);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${HOST}:${port}`;

  return {
    url,
    port,
    routes: Object.fromEntries(options.functionNames.map((name) => [name, `${url}/${name}`])),
    pushEndpoint: (functionName, projectId, topic) => `${url}/${functionName}/projects/${projectId}/topics/${topic}`,
    stats: () => Object.fromEntries([...stats].map(([name, s]) => [name, { ...s }])),
    async close(graceMs = 5_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (totalInFlight() > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => {
            idle = resolve;
          }),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, graceMs);
          }),
        ]);
        clearTimeout(timer);
      }
      // Pub/Sub keeps its push connections alive; they would hold the server open.
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * `mi dashboard`'s loopback proxy, as `gcloud run services proxy` does it: a browser cannot
 * attach a Google ID token, so a server on 127.0.0.1 forwards each of its requests to the
 * dashboard function with the operator's token in `Authorization` (verified by the function)
 * and `X-Serverless-Authorization` (checked by Cloud Run). Only GET and HEAD pass: the dashboard
 * is read-only, and nothing a page does can send the operator's token anywhere else. The token
 * is kept until shortly before it expires, then asked for again.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeError } from '../shared/errors.js';

/** Where the dashboard is, and how to get a token for it. */
export interface DashboardTarget {
  /** The dashboard function's URL: `https://…/dashboard`, or the local functions server's `http://127.0.0.1:<port>/dashboard`. */
  url: string;
  /** A fresh ID token of the operator. */
  token(): Promise<string>;
  /** Said when the function cannot be reached ("is mi dev running?"). */
  hint: string;
}

export interface DashboardProxy {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export const PROXY_HOST = '127.0.0.1';
const UPSTREAM_TIMEOUT_MS = 30_000;
/** A token is asked for again this long before it expires. */
const TOKEN_MARGIN_MS = 60_000;
/** A token whose expiry cannot be read is kept this long. */
const UNKNOWN_EXPIRY_MS = 4 * 60_000;

/** The expiry of a JWT (its `exp`), in ms since the epoch; undefined when it cannot be read. */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** A token source that asks for a token only when the one it holds is about to expire; one request at a time asks. */
export function cachedToken(get: () => Promise<string>, now: () => number = Date.now): () => Promise<string> {
  let held: { token: string; until: number } | undefined;
  let asking: Promise<string> | undefined;
  return async () => {
    if (held !== undefined && now() < held.until) return held.token;
    asking ??= get().then(
      (token) => {
        const expiry = tokenExpiry(token);
        held = { token, until: expiry === undefined ? now() + UNKNOWN_EXPIRY_MS : expiry - TOKEN_MARGIN_MS };
        asking = undefined;
        return token;
      },
      (error: unknown) => {
        asking = undefined;
        throw error;
      },
    );
    return asking;
  };
}

/** Headers of the upstream answer that are the browser's to see (no hop-by-hop ones, no cookies). */
const PASSED_HEADERS = ['content-type', 'cache-control', 'content-security-policy', 'x-content-type-options', 'referrer-policy', 'retry-after', 'allow', 'www-authenticate', 'location'];

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(`${text}\n`);
}

async function forward(req: IncomingMessage, res: ServerResponse, target: DashboardTarget): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    plain(res, 405, `${req.method ?? 'this method'} is not allowed: the dashboard is read-only`, { allow: 'GET, HEAD' });
    return;
  }
  let token: string;
  try {
    token = await target.token();
  } catch (error) {
    plain(res, 502, `mi dashboard could not get your ID token: ${describeError(error)}`);
    return;
  }
  // The path and query as the browser asked, under the function's URL; nothing else of the request goes on.
  const upstream = `${target.url.replace(/\/+$/, '')}${req.url === '/' || req.url === undefined ? '/' : req.url}`;
  let answer: Response;
  try {
    answer = await fetch(upstream, {
      method: req.method,
      headers: { authorization: `Bearer ${token}`, 'x-serverless-authorization': `Bearer ${token}`, accept: req.headers.accept ?? 'text/html' },
      redirect: 'manual',
      signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
    });
  } catch (error) {
    plain(res, 502, `cannot reach the dashboard at ${target.url}: ${describeError(error)} (${target.hint})`);
    return;
  }
  const body = Buffer.from(await answer.arrayBuffer());
  const headers: Record<string, string> = {};
  for (const name of PASSED_HEADERS) {
    const value = answer.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  res.writeHead(answer.status, { ...headers, 'content-length': String(body.length) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Starts the proxy on 127.0.0.1 (port 0: a free one); refuses a port in use with a message saying so. */
export async function startDashboardProxy(target: DashboardTarget, port = 0): Promise<DashboardProxy> {
  const server: Server = createServer((req, res) => {
    forward(req, res, target).catch((error: unknown) => {
      if (!res.headersSent) plain(res, 500, `mi dashboard failed to forward the request: ${describeError(error)}`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new Error(`port ${port} on ${PROXY_HOST} is in use: pick another with --port, or leave --port out for a free one`, { cause: error }) : error);
    });
    server.listen(port, PROXY_HOST, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://${PROXY_HOST}:${bound}/`,
    port: bound,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

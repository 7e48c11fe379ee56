/**
 * `mi dashboard`'s loopback proxy against a stand-in for the dashboard function: every request
 * it forwards carries the operator's token in both headers and nothing of the browser's own;
 * writes, an unreachable function and a taken port are refused saying so; tokens are kept
 * until shortly before they expire.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedToken, startDashboardProxy, tokenExpiry, type DashboardProxy } from '../../../cli/dashboard-proxy.js';

const jwt = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;

describe('the dashboard proxy', () => {
  const seen: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  let upstream: Server;
  let upstreamUrl = '';
  let proxy: DashboardProxy;
  let tokens = 0;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      res.writeHead(req.url?.startsWith('/dashboard/nowhere') === true ? 404 : 200, { 'content-type': 'text/html; charset=utf-8', 'set-cookie': 'upstream=1', 'cache-control': 'no-store' });
      res.end(`<p>page ${req.url ?? ''}</p>`);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/dashboard`;
    proxy = await startDashboardProxy({ url: upstreamUrl, token: () => Promise.resolve(`token-${(tokens += 1)}`), hint: 'is mi dev running?' });
  });

  afterAll(async () => {
    await proxy.close();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  it('listens on the loopback interface only', () => {
    expect(proxy.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('forwards the path and query under the function\'s URL with the operator\'s token in both headers, and no cookie of the browser', async () => {
    const answer = await fetch(`${proxy.url}operations?list=failed`, { headers: { cookie: 'session=browser', authorization: 'Bearer someone-else' } });
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe('<p>page /dashboard/operations?list=failed</p>');
    const last = seen[seen.length - 1];
    expect(last?.url).toBe('/dashboard/operations?list=failed');
    expect(last?.headers.authorization).toMatch(/^Bearer token-\d+$/);
    expect(last?.headers['x-serverless-authorization']).toBe(last?.headers.authorization);
    expect(last?.headers.cookie).toBeUndefined();
    // Nor does the function's cookie reach the browser.
    expect(answer.headers.get('set-cookie')).toBeNull();
    expect(answer.headers.get('cache-control')).toBe('no-store');
  });

  it('passes the function\'s own refusals through', async () => {
    expect((await fetch(`${proxy.url}nowhere`)).status).toBe(404);
  });

  it('refuses a write: the dashboard is read-only, and the token goes nowhere for one', async () => {
    const before = seen.length;
    const answer = await fetch(proxy.url, { method: 'POST', body: 'x' });
    expect(answer.status).toBe(405);
    expect(answer.headers.get('allow')).toBe('GET, HEAD');
    expect(await answer.text()).toContain('the dashboard is read-only');
    expect(seen.length).toBe(before);
  });

  it('says the function cannot be reached, and what to check', async () => {
    const orphan = await startDashboardProxy({ url: 'http://127.0.0.1:9/dashboard', token: () => Promise.resolve('t'), hint: 'is mi dev running?' });
    try {
      const answer = await fetch(orphan.url);
      expect(answer.status).toBe(502);
      expect(await answer.text()).toMatch(/^cannot reach the dashboard at http:\/\/127\.0\.0\.1:9\/dashboard: .* \(is mi dev running\?\)/);
    } finally {
      await orphan.close();
    }
  });

  it('says when no token can be had', async () => {
    const tokenless = await startDashboardProxy({ url: upstreamUrl, token: () => Promise.reject(new Error('gcloud is not installed')), hint: '' });
    try {
      const answer = await fetch(tokenless.url);
      expect(answer.status).toBe(502);
      expect(await answer.text()).toContain('could not get your ID token: gcloud is not installed');
    } finally {
      await tokenless.close();
    }
  });

  it('refuses a port in use, saying how to choose another', async () => {
    await expect(startDashboardProxy({ url: upstreamUrl, token: () => Promise.resolve('t'), hint: '' }, proxy.port)).rejects.toThrow(`port ${proxy.port} on 127.0.0.1 is in use: pick another with --port`);
  });
});

describe('the token cache', () => {
  it('reads a JWT\'s expiry, or none from what is not one', () => {
    expect(tokenExpiry(jwt({ exp: 1_800_000_000 }))).toBe(1_800_000_000_000);
    expect(tokenExpiry('opaque')).toBeUndefined();
    expect(tokenExpiry(jwt({ sub: 'x' }))).toBeUndefined();
    expect(tokenExpiry('a.!!!.c')).toBeUndefined();
  });

  it('keeps a token until a minute before it expires, then asks again; one ask for concurrent requests', async () => {
    let now = 1_000_000;
    let asked = 0;
    const get = cachedToken(() => Promise.resolve(jwt({ exp: (now + 600_000) / 1000, n: (asked += 1) })), () => now);
    const [a, b] = await Promise.all([get(), get()]);
    expect(a).toBe(b);
    expect(asked).toBe(1);
    now += 530_000;
    expect(await get()).toBe(a);
    now += 20_000;
    expect(await get()).not.toBe(a);
    expect(asked).toBe(2);
  });

  it('asks again after a failure instead of keeping it', async () => {
    let fail = true;
    const get = cachedToken(() => (fail ? Promise.reject(new Error('offline')) : Promise.resolve('opaque')));
    await expect(get()).rejects.toThrow('offline');
    fail = false;
    expect(await get()).toBe('opaque');
  });
});

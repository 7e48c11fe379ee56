/**
 * Where a notice goes, and when many go as one: the routing table (Slack channels by kind and
 * environment, a dev instance's owner by email) and the rate above which a channel gets one
 * digest per kind per interval instead of a message per event. The table holds the incoming
 * webhooks' URLs, which are credentials: it lives in a secret (MI_NOTIFY_ROUTES), and only
 * channel names reach the store and the logs.
 */
import * as z from 'zod';
import { lazySchema } from '../../lazy-schema.js';
import { NOTICE_KINDS, type Notice, type NoticeKind } from './notices.js';

const channelName = lazySchema(() => z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { error: 'expected a channel name: lower-case letters, digits and dashes' }));
const webhookUrl = lazySchema(() => z.url({ protocol: /^https?$/, error: 'expected the https URL of a Slack incoming webhook' }));

export const notifyRoutesSchema = lazySchema(() =>
  z
    .strictObject({
      /** Channel name → its incoming webhook's URL. */
      channels: z.record(channelName, webhookUrl).refine((c) => Object.keys(c).length > 0, { error: 'expected at least one channel' }),
      /** The first route that matches a notice takes it; a route without kinds or environments matches any. */
      routes: z
        .array(
          z.strictObject({
            kinds: z.array(z.enum(NOTICE_KINDS)).min(1).optional(),
            environments: z.array(z.enum(['dev', 'prod', 'fleet'])).min(1).optional(),
            channel: channelName,
          }),
        )
        .default([]),
      /** Where a notice no route takes goes. */
      fallback: channelName,
      /** A dev instance's owner → the channel (a direct-message webhook) their expiry notices go to. */
      owners: z.record(z.email(), channelName).default({}),
      /** At most `messages` per channel and kind in `seconds`; beyond that, one digest per channel, kind and interval. */
      rate: z.strictObject({ messages: z.number().int().min(1).max(100), seconds: z.number().int().min(10).max(3600) }).default({ messages: 5, seconds: 60 }),
    })
    .superRefine((routes, ctx) => {
      const known = new Set(Object.keys(routes.channels));
      const check = (name: string, path: (string | number)[]) => {
        if (!known.has(name)) ctx.addIssue({ code: 'custom', path, message: `no channel named ${name} in channels (${[...known].join(', ')})` });
      };
      check(routes.fallback, ['fallback']);
      routes.routes.forEach((r, i) => check(r.channel, ['routes', i, 'channel']));
      for (const [owner, name] of Object.entries(routes.owners)) check(name, ['owners', owner]);
    }),
);
export type NotifyRoutes = z.infer<typeof notifyRoutesSchema>;

/** Reads the routing table from its secret's JSON, saying what is wrong where. */
export function parseNotifyRoutes(json: string): NotifyRoutes {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new Error(`MI_NOTIFY_ROUTES is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = notifyRoutesSchema.safeParse(value);
  if (!parsed.success) throw new Error(`MI_NOTIFY_ROUTES: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** The channel a notice goes to: its owner's for a dev expiry, else the first matching route's, else the fallback. */
export function channelFor(notice: Pick<Notice, 'kind' | 'scope' | 'owner'>, routes: NotifyRoutes): string {
  if (notice.kind === 'dev-expiry' && notice.owner !== undefined) {
    const own = routes.owners[notice.owner];
    if (own !== undefined) return own;
  }
  const route = routes.routes.find((r) => (r.kinds === undefined || r.kinds.includes(notice.kind)) && (r.environments === undefined || r.environments.includes(notice.scope)));
  return route?.channel ?? routes.fallback;
}

/** The interval a notice falls in, for its channel and kind: a digest gathers one interval. */
export function windowOf(channel: string, kind: NoticeKind, at: Date, seconds: number): { key: string; start: Date; end: Date } {
  const startMs = Math.floor(at.getTime() / (seconds * 1000)) * seconds * 1000;
  const start = new Date(startMs);
  return { key: `${channel}|${kind}|${start.toISOString()}`, start, end: new Date(startMs + seconds * 1000) };
}

/** Sent at once while the interval has room; held for the interval's digest once it has not. */
export function deliveryOf(sentInWindow: number, rate: NotifyRoutes['rate']): 'send' | 'hold' {
  return sentInWindow < rate.messages ? 'send' : 'hold';
}

/**
 * The notifier (the `notify` function on `mi-events`): tells people what needs them. Each
 * notice (shared/domain/notify) goes to one Slack channel at least once and, across
 * redeliveries, once: a document per event and channel records it before the post and after.
 * Above the channel's rate, notices are held and the schedule's tick sends one digest per
 * channel, kind and interval with every one of them. A notice that needs someone now also pages
 * through OpsGenie, under the event id as alias, so a repeat never pages twice.
 */
import type { AnyEnvelope, InstanceRecord } from '../events/index.js';
import { ControlPlaneError, describeError, isRetryable } from '../errors.js';
import type { Logger } from '../log.js';
import type { Clock, PagerPort, SlackPort, StateStore } from '../ports.js';
import { isGranted } from '../service-composition.js';
import { COLLECTIONS, paths } from '../store/collections.js';
import { digestOf, messageOf, pageOf } from '../domain/notify/messages.js';
import { noticeOf, type Notice } from '../domain/notify/notices.js';
import { channelFor, deliveryOf, windowOf, type NotifyRoutes } from '../domain/notify/routes.js';

export interface NotifierDeps {
  store: StateStore;
  clock: Clock;
  log: Logger;
  slack: SlackPort;
  /** Not granted where no OpsGenie key is configured: a page is then logged as an error, not sent. */
  pager: PagerPort;
  routes: NotifyRoutes;
  /** How long a digest being sent is left to its sender before another tick sends it. */
  claimMs?: number;
}

/** A notification as stored: the notice, where it went, and how far it got. */
export interface NotificationRecord extends Notice {
  channel: string;
  window: string;
  windowEnd: Date;
  status: 'sending' | 'sent' | 'held' | 'digesting' | 'failed';
  createdAt: Date;
  sentAt?: Date;
  /** The digest (its interval's key) it went out in. */
  digest?: string;
  claimedAt?: Date;
  failure?: string;
  paged?: 'paged' | 'no-pager' | 'failed';
  expireAt: Date;
}

export type NotifyOutcome =
  | { kind: 'ignored'; reason: string }
  | { kind: 'duplicate'; channel: string; status: NotificationRecord['status'] }
  | { kind: 'sent' | 'held'; channel: string; paged?: NotificationRecord['paged'] }
  | { kind: 'failed'; channel: string; reason: string };

const RETENTION_DAYS = 90;
const DIGEST_BATCH = 500;

export function createNotifier(deps: NotifierDeps) {
  const claimMs = deps.claimMs ?? 5 * 60_000;

  async function factsOf(instanceId: string | undefined) {
    if (instanceId === undefined) return undefined;
    const instance = await deps.store.get<InstanceRecord>(paths.instance(instanceId));
    if (instance === undefined) return undefined;
    return { environment: instance.environment, tier: instance.tier, ...(instance.owner === undefined ? {} : { owner: instance.owner }) };
  }

  async function page(notice: Notice): Promise<NotificationRecord['paged']> {
    if (!isGranted(deps.pager)) {
      deps.log.error('a notice needs a person now but no pager is configured (MI_OPSGENIE_KEY): it is only posted', new Error('no pager'), { eventId: notice.eventId, kind: notice.kind });
      return 'no-pager';
    }
    try {
      await deps.pager.page(pageOf(notice));
      return 'paged';
    } catch (error) {
      if (isRetryable(error)) throw error;
      deps.log.error('OpsGenie refused a page; the notice is still posted', error, { eventId: notice.eventId, kind: notice.kind });
      return 'failed';
    }
  }

  /** Posts a claimed notification and records the outcome: a permanent refusal is recorded, a transient one thrown for redelivery. */
  async function post(path: string, record: NotificationRecord): Promise<NotifyOutcome> {
    const url = deps.routes.channels[record.channel];
    try {
      await deps.slack.post(url, messageOf(record));
    } catch (error) {
      if (isRetryable(error)) throw error;
      const reason = describeError(error).slice(0, 500);
      deps.log.error('Slack refused a notification for good: recorded as failed', error, { eventId: record.eventId, channel: record.channel });
      await deps.store.transaction(async (tx) => {
        tx.update(path, { status: 'failed', failure: reason });
        return Promise.resolve();
      });
      return { kind: 'failed', channel: record.channel, reason };
    }
    await deps.store.transaction(async (tx) => {
      tx.update(path, { status: 'sent', sentAt: deps.clock.now() });
      return Promise.resolve();
    });
    return { kind: 'sent', channel: record.channel, ...(record.paged === undefined ? {} : { paged: record.paged }) };
  }

  return {
    /** One event from `mi-events`: told to its channel once (or held for a digest), and paged when it needs someone now. */
    async notify(envelope: AnyEnvelope): Promise<NotifyOutcome> {
      const notice = noticeOf(envelope, await factsOf(envelope.instanceId));
      if (notice === undefined) return { kind: 'ignored', reason: `${envelope.type} needs no person` };
      const channel = channelFor(notice, deps.routes);
      const path = paths.notification(notice.eventId, channel);
      const existing = await deps.store.get<NotificationRecord>(path);
      // Posted, held for its digest, or refused for good: told (or recorded) already. One left
      // `sending` by a crash between the claim and the post is posted again: at least once.
      if (existing !== undefined && existing.status !== 'sending') return { kind: 'duplicate', channel, status: existing.status };
      const paged = notice.page ? await page(notice) : undefined;
      const now = deps.clock.now();
      const window = windowOf(channel, notice.kind, now, deps.routes.rate.seconds);
      const record: NotificationRecord =
        existing ??
        (await (async () => {
          const sentInWindow = await deps.store.count({ collection: COLLECTIONS.notifications, where: [{ field: 'window', op: '==', value: window.key }] });
          const delivery = deliveryOf(sentInWindow, deps.routes.rate);
          return {
            ...notice,
            channel,
            window: window.key,
            windowEnd: window.end,
            status: delivery === 'send' ? ('sending' as const) : ('held' as const),
            createdAt: now,
            ...(paged === undefined ? {} : { paged }),
            expireAt: new Date(now.getTime() + RETENTION_DAYS * 86_400_000),
          };
        })());
      if (existing === undefined) {
        try {
          await deps.store.create(path, record);
        } catch (error) {
          // Another delivery of the same event claimed it first: it tells.
          if (error instanceof ControlPlaneError && error.code === 'already-exists') return { kind: 'duplicate', channel, status: 'sending' };
          throw error;
        }
      }
      if (record.status === 'held') return { kind: 'held', channel, ...(paged === undefined ? {} : { paged }) };
      return post(path, record);
    },

    /** The schedule's tick: one digest per channel, kind and ended interval, with every notice held in it. */
    async sendDueDigests(): Promise<{ kind: 'digests'; digests: number; notices: number }> {
      const now = deps.clock.now();
      const due = await deps.store.query<NotificationRecord>({
        collection: COLLECTIONS.notifications,
        where: [
          { field: 'status', op: 'in', value: ['held', 'digesting'] },
          { field: 'windowEnd', op: '<=', value: now },
        ],
        orderBy: [{ field: 'windowEnd' }],
        limit: DIGEST_BATCH,
      });
      const windows = new Map<string, string[]>();
      for (const doc of due) {
        // A digest another tick is sending is its own until its claim runs out.
        if (doc.data.status === 'digesting' && doc.data.claimedAt !== undefined && now.getTime() - new Date(doc.data.claimedAt).getTime() < claimMs) continue;
        windows.set(doc.data.window, [...(windows.get(doc.data.window) ?? []), doc.path]);
      }
      let digests = 0;
      let notices = 0;
      for (const [key, notificationPaths] of windows) {
        // Claimed in one transaction: of two ticks, one sends this digest.
        const claimed = await deps.store.transaction(async (tx) => {
          const records = await tx.getAll<NotificationRecord>(notificationPaths);
          const mine = records.flatMap((r, i) => {
            if (r === undefined) return [];
            const stale = r.status === 'digesting' && (r.claimedAt === undefined || now.getTime() - new Date(r.claimedAt).getTime() >= claimMs);
            return r.status === 'held' || stale ? [{ path: notificationPaths[i], record: r }] : [];
          });
          for (const m of mine) tx.update(m.path, { status: 'digesting', claimedAt: now });
          return mine;
        });
        if (claimed.length === 0) continue;
        const first = claimed[0]?.record;
        const url = deps.routes.channels[first.channel];
        const parts = digestOf(first.kind, { start: new Date(new Date(first.windowEnd).getTime() - deps.routes.rate.seconds * 1000), end: new Date(first.windowEnd) }, claimed.map((c) => c.record));
        let refused: string | undefined;
        try {
          if (url === undefined) throw new ControlPlaneError('failed-precondition', `no channel named ${first.channel} in MI_NOTIFY_ROUTES any more`, { retryable: false });
          for (const part of parts) await deps.slack.post(url, part);
        } catch (error) {
          if (isRetryable(error)) throw error;
          refused = describeError(error).slice(0, 500);
          deps.log.error('Slack refused a digest for good: its notices are recorded as failed', error, { channel: first.channel, window: key, notices: claimed.length });
        }
        await deps.store.transaction(async (tx) => {
          for (const c of claimed) tx.update(c.path, refused === undefined ? { status: 'sent', sentAt: deps.clock.now(), digest: key } : { status: 'failed', failure: refused });
          return Promise.resolve();
        });
        digests += 1;
        notices += claimed.length;
      }
      return { kind: 'digests', digests, notices };
    },
  };
}

export type Notifier = ReturnType<typeof createNotifier>;

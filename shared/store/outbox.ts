/**
 * The outbox: events decided inside a transaction are written to `outbox/` there, published
 * after the commit, deleted once published, and republished by the reconciler when a publish
 * was lost. Consumers deduplicate by event id, so publishing twice is harmless.
 */
import type { OnceOutbox } from '../ports.js';
import { enqueueEnvelope, type OutboxEntry } from './records.js';
import type { Envelope } from '../events/index.js';
import { ALERT_KIND_LOG_FIELD, type Logger } from '../log.js';
import type { Clock, EventBus, StateStore } from '../ports.js';
import { COLLECTIONS, paths } from './collections.js';

/** What publishing the outbox needs: the store it is kept in, the bus, somewhere to say a publish failed. */
export interface OutboxDeps {
  store: StateStore;
  bus: EventBus;
  log: Logger;
}

/** Publishes entries just committed; a failure leaves them for the reconciler. Returns how many were published. */
export async function publishOutbox(deps: OutboxDeps, entries: readonly OutboxEntry[]): Promise<number> {
  let published = 0;
  await Promise.all(
    entries.map(async (entry) => {
      try {
        await deps.bus.publish(entry.topic, entry.envelope, entry.orderingKey ? { orderingKey: entry.orderingKey } : {});
        await deps.store.delete(paths.outbox(entry.envelope.eventId));
        published += 1;
        if (entry.envelope.type === 'alert') logAlert(deps.log, entry.envelope);
      } catch (error) {
        deps.log.warn('outbox publish failed; the reconciler will retry it', {
          eventId: entry.envelope.eventId,
          topic: entry.topic,
          error: String(error),
        });
      }
    }),
  );
  return published;
}

/** One line per alert published, for the log-based alert policies (a republish after a crash may log it twice; their rate limit absorbs it). */
function logAlert(log: Logger, envelope: Envelope<'alert'>): void {
  const { kind, severity, summary } = envelope.payload;
  log.warn(`alert published: ${summary}`, { [ALERT_KIND_LOG_FIELD]: kind ?? 'unkinded', alertSeverity: severity, alertEventId: envelope.eventId, ...(envelope.instanceId === undefined ? {} : { instanceId: envelope.instanceId }) });
}

/** Republishes what was left behind: entries older than `graceMs`, oldest first. */
export async function drainOutbox(
  deps: OutboxDeps & { clock: Clock },
  options: { graceMs?: number; limit?: number } = {},
): Promise<{ found: number; published: number }> {
  const cutoff = new Date(deps.clock.now().getTime() - (options.graceMs ?? 0)).toISOString();
  const left = await deps.store.query<OutboxEntry>({
    collection: COLLECTIONS.outbox,
    where: [{ field: 'createdAt', op: '<=', value: cutoff }],
    orderBy: [{ field: 'createdAt', direction: 'asc' }],
    limit: options.limit ?? 200,
  });
  const published = await publishOutbox(deps, left.map((doc) => doc.data));
  return { found: left.length, published };
}

/**
 * The outbox as the executor's Pub/Sub adapter uses it: each run is requested once (a marker
 * under its key, written with the outbox entry), however often a step is retried or taken over.
 */
export function createOnceOutbox(deps: OutboxDeps & { clock: Clock }): OnceOutbox {
  return {
    async sendOnce(key, topic, envelope, expireAt) {
      const entries = await deps.store.transaction(async (tx) => {
        if ((await tx.get(paths.executorRequest(key))) !== undefined) return [];
        const now = deps.clock.now();
        tx.create(paths.executorRequest(key), { eventId: envelope.eventId, topic, sentAt: now.toISOString(), expireAt });
        return [enqueueEnvelope(tx, topic, envelope, now)];
      });
      await publishOutbox(deps, entries);
    },
  };
}

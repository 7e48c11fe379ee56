/**
 * The one Pub/Sub edge, in the spirit of firebase-functions' `onMessagePublished`: every function
 * fed by a topic receives its messages through `deliver`. It reads the Pub/Sub message; tells a
 * Cloud Scheduler tick (`{ schedule }`) from an event; decodes and validates the envelope against
 * the types the function accepts; records what cannot be decoded (ledger and audit, under its event
 * id or `msg-<message id>`) and acknowledges it; hands typed envelopes to the service; and turns
 * the service's failures into the delivery's outcome: retryable, thrown (Pub/Sub redelivers);
 * permanent, recorded under a minimal ledger entry and acknowledged. Nothing is redelivered forever.
 */
import { describeError, isRetryable } from './errors.js';
import { operationIdFor } from './domain/lifecycle/model.js';
import { decodeJsonData, decodePubSubEvent, DecodeError, LIFECYCLE_COMMANDS, messageLedgerKey, readPubSubMessage, type AnyEnvelope, type DeliveredMessage, type EventType } from './events/index.js';
import { addLogLabels, type Logger, type LogLabel } from './log.js';
import type { Clock, EventBus, StateStore } from './ports.js';
import { publishOutbox } from './store/outbox.js';
import { recordUndecodable, recordUnprocessable } from './store/records.js';

/** What the edge itself needs: where to record a message, and the bus for the rejection it publishes. */
export interface EdgeDeps {
  store: StateStore;
  bus: EventBus;
  clock: Clock;
  log: Logger;
}

/** How one function takes its topic's messages. */
export interface MessageRoute<R> {
  /** The function's topology name: the source its records name. */
  function: string;
  /** The event types it accepts (any other is recorded as invalid). */
  accepts: readonly EventType[];
  onEnvelope?: (envelope: AnyEnvelope, message: DeliveredMessage) => Promise<R>;
  /** A Cloud Scheduler job's tick on this topic (its body and attributes name the schedule). */
  onSchedule?: (schedule: string, message: DeliveredMessage) => Promise<R>;
  /**
   * Messages that are not our envelopes (another service's notifications, such as Cloud Build's):
   * the raw data and attributes. A DecodeError it throws is recorded under the message id (a
   * message that cannot be read has no key of its own).
   */
  onForeignMessage?: (data: string | undefined, message: DeliveredMessage) => Promise<R>;
  /**
   * The key a foreign message's outcome is recorded under when it has one of its own (a build
   * notification's: its run and claimed end), so a failure for good is recorded where its success
   * would have been; the message id's otherwise. Must not throw.
   */
  foreignLedgerKey?: (data: string | undefined, message: DeliveredMessage) => string | undefined;
}

export type EdgeOutcome =
  /** Not even a Pub/Sub message, and no id to record it under: redelivery cannot help. */
  | { kind: 'unreadable'; reason: string }
  /** Could not be decoded: recorded, acknowledged. */
  | { kind: 'invalid'; ledgerKey: string; reason: string; duplicate: boolean }
  /** Failed for a permanent reason: recorded under a minimal entry, acknowledged. */
  | { kind: 'unprocessable'; ledgerKey: string; reason: string }
  /** Another function's schedule tick on a shared topic: acknowledged, nothing recorded. */
  | { kind: 'ignored'; reason: string };

/**
 * The schedule a tick names: the static body Cloud Scheduler sends, or the attribute it sets.
 * An envelope is never a tick, whatever its attributes say: `mi compliance run` labels its
 * request with the schedule too, and its run is its own, not the slot's.
 */
function scheduleOf(message: DeliveredMessage, data: string | undefined): string | undefined {
  let body: unknown;
  try {
    body = decodeJsonData(data);
  } catch {
    body = undefined;
  }
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const keys = Object.keys(body);
    if (keys.length === 1 && keys[0] === 'schedule') {
      const named = (body as { schedule: unknown }).schedule;
      return typeof named === 'string' ? named : undefined;
    }
    if ('type' in body || 'eventId' in body) return undefined;
  }
  return message.attributes.schedule || undefined;
}

/** Hands one delivered message to its function's service, as the edge rules say. */
export async function deliver<R>(deps: EdgeDeps, route: MessageRoute<R>, cloudEvent: unknown): Promise<R | EdgeOutcome> {
  let read: ReturnType<typeof readPubSubMessage> | undefined;
  try {
    read = readPubSubMessage(cloudEvent);
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error;
  }
  const schedule = read === undefined ? undefined : scheduleOf(read.message, read.data);
  if (read !== undefined && schedule !== undefined && route.onSchedule !== undefined) {
    const { message } = read;
    return orRecorded(deps, route, messageLedgerKey(message.messageId), message, () => (route.onSchedule as NonNullable<typeof route.onSchedule>)(schedule, message));
  }
  // A schedule's tick on a topic several functions share (notify-digests on mi-events) is for the one that takes it.
  if (schedule !== undefined && route.onSchedule === undefined && route.onForeignMessage === undefined) {
    return { kind: 'ignored', reason: `the ${schedule} schedule's tick is for another function on this topic` };
  }
  if (route.onForeignMessage !== undefined) {
    if (read === undefined) return { kind: 'unreadable', reason: 'not a Pub/Sub message' };
    const { message, data } = read;
    const ledgerKey = route.foreignLedgerKey?.(data, message) ?? messageLedgerKey(message.messageId);
    addLogLabels({ event: ledgerKey });
    const onForeign = route.onForeignMessage;
    return orRecorded(deps, route, ledgerKey, message, async () => {
      try {
        return await onForeign(data, message);
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        const recorded = await recordUndecodable(deps, ledgerKey, error, message, route.function);
        await publishOutbox(deps, recorded.outbox);
        return { kind: 'invalid' as const, ledgerKey, reason: error.message, duplicate: recorded.duplicate };
      }
    });
  }
  let decoded;
  try {
    decoded = decodePubSubEvent(cloudEvent, route.accepts);
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error;
    deps.log.warn('dropping an event that is not a Pub/Sub message', { function: route.function, reason: error.message });
    return { kind: 'unreadable', reason: error.message };
  }
  if (!decoded.ok) {
    const { ledgerKey, error, message } = decoded;
    addLogLabels({ event: ledgerKey });
    return orRecorded(deps, route, ledgerKey, message, async () => {
      const recorded = await recordUndecodable(deps, ledgerKey, error, message, route.function);
      await publishOutbox(deps, recorded.outbox);
      return { kind: 'invalid' as const, ledgerKey, reason: error.message, duplicate: recorded.duplicate };
    });
  }
  const { envelope, message } = decoded;
  addLogLabels(labelsOf(envelope));
  const onEnvelope = route.onEnvelope;
  if (onEnvelope === undefined) throw new Error(`function ${route.function} accepts envelopes but has no handler for them`);
  return orRecorded(deps, route, envelope.eventId, message, () => onEnvelope(envelope, message));
}

/** What a message's log lines are about: its event, instance, and the operation and rollout it names or starts. */
export function labelsOf(envelope: AnyEnvelope): Partial<Record<LogLabel, string>> {
  const payload = envelope.payload as { operationId?: unknown; rolloutId?: unknown };
  const named = typeof payload.operationId === 'string' ? payload.operationId : undefined;
  const operation = named ?? ((LIFECYCLE_COMMANDS as readonly string[]).includes(envelope.type) ? operationIdFor(envelope.eventId) : undefined);
  return {
    event: envelope.eventId,
    ...(envelope.instanceId === undefined ? {} : { instance: envelope.instanceId }),
    ...(operation === undefined ? {} : { operation }),
    ...(typeof payload.rolloutId === 'string' ? { rollout: payload.rolloutId } : {}),
  };
}

/** Runs the work; a permanent failure is recorded under a minimal ledger entry and acknowledged, a retryable one thrown. */
async function orRecorded<T>(deps: EdgeDeps, route: MessageRoute<unknown>, ledgerKey: string, message: DeliveredMessage, work: () => Promise<T>): Promise<T | EdgeOutcome> {
  try {
    return await work();
  } catch (error) {
    if (isRetryable(error)) throw error;
    deps.log.error('a message failed for good; recorded without its content', error, { ledgerKey, function: route.function });
    await recordUnprocessable(deps, ledgerKey, message, route.function, error);
    return { kind: 'unprocessable', ledgerKey, reason: describeError(error).slice(0, 200) };
  }
}

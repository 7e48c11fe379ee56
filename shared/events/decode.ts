import { createHash } from 'node:crypto';
import * as z from 'zod';
import { lazySchema } from '../lazy-schema.js';
import { DecodeError, issueToDecodeError, parseEnvelope, type AnyEnvelope, type EventType } from './envelope.js';

/** The Pub/Sub message inside a CloudEvent of type google.cloud.pubsub.topic.v1.messagePublished. */
const pubSubCloudEventSchema = lazySchema(() =>
  z.object(
    {
      data: z.object(
        {
          message: z.object(
            {
              data: z.string({ error: 'expected base64 text' }).optional(),
              attributes: z
                .record(z.string(), z.string({ error: 'expected a string (attribute values are strings)' }), {
                  error: 'expected attributes (an object of strings)',
                })
                .optional(),
              messageId: z.string({ error: 'expected the Pub/Sub message id' }).optional(),
              message_id: z.string({ error: 'expected the Pub/Sub message id' }).optional(),
              publishTime: z.string({ error: 'expected the publish time (a string)' }).optional(),
              publish_time: z.string({ error: 'expected the publish time (a string)' }).optional(),
            },
            { error: 'expected a Pub/Sub message' },
          ),
          subscription: z.string({ error: 'expected a subscription name (a string)' }).optional(),
        },
        { error: 'expected CloudEvent data holding a Pub/Sub message' },
      ),
    },
    { error: 'expected a CloudEvent' },
  ),
);

/** What Pub/Sub says about a delivered message, beside its content. */
export interface DeliveredMessage {
  messageId: string;
  publishTime: string;
  attributes: Record<string, string>;
  subscription?: string;
}

export type Decoded =
  | { ok: true; envelope: AnyEnvelope; message: DeliveredMessage }
  | { ok: false; error: DecodeError; message: DeliveredMessage; ledgerKey: string };

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Reads the message metadata and its raw bytes; throws a DecodeError when there is no message. */
export function readPubSubMessage(cloudEvent: unknown): { message: DeliveredMessage; data: string | undefined } {
  const parsed = pubSubCloudEventSchema.safeParse(cloudEvent, { reportInput: true });
  if (!parsed.success) throw issueToDecodeError('cloudevent', parsed.error, []);
  const raw = parsed.data.data.message;
  const messageId = raw.messageId ?? raw.message_id;
  if (messageId === undefined) {
    throw new DecodeError('cloudevent', 'data.message.messageId', 'is missing (expected the Pub/Sub message id)');
  }
  return {
    message: {
      messageId,
      publishTime: raw.publishTime ?? raw.publish_time ?? new Date(0).toISOString(),
      attributes: raw.attributes ?? {},
      ...(parsed.data.data.subscription === undefined ? {} : { subscription: parsed.data.data.subscription }),
    },
    data: raw.data,
  };
}

/** Decodes base64 text into JSON, failing with the stage at fault. */
export function decodeJsonData(data: string | undefined): unknown {
  if (data === undefined || data === '') throw new DecodeError('base64', 'data.message.data', 'is missing (the message has no data)');
  if (!BASE64.test(data)) throw new DecodeError('base64', 'data.message.data', 'is not valid base64');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(data, 'base64'));
  } catch {
    throw new DecodeError('utf8', 'data.message.data', 'is not UTF-8 text');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // The parser's message may quote the input: keep only its start.
    throw new DecodeError('json', 'data.message.data', `is not JSON (${(error as Error).message.slice(0, 120)})`);
  }
}

const SAFE_MESSAGE_ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * The ledger key of a message without a usable event id: `msg-<Pub/Sub message id>`. Pub/Sub's
 * ids are digits; anything else (a forged push) is hashed, so the key is always a valid,
 * short Firestore document id.
 */
export function messageLedgerKey(messageId: string): string {
  if (SAFE_MESSAGE_ID.test(messageId)) return `msg-${messageId}`;
  return `msg-h-${createHash('sha256').update(messageId).digest('hex').slice(0, 40)}`;
}

/** The CloudEvent's own id, which the functions framework sets to the Pub/Sub message id. */
function cloudEventId(cloudEvent: unknown): string | undefined {
  if (typeof cloudEvent !== 'object' || cloudEvent === null || !('id' in cloudEvent)) return undefined;
  return typeof cloudEvent.id === 'string' && cloudEvent.id !== '' ? cloudEvent.id : undefined;
}

/**
 * The one decoder from a Pub/Sub CloudEvent to an envelope of an allowed type. A failure
 * carries the key to record it under: the event id when there is one, else `msg-<messageId>`
 * (the CloudEvent id when the message itself is unreadable). Throws a DecodeError only when
 * the event has no id at all, so there is nothing to record the failure under.
 */
export function decodePubSubEvent(cloudEvent: unknown, allowed: readonly EventType[]): Decoded {
  let read: ReturnType<typeof readPubSubMessage>;
  try {
    read = readPubSubMessage(cloudEvent);
  } catch (error) {
    const id = cloudEventId(cloudEvent);
    if (!(error instanceof DecodeError) || id === undefined) throw error;
    const message: DeliveredMessage = { messageId: id, publishTime: new Date(0).toISOString(), attributes: {} };
    return { ok: false, error, message, ledgerKey: messageLedgerKey(id) };
  }
  const { message, data } = read;
  try {
    const envelope = parseEnvelope(decodeJsonData(data), allowed);
    return { ok: true, envelope, message };
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error;
    return { ok: false, error, message, ledgerKey: error.eventId ?? messageLedgerKey(message.messageId) };
  }
}

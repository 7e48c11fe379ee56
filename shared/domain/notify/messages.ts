/**
 * What a person reads: one Slack message per notice, or a digest listing every notice of one
 * kind held in one interval (split in parts when Slack's limits would cut it, never shortened).
 */
import type { Notice, NoticeKind } from './notices.js';

export interface SlackText {
  /** The message (Slack's mrkdwn), also its notification preview. */
  text: string;
}

const MARK: Record<Notice['severity'], string> = { info: ':information_source:', warning: ':warning:', critical: ':rotating_light:' };
/** Slack truncates a message's text past 40,000 characters; a digest part stays well under it. */
const DIGEST_PART_CHARS = 30_000;

function scopeOf(notice: Pick<Notice, 'scope' | 'instanceId'>): string {
  return notice.instanceId === undefined ? notice.scope : `${notice.scope}/${notice.instanceId}`;
}

export function messageOf(notice: Notice): SlackText {
  const owner = notice.owner === undefined ? '' : `\nowner: ${notice.owner}`;
  return { text: `${MARK[notice.severity]} *${notice.title}* [${scopeOf(notice)}]\n${notice.text}${owner}\n_event ${notice.eventId} at ${notice.at}_` };
}

/** The digest of one kind's notices held in one interval: every one of them, in as many parts as it takes. */
export function digestOf(kind: NoticeKind, interval: { start: Date; end: Date }, notices: readonly Notice[]): SlackText[] {
  const sorted = [...notices].sort((a, b) => a.at.localeCompare(b.at) || a.eventId.localeCompare(b.eventId));
  const lines = sorted.map((n) => `• ${n.title} [${scopeOf(n)}]: ${n.text.split('\n')[0] ?? ''} _(event ${n.eventId})_`);
  const parts: string[][] = [[]];
  let size = 0;
  for (const line of lines) {
    const current = parts[parts.length - 1];
    if (size + line.length > DIGEST_PART_CHARS && current.length > 0) {
      parts.push([line]);
      size = line.length;
    } else {
      current.push(line);
      size += line.length + 1;
    }
  }
  const worst = sorted.some((n) => n.severity === 'critical') ? 'critical' : sorted.some((n) => n.severity === 'warning') ? 'warning' : 'info';
  return parts.map((part, i) => ({
    text: `${MARK[worst]} *${sorted.length} ${kind} notices between ${interval.start.toISOString()} and ${interval.end.toISOString()}* (a digest: more than the channel's rate)${parts.length > 1 ? ` part ${i + 1} of ${parts.length}` : ''}\n${part.join('\n')}`,
  }));
}

/** An OpsGenie alert for a notice that pages: its event id is the alias, so a repeat does not page twice. */
export interface PageRequest {
  alias: string;
  message: string;
  description: string;
  priority: 'P1' | 'P2' | 'P3';
  tags: string[];
  details: Record<string, string>;
  entity?: string;
  source: string;
}

export function pageOf(notice: Notice): PageRequest {
  return {
    alias: notice.eventId,
    // OpsGenie keeps 130 characters of an alert's message.
    message: notice.title.slice(0, 130),
    description: notice.text.slice(0, 15_000),
    priority: notice.kind === 'break-glass' ? 'P2' : 'P1',
    tags: [notice.kind, notice.scope],
    details: { eventId: notice.eventId, kind: notice.kind, scope: notice.scope, ...(notice.instanceId === undefined ? {} : { instanceId: notice.instanceId }) },
    ...(notice.instanceId === undefined ? {} : { entity: notice.instanceId }),
    source: 'managed-instance-control-plane',
  };
}

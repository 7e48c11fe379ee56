/**
 * Notifications on the local stack: a Slack stand-in that prints every message the notifier
 * posts (through the production Slack adapter, to its incoming-webhook URLs), and an OpsGenie
 * stand-in that prints every page (through the production OpsGenie adapter), deduplicating by
 * alias as OpsGenie does. The routing table sends prod to #oncall, dev to #dev, and each seeded
 * dev instance's expiry to its owner's direct messages.
 */
import type { NotifyRoutes } from '../../shared/domain/notify/routes.js';
import { createOpsGeniePager } from '../../shared/gcp/opsgenie.js';
import { createSlackWebhookPoster } from '../../shared/gcp/slack-webhook.js';
import type { PagerPort, SlackPort } from '../../shared/ports.js';
import { serveOpsGenieStandIn, type OpsGenieStandIn } from '../../shared/sim/opsgenie.js';
import { serveSlackStandIn, type SlackStandIn } from '../../shared/sim/slack.js';
import type { UndoStack } from './undo.js';

export const LOCAL_PAGER_KEY = 'local-opsgenie-key';
const CHANNELS = ['oncall', 'dev', 'fleet', 'dm-owners'] as const;

export interface LocalNotifications {
  routes: NotifyRoutes;
  slack: SlackPort;
  pager: PagerPort;
  slackStandIn: SlackStandIn;
  pagerStandIn: OpsGenieStandIn;
}

export async function runNotificationStandIns(undo: UndoStack, print: (line: string) => void, owners: readonly string[] = []): Promise<LocalNotifications> {
  const slackStandIn = await serveSlackStandIn({
    channels: CHANNELS,
    onMessage: (m) => print(`slack #${m.channel}: ${m.text.replaceAll('\n', '\n    ')}`),
  });
  undo.push('stop the Slack stand-in', () => slackStandIn.close());
  const pagerStandIn = await serveOpsGenieStandIn({ apiKey: LOCAL_PAGER_KEY, onPage: (a) => print(`opsgenie PAGE ${a.priority ?? ''} ${a.message} (alias ${a.alias})`) });
  undo.push('stop the OpsGenie stand-in', () => pagerStandIn.close());
  const routes: NotifyRoutes = {
    channels: Object.fromEntries(CHANNELS.map((c) => [c, slackStandIn.webhookOf(c)])),
    routes: [
      { environments: ['prod'], channel: 'oncall' },
      { environments: ['dev'], channel: 'dev' },
    ],
    fallback: 'fleet',
    owners: Object.fromEntries(owners.map((o) => [o, 'dm-owners'])),
    rate: { messages: 5, seconds: 60 },
  };
  return { routes, slack: createSlackWebhookPoster(), pager: createOpsGeniePager({ apiKey: LOCAL_PAGER_KEY, endpoint: pagerStandIn.url }), slackStandIn, pagerStandIn };
}

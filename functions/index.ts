/**
 * The functions' entry point. In the cloud each function loads only its own trigger (Cloud
 * Functions sets FUNCTION_TARGET to its entry point) and, on its first message, only the
 * services that trigger uses (production.ts). Without FUNCTION_TARGET (the functions framework
 * run by hand) every trigger is registered. `mi dev` and tests register the triggers themselves
 * and call useServices() first.
 */
import type { FUNCTIONS } from '../shared/topology.js';
import { buildProductionServices } from './production.js';
import { buildServicesWith } from './wiring.js';

export const TRIGGERS: Record<(typeof FUNCTIONS)[number]['name'], () => Promise<unknown>> = {
  lifecycle: () => import('./lifecycle.js'),
  reconcile: () => import('./reconcile.js'),
  executorResults: () => import('./executor-results.js'),
  buildNotifications: () => import('./build-notifications.js'),
  complianceSchedule: () => import('./compliance-schedule.js'),
  complianceCheck: () => import('./compliance-check.js'),
  rollout: () => import('./rollout.js'),
  rolloutEvents: () => import('./rollout-events.js'),
  notify: () => import('./notify.js'),
  githubWebhook: () => import('./github-webhook.js'),
  deployments: () => import('./deployments.js'),
  commands: () => import('./commands.js'),
  dashboard: () => import('./dashboard.js'),
};

buildServicesWith(() => buildProductionServices());

const target = process.env.FUNCTION_TARGET;
const own = target !== undefined && Object.hasOwn(TRIGGERS, target) ? TRIGGERS[target as keyof typeof TRIGGERS] : undefined;
await Promise.all(own === undefined ? Object.values(TRIGGERS).map((load) => load()) : [own()]);

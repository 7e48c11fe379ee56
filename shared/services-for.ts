/**
 * The services one deployed function builds, and only those: the modules of the others are
 * never loaded, so a cold start pays for its own trigger's code alone (a lifecycle function
 * loads the engine, not compliance, the deployments consumer or the commands).
 */
import type { FUNCTIONS } from './topology.js';
import { composeServices, withFoundations, type Ports, type ServiceModules, type ServicePart, type Services, type ServicesConfig } from './service-composition.js';

type FunctionName = (typeof FUNCTIONS)[number]['name'];

/** What each function serves (shared/routes.ts and functions/http/ use these). */
export const SERVICES_OF: Record<FunctionName, readonly ServicePart[]> = {
  lifecycle: ['engine'],
  reconcile: ['engine'],
  executorResults: ['engine'],
  buildNotifications: ['engine'],
  complianceSchedule: ['compliance'],
  complianceCheck: ['compliance'],
  rollout: ['rollouts'],
  rolloutEvents: ['rollouts'],
  deployments: ['deployments'],
  githubWebhook: ['webhook'],
  commands: ['commands'],
  notify: ['notify'],
  dashboard: ['dashboard'],
};

/** The modules each part loads, as imported below: a function's bundle holds only its own parts' (build/bundle-functions.ts). */
export const PART_MODULES: Record<ServicePart, readonly string[]> = {
  engine: ['./engine/index.js', './domain/lifecycle/acceptance-policy.js'],
  rollouts: ['./rollout/index.js'],
  compliance: ['./compliance/index.js'],
  deployments: ['./deployments/index.js'],
  webhook: ['./webhook/index.js'],
  commands: ['./commands/index.js'],
  notify: ['./notify/index.js'],
  dashboard: ['./dashboard/index.js'],
};

/** The parts a function builds, with those they stand on. */
export const partsOf = (fn: FunctionName): ReadonlySet<ServicePart> => withFoundations(SERVICES_OF[fn]);

/** Loads the modules of these parts (and of the parts they stand on), nothing else. */
async function modulesOf(named: ReadonlySet<ServicePart>): Promise<Partial<ServiceModules>> {
  const parts = withFoundations(named);
  const [engine, policy, rollouts, compliance, deployments, webhook, commands, notify, dashboard] = await Promise.all([
    parts.has('engine') ? import('./engine/index.js') : undefined,
    parts.has('engine') ? import('./domain/lifecycle/acceptance-policy.js') : undefined,
    parts.has('rollouts') ? import('./rollout/index.js') : undefined,
    parts.has('compliance') ? import('./compliance/index.js') : undefined,
    parts.has('deployments') ? import('./deployments/index.js') : undefined,
    parts.has('webhook') ? import('./webhook/index.js') : undefined,
    parts.has('commands') ? import('./commands/index.js') : undefined,
    parts.has('notify') ? import('./notify/index.js') : undefined,
    parts.has('dashboard') ? import('./dashboard/index.js') : undefined,
  ]);
  return {
    ...(engine === undefined ? {} : { createEngine: engine.createEngine }),
    ...(policy === undefined ? {} : { defaultPolicy: policy.DEFAULT_POLICY }),
    ...(rollouts === undefined ? {} : { createRollouts: rollouts.createRollouts }),
    ...(compliance === undefined ? {} : { createCompliance: compliance.createCompliance }),
    ...(deployments === undefined ? {} : { createDeploymentsConsumer: deployments.createDeploymentsConsumer }),
    ...(webhook === undefined ? {} : { checkWebhookConfig: webhook.checkWebhookConfig }),
    ...(commands === undefined ? {} : { createCommands: commands.createCommands }),
    ...(notify === undefined ? {} : { createNotifier: notify.createNotifier }),
    ...(dashboard === undefined ? {} : { createDashboard: dashboard.createDashboard }),
  };
}

/** The services of one function, its service modules loaded on the way. */
export async function createServicesFor(fn: FunctionName, ports: Ports, config: ServicesConfig): Promise<Services> {
  const parts = new Set(SERVICES_OF[fn]);
  return composeServices(ports, config, await modulesOf(parts), parts);
}

/**
 * Every service of the control plane, built from one set of ports and one configuration (the
 * composition is shared/service-composition.ts): what `mi dev`, the benchmarks and the test
 * fixtures build on the simulated ports. A deployed function builds only its own
 * (shared/services-for.ts), so its cold start loads no other service's code.
 */
import { createCompliance } from './compliance/index.js';
import { createDeploymentsConsumer } from './deployments/index.js';
import { DEFAULT_POLICY } from './domain/lifecycle/acceptance-policy.js';
import { checkWebhookConfig } from './webhook/index.js';
import { createEngine } from './engine/index.js';
import { createCommands } from './commands/index.js';
import { createRollouts } from './rollout/index.js';
import { createNotifier } from './notify/index.js';
import { createDashboard } from './dashboard/index.js';
import { composeServices, type Ports, type Services, type ServicesConfig } from './service-composition.js';

export * from './service-composition.js';

/** Builds every service on the ports. Cheap: nothing is called until a service is used. */
export function createServices(ports: Ports, config: ServicesConfig): Services {
  return composeServices(ports, config, { createEngine, defaultPolicy: DEFAULT_POLICY, createRollouts, createCompliance, createDeploymentsConsumer, checkWebhookConfig, createCommands, createNotifier, createDashboard });
}

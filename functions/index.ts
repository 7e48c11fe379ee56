/**
 * Registers every function of the topology with the functions framework. In the cloud the
 * services are built from the environment on first use (production.ts); `mi dev` and tests call
 * useServices() first.
 */
import { buildProductionServices } from './production.js';
import { buildServicesWith } from './wiring.js';
import './lifecycle.js';
import './reconcile.js';
import './executor-results.js';
import './build-notifications.js';
import './compliance-schedule.js';
import './compliance-check.js';
import './rollout.js';
import './rollout-events.js';
import './github-webhook.js';
import './deployments.js';
import './commands.js';

buildServicesWith(() => buildProductionServices());

/**
 * The Pulumi entry point (Pulumi.yaml `main`): the real topology, the stack's settings.
 * Build first (`npm run build`): each function deploys from its bundle under dist/bundles/.
 */
import { fileURLToPath } from 'node:url';
import { sharedTopology } from './model.js';
import { buildInfrastructure } from './program.js';
import { readSettings } from './settings.js';

const sourceRoot = fileURLToPath(new URL('..', import.meta.url));

const infrastructure = buildInfrastructure(sharedTopology(), readSettings(sourceRoot));

export const functionUrls = infrastructure.functionUrls;
export const deadLetterSubscriptions = infrastructure.deadLetterSubscriptions;
export const webhookSecret = infrastructure.webhookSecret;
export const githubTokenSecret = infrastructure.githubTokenSecret;
export const ungrantedInstanceRoles = infrastructure.ungrantedInstanceRoles;
export const entitlements = infrastructure.entitlements;

/**
 * The Pulumi entry point (Pulumi.yaml `main`): the real topology, the stack's settings.
 * Build first (`npm run build`): the functions deploy from dist/.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARCHIVE_MAIN } from './functions.js';
import { sharedTopology } from './model.js';
import { buildInfrastructure } from './program.js';
import { readSettings } from './settings.js';

const sourceRoot = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(join(sourceRoot, ARCHIVE_MAIN))) {
  throw new Error(`${ARCHIVE_MAIN} is missing: run \`npm run build\` before \`pulumi up\` (the functions deploy from the compiled dist/)`);
}

const infrastructure = buildInfrastructure(sharedTopology(), readSettings(sourceRoot));

export const functionUrls = infrastructure.functionUrls;
export const deadLetterSubscriptions = infrastructure.deadLetterSubscriptions;
export const webhookSecret = infrastructure.webhookSecret;
export const githubTokenSecret = infrastructure.githubTokenSecret;
export const ungrantedInstanceRoles = infrastructure.ungrantedInstanceRoles;
export const entitlements = infrastructure.entitlements;

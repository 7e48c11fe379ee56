/**
 * What `mi dev` prints once the stack is up: where the emulators, functions, subscriptions and
 * schedules are, the seeded fleet, and how to try it from another terminal.
 */
import { TOPICS } from '../../shared/topology.js';
import { LOCAL_TIME_SPEEDUP } from './local-time.js';
import type { LocalStack } from './stack-types.js';
import { inProject } from '../project-root.js';

/** Where `mi` is in this checkout, for the "try it" hints. */
const MI_BIN = inProject('bin', 'mi.js');

/** What `mi dev` prints once the stack is up: where everything is and how to try it. */
export function describeStack(stack: LocalStack): string[] {
  const customer = [...(stack.seeded?.created ?? []), ...(stack.seeded?.existing ?? [])].find((i) => i.tier === 'customer');
  const target = customer?.id ?? '<instance id>';
  const instances = [...(stack.seeded?.created ?? []), ...(stack.seeded?.existing ?? [])]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((i) => {
      const window = i.maintenanceWindow ? `  window ${i.maintenanceWindow.days.join(',')} ${i.maintenanceWindow.start} ${i.maintenanceWindow.timeZone}` : '';
      const expiry = i.expiresAt ? `  expires ${i.expiresAt}` : '';
      return `    ${i.id.padEnd(18)} ${i.environment.padEnd(4)} ${i.tier.padEnd(8)} ${i.version.padEnd(7)} ${i.status.padEnd(10)} ${i.region.padEnd(21)}${window}${expiry}`;
    });
  const schedules = stack.schedules.map((s) => `    ${s.name}: every ${s.localEverySeconds} s -> ${s.topic} (in the cloud: "${s.cron}" ${s.timeZone})`);
  return [
    '',
    'mi dev is running: the control plane on this machine',
    '',
    `  project           ${stack.projectId}`,
    `  Firestore         ${stack.firestoreHost}${stack.startedEmulators.includes('firestore') ? '' : ' (reused)'}`,
    `  Pub/Sub           ${stack.pubsubHost}${stack.startedEmulators.includes('pubsub') ? '' : ' (reused)'}`,
    `  functions         ${stack.functionsUrl}`,
    ...Object.entries(stack.routes).map(([name, url]) => `    ${name.padEnd(16)} ${url}`),
    `  topics            ${stack.topics.join(', ')}`,
    '  push subscriptions',
    ...stack.subscriptions.map((s) => `    ${s.name} -> ${s.pushEndpoint} (dead letter ${s.deadLetterTopic} after ${s.maxDeliveryAttempts} attempts)`),
    `  commands          ${stack.commandsUrl} (ID tokens signed by a local key${stack.identityFile === undefined ? '' : `, left for mi in ${stack.identityFile}`})`,
    `  access (sim PAM)  ${stack.access.url} (${stack.access.entitlements.map((e) => e.slice(e.lastIndexOf('/') + 1)).join(', ')}; approvers alice, bob)`,
    `  executor          Cloud Build (simulated) at ${stack.cloudBuildUrl}, notifying on ${TOPICS.buildNotifications}; \`mi op get\` shows each run's build steps`,
    `  plans buckets     ${stack.plansUrl} (simulated Cloud Storage): where plan builds save plans; \`mi apply show\` prints one`,
    `  applications      ${stack.healthUrl.replace('{domain}', '<domain>')}/healthz and /version (simulated): what upgrades' health gates probe`,
    `  faults            ${stack.faultsUrl}/v1/faults (simulated fleet): \`mi dev fault cloud-sql ${target} backup-fails\`, \`mi dev fault list\`, \`mi dev fault clear\``,
    `  schedules (local clock; soaks and the drill's week run ${LOCAL_TIME_SPEEDUP}x faster than in the cloud)`,
    ...schedules,
    stack.seeded === undefined ? '  instances         not seeded (--no-seed)' : '  instances',
    ...instances,
    '',
    'Try it, in another terminal:',
    '',
    `  export FIRESTORE_EMULATOR_HOST=${stack.firestoreHost}`,
    `  export PUBSUB_EMULATOR_HOST=${stack.pubsubHost}`,
    `  export GOOGLE_CLOUD_PROJECT=${stack.projectId}`,
    `  alias mi='node ${MI_BIN}'   # or: npm link`,
    '',
    '  mi instance list',
    '  mi dashboard                               # the fleet dashboard in your browser, through a proxy that signs your requests',
    `  mi upgrade ${target} --to 5.5.0 --wait`,
    '  mi op get <operation id printed by mi upgrade>',
    '  mi --as second.person@example.com approve <operation waiting for approval>',
    '  mi --as alice@example.com access request --env prod --role operator --for 1h --why "INC-1: look at cus-acme"',
    '  mi --as bob@example.com access approve <grant> --reason "on call"',
    '',
    'Ctrl-C stops everything mi dev started.',
    '',
  ];
}

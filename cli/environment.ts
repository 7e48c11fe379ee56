/**
 * The environment variables `mi` reads, declared once: what each means and which commands read
 * it. `mi --help` lists them all, and each command's help the ones it reads.
 */
import type { Command } from 'commander';

interface CliVariable {
  name: string;
  meaning: string;
  /** The commands that read it (a group: each of its commands); `all` for every one. */
  readBy: 'all' | readonly string[];
}

const CONTROLS = ['pause', 'resume', 'promote', 'abort'];
/** The commands that go through the commands function (every other reads Firestore only). */
const SENDERS = [
  ...['backup', 'check', 'upgrade', 'create', 'restore', 'delete', 'dr', 'approve', 'access'],
  ...['apply show', 'apply diff', 'apply confirm', 'op abandon', 'compliance run', 'instance extend', 'rollout start'],
  ...CONTROLS.map((c) => `rollout ${c}`),
  ...['run', 'approve', 'output', ...CONTROLS].map((c) => `workflow ${c}`),
];

export const CLI_VARIABLES: readonly CliVariable[] = [
  { name: 'GOOGLE_CLOUD_PROJECT', meaning: 'the project, when --project is not given', readBy: 'all' },
  { name: 'FIRESTORE_EMULATOR_HOST', meaning: 'read the local stack’s Firestore emulator (mi dev prints it); local mode', readBy: 'all' },
  { name: 'PUBSUB_EMULATOR_HOST', meaning: 'the local stack’s Pub/Sub emulator; local mode', readBy: 'all' },
  { name: 'MI_COMMANDS_URL', meaning: 'the commands function’s URL in the cloud (stack output functionUrls.commands)', readBy: SENDERS },
  { name: 'MI_IDENTITY', meaning: 'user (gcloud’s identity token, the default) or service-account (the credentials’ own)', readBy: SENDERS },
  { name: 'GOOGLE_APPLICATION_CREDENTIALS', meaning: 'a service account key file: its account is the caller', readBy: SENDERS },
  { name: 'MI_DEV_IDENTITY_FILE', meaning: 'local stack: where its signing key is (default .mi-dev/identity.json)', readBy: SENDERS },
  { name: 'MI_ACCESS_ENTITLEMENTS', meaning: 'the PAM entitlements’ full names, comma-separated (stack output entitlements)', readBy: ['access', 'instance workon', 'instance db'] },
  { name: 'MI_DEV_DEPLOYMENT_REPO', meaning: 'where mi dev keeps its deployment repository (default .mi-dev/deployment-repo)', readBy: ['dev'] },
  { name: 'MI_DEV_WEBHOOK_SECRET', meaning: 'the secret mi dev signs its GitHub deliveries with (default: a new random one)', readBy: ['dev'] },
  { name: 'MI_GITHUB_IDENTITIES', meaning: 'mi dev: GitHub logins mapped to Google emails, login=email comma-separated', readBy: ['dev'] },
  { name: 'MI_DEPLOYMENT_REPOSITORY', meaning: 'the deployment repository on GitHub (owner/name): the report reads each applied commit’s pull request, reviews and branch protection (CC8.1)', readBy: ['compliance report', 'compliance run'] },
  { name: 'MI_GITHUB_TOKEN', meaning: 'a token reading that repository’s pull requests and administration (GITHUB_TOKEN when unset); without one, applied commits are findings', readBy: ['compliance report', 'compliance run'] },
  { name: 'MI_DEPLOYMENT_BRANCH', meaning: 'the branch merges are applied from (default main): its protection is read for a commit pushed without a pull request', readBy: ['compliance report', 'compliance run'] },
  { name: 'CLOUDSDK_ROOT', meaning: 'where the Google Cloud SDK (and its emulators) is installed', readBy: ['dev'] },
  { name: 'NO_COLOR', meaning: 'set: no colour even on a terminal', readBy: ['rollout', 'workflow'] },
  { name: 'MI_DEBUG', meaning: 'set: an unexpected error prints its stack', readBy: 'all' },
];

function section(variables: readonly CliVariable[]): string {
  const width = Math.max(...variables.map((v) => v.name.length));
  return ['', 'Environment:', ...variables.map((v) => `  ${v.name.padEnd(width)}  ${v.meaning}`)].join('\n');
}

/** Adds the Environment section to the root's help (every variable) and to each command's (those it reads). */
export function documentEnvironment(program: Command): void {
  program.addHelpText('after', section(CLI_VARIABLES));
  const readsOf = (path: string) => CLI_VARIABLES.filter((v) => v.readBy === 'all' || v.readBy.some((p) => path === p || path.startsWith(`${p} `)));
  const walk = (command: Command, path: string) => {
    if (command.commands.length === 0) command.addHelpText('after', section(readsOf(path)));
    for (const sub of command.commands) walk(sub, `${path} ${sub.name()}`);
  };
  for (const command of program.commands) walk(command, command.name());
}

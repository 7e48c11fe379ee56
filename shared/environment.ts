/**
 * The environment contract of the deployed functions, declared once: each variable, what it
 * means, how it is checked, and which functions need it. The Pulumi program sets exactly these
 * (infra/program.ts), the production wiring reads them (functions/production.ts), and a function
 * refuses to start without what it needs, naming every variable at fault.
 */
import * as z from 'zod';
import { lazySchema } from './lazy-schema.js';
import { parseNotifyRoutes } from './domain/notify/routes.js';
import { FUNCTIONS, SECRET_ENV, type FunctionName, type FunctionUse, type SecretKind } from './topology.js';

interface Variable {
  meaning: string;
  schema: z.ZodType<string>;
  /** Absent is fine: the function has a default. */
  optional?: true;
  /** The functions that read it; for a secret, those that declare it in their uses. */
  neededBy: readonly FunctionName[] | ((fn: (typeof FUNCTIONS)[number]) => boolean);
}

// Every schema is built when a function reads its environment, and only the ones it reads (lazy-schema.ts).
const text = (name: string, meaning: string) => lazySchema(() => z.string({ error: `${name} is missing: ${meaning}` }).trim().min(1, { error: `${name} is empty: ${meaning}` }));
const runsBuilds = (fn: (typeof FUNCTIONS)[number]) => (fn.uses as FunctionUse).builds === 'run';
const readsBuilds = (fn: (typeof FUNCTIONS)[number]) => (fn.uses as FunctionUse).builds !== undefined;
const secret = (kind: SecretKind) => (fn: (typeof FUNCTIONS)[number]) => (fn.uses.secrets as readonly string[]).includes(kind);

export const ENVIRONMENT = {
  GOOGLE_CLOUD_PROJECT: {
    meaning: 'the project that holds Firestore, the topics and the scheduler jobs',
    schema: text('GOOGLE_CLOUD_PROJECT', 'the project that holds Firestore, the topics and the scheduler jobs'),
    neededBy: () => true,
  },
  MI_EXECUTOR_STATUS_URL: {
    meaning: 'only to run the executor on an external runner instead of Cloud Build: where that runner answers GET /runs/<key> (its requests go to mi-executor-requests)',
    schema: lazySchema(() => z.url({ error: 'MI_EXECUTOR_STATUS_URL is not a URL: where the external runner answers GET /runs/<key>' })),
    optional: true,
    neededBy: runsBuilds,
  },
  MI_BUILD_LOCATION: {
    meaning: 'the region the executor\'s Cloud Builds run in (such as us-central1)',
    schema: lazySchema(() =>
      z
        .string({ error: "MI_BUILD_LOCATION is missing: the region the executor's Cloud Builds run in (such as us-central1)" })
        .regex(/^[a-z]+-[a-z]+[1-9][0-9]?$/, { error: 'MI_BUILD_LOCATION: expected a region such as us-central1' }),
    ),
    neededBy: readsBuilds,
  },
  MI_BUILD_TOKEN_SECRET: {
    meaning: 'the Secret Manager version a build clones the deployment repository with (projects/<p>/secrets/<s>/versions/<v>)',
    schema: lazySchema(() =>
      z
        .string({ error: 'MI_BUILD_TOKEN_SECRET is missing: the Secret Manager version a build clones the deployment repository with' })
        .regex(/^projects\/[^/]+\/secrets\/[^/]+\/versions\/[^/]+$/, { error: 'MI_BUILD_TOKEN_SECRET: expected projects/<p>/secrets/<s>/versions/<v>' }),
    ),
    neededBy: runsBuilds,
  },
  MI_APP_IMAGE: {
    meaning: "the application's image repository: an upgrade deploys <image>:<version>",
    schema: text('MI_APP_IMAGE', "the application's image repository"),
    neededBy: runsBuilds,
  },
  MI_ONCALL_GROUP: {
    meaning: 'the on-call group, added as an IAM database user when an instance is created (mi instance db proxy)',
    schema: lazySchema(() => z.email({ error: 'MI_ONCALL_GROUP is missing or not an email: the on-call group added as an IAM database user on create' })),
    neededBy: runsBuilds,
  },
  MI_HEALTH_URL: {
    meaning: "where an instance's application answers, with {domain} for its domain (default https://{domain}): the upgrade's health gates probe it",
    schema: lazySchema(() =>
      z
        .string({ error: "MI_HEALTH_URL is not text: where an instance's application answers, such as https://{domain}" })
        .refine((v) => v.includes('{domain}') && URL.canParse(v.replaceAll('{domain}', 'example.com')), { error: 'MI_HEALTH_URL: expected a URL with {domain}, such as https://{domain}' }),
    ),
    optional: true,
    neededBy: runsBuilds,
  },
  MI_HEALTH_PATH: {
    meaning: 'the path an instance answers 2xx on when healthy (default /healthz)',
    schema: lazySchema(() => z.string({ error: 'MI_HEALTH_PATH is not text' }).regex(/^\/[A-Za-z0-9._~/-]*$/, { error: 'MI_HEALTH_PATH: expected a path such as /healthz' })),
    optional: true,
    neededBy: runsBuilds,
  },
  MI_VERSION_PATH: {
    meaning: 'the path an instance reports its running version on, as {"version": "..."} or plain text (default /version)',
    schema: lazySchema(() => z.string({ error: 'MI_VERSION_PATH is not text' }).regex(/^\/[A-Za-z0-9._~/-]*$/, { error: 'MI_VERSION_PATH: expected a path such as /version' })),
    optional: true,
    neededBy: runsBuilds,
  },
  MI_CENTRAL_BACKUP_PROJECT: {
    meaning: "the project that keeps deleted instances' final GKE backups",
    schema: lazySchema(() =>
      z
        .string({ error: "MI_CENTRAL_BACKUP_PROJECT is missing: the project that keeps deleted instances' final GKE backups" })
        .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, { error: 'MI_CENTRAL_BACKUP_PROJECT: expected a project id' }),
    ),
    neededBy: (fn) => 'centralBackups' in fn.uses,
  },
  MI_DEPLOYMENT_REPOSITORY: {
    meaning: 'the deployment repository as owner/name',
    schema: lazySchema(() =>
      z
        .string({ error: 'MI_DEPLOYMENT_REPOSITORY is missing: the deployment repository as owner/name' })
        .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, { error: 'MI_DEPLOYMENT_REPOSITORY: expected owner/name' }),
    ),
    neededBy: (fn) => fn.name === 'githubWebhook' || fn.name === 'deployments' || fn.name === 'commands' || runsBuilds(fn),
  },
  MI_DEPLOYMENT_BRANCH: {
    meaning: "the deployment repository's protected default branch (its pushes are merges; every build runs a commit on it; default main)",
    schema: text('MI_DEPLOYMENT_BRANCH', "the deployment repository's default branch"),
    optional: true,
    neededBy: (fn) => fn.name === 'githubWebhook' || fn.name === 'deployments' || fn.name === 'commands' || runsBuilds(fn),
  },
  MI_GITHUB_BOT_LOGIN: {
    meaning: "the GitHub login the control plane's token commits as (its write-backs of config.yaml): pushes made only of its write-backs are not acted on again",
    schema: text('MI_GITHUB_BOT_LOGIN', "the GitHub login the control plane's token commits as"),
    optional: true,
    neededBy: ['githubWebhook'],
  },
  MI_SCHEDULER_LOCATION: {
    meaning: 'the region of the Cloud Scheduler jobs (such as us-central1)',
    schema: lazySchema(() =>
      z
        .string({ error: 'MI_SCHEDULER_LOCATION is missing: the region of the Cloud Scheduler jobs (such as us-central1)' })
        .regex(/^[a-z]+-[a-z]+[1-9][0-9]?$/, { error: 'MI_SCHEDULER_LOCATION: expected a region such as us-central1' }),
    ),
    neededBy: ['complianceSchedule', 'complianceCheck'],
  },
  MI_AUTO_APPLY_MODULES: {
    meaning: 'the modules applied without confirmation, comma-separated (default monitoring,executors,security)',
    schema: text('MI_AUTO_APPLY_MODULES', 'the modules applied without confirmation'),
    optional: true,
    neededBy: ['deployments', 'commands'],
  },
  MI_DATA_BEARING_MODULES: {
    meaning: 'the modules whose apply takes a Cloud SQL and a GKE checkpoint backup first, comma-separated (default infrastructure,database,cluster)',
    schema: text('MI_DATA_BEARING_MODULES', 'the modules whose apply takes both backups first'),
    optional: true,
    // Accepting the module apply plans its steps.
    neededBy: ['lifecycle'],
  },
  MI_COMMANDS_AUDIENCES: {
    meaning: "the audiences callers' ID tokens may carry, comma-separated: the commands function's URL (service accounts), and gcloud's OAuth client id (people's `gcloud auth print-identity-token`)",
    schema: text('MI_COMMANDS_AUDIENCES', "the audiences callers' ID tokens may carry, comma-separated"),
    neededBy: ['commands'],
  },
  MI_COMMANDS_ALLOWED_DOMAINS: {
    meaning: 'the email domains allowed to send commands and read the dashboard, comma-separated (default: any verified email the invoker role lets in)',
    schema: text('MI_COMMANDS_ALLOWED_DOMAINS', 'the email domains allowed to send commands and read the dashboard, comma-separated'),
    optional: true,
    neededBy: ['commands', 'dashboard'],
  },
  MI_DASHBOARD_AUDIENCES: {
    meaning: "the audiences the dashboard's callers' ID tokens may carry, comma-separated: its own URL (service accounts), and gcloud's OAuth client id (people's `gcloud auth print-identity-token`)",
    schema: text('MI_DASHBOARD_AUDIENCES', "the audiences the dashboard's callers' ID tokens may carry, comma-separated"),
    neededBy: ['dashboard'],
  },
  MI_GITHUB_IDENTITIES: {
    meaning: 'GitHub logins mapped to Google emails, login=email comma-separated: a merge is confirmed only by a verified person who neither pushed nor wrote it (an unmapped login cannot be told apart, so its merges wait until it is mapped)',
    schema: text('MI_GITHUB_IDENTITIES', 'GitHub logins mapped to Google emails, login=email comma-separated'),
    optional: true,
    neededBy: ['commands'],
  },
  MI_ACCESS_ENTITLEMENTS: {
    meaning: "the PAM entitlements' full names, comma-separated (the access review reads their grants; unset: no entitlements, and the access control fails)",
    schema: text('MI_ACCESS_ENTITLEMENTS', "the PAM entitlements' full names, comma-separated"),
    optional: true,
    neededBy: (fn) => 'accessReview' in fn.uses,
  },
  [SECRET_ENV.webhookSecret]: {
    meaning: 'the GitHub webhook secret (Secret Manager injects it)',
    schema: lazySchema(() =>
      z
        .string({ error: `${SECRET_ENV.webhookSecret} is missing: the GitHub webhook secret (Secret Manager injects it); the function does not start without one` })
        .min(16, { error: `${SECRET_ENV.webhookSecret} is shorter than 16 characters: use a long random secret` }),
    ),
    neededBy: secret('webhookSecret'),
  },
  [SECRET_ENV.githubTokenSecret]: {
    meaning: 'a token that may read the deployment repository (Secret Manager injects it)',
    schema: text(SECRET_ENV.githubTokenSecret, 'a token that may read the deployment repository'),
    neededBy: secret('githubTokenSecret'),
  },
  [SECRET_ENV.notifyRoutes]: {
    meaning: "the notifier's routing table as JSON: Slack channels and their incoming webhooks' URLs, routes by kind and environment, owners, rate (Secret Manager injects it)",
    schema: lazySchema(() =>
      text(SECRET_ENV.notifyRoutes, "the notifier's routing table as JSON").check((ctx) => {
        try {
          parseNotifyRoutes(ctx.value);
        } catch (error) {
          ctx.issues.push({ code: 'custom', input: ctx.value, message: (error as Error).message });
        }
      }),
    ),
    neededBy: secret('notifyRoutes'),
  },
  [SECRET_ENV.pagerKey]: {
    meaning: 'the OpsGenie API key the notifier pages with (Secret Manager injects it)',
    schema: text(SECRET_ENV.pagerKey, 'the OpsGenie API key the notifier pages with'),
    neededBy: secret('pagerKey'),
  },
  MI_OPSGENIE_URL: {
    meaning: "OpsGenie's API endpoint (default https://api.opsgenie.com; https://api.eu.opsgenie.com for an EU account)",
    schema: lazySchema(() => z.url({ error: 'MI_OPSGENIE_URL is not a URL: OpsGenie\'s API endpoint, such as https://api.eu.opsgenie.com' })),
    optional: true,
    neededBy: secret('pagerKey'),
  },
} as const satisfies Record<string, Variable>;

export type VariableName = keyof typeof ENVIRONMENT;
/** What a function reads, checked; a variable it does not need is absent. */
export type FunctionEnvironment = Partial<Record<VariableName, string>> & { GOOGLE_CLOUD_PROJECT: string };

/** The secrets, which Secret Manager sets rather than the program's plain variables. */
export const SECRET_VARIABLES: readonly VariableName[] = Object.values(SECRET_ENV);

function definitionOf(name: string): (typeof FUNCTIONS)[number] {
  const fn = FUNCTIONS.find((f) => f.name === name);
  if (fn === undefined) throw new Error(`no function ${name} in the topology`);
  return fn;
}

/** The variables a function needs (optional ones included), in a fixed order. */
export function variablesOf(functionName: string): VariableName[] {
  const fn = definitionOf(functionName);
  return (Object.entries(ENVIRONMENT) as Array<[VariableName, Variable]>)
    .filter(([, variable]) => (typeof variable.neededBy === 'function' ? variable.neededBy(fn) : variable.neededBy.includes(fn.name)))
    .map(([name]) => name)
    .sort();
}

/** Reads and checks a function's environment; the error lists every variable at fault and what it is for. */
export function readEnvironment(functionName: string, env: NodeJS.ProcessEnv): FunctionEnvironment {
  const shape = Object.fromEntries(
    variablesOf(functionName).map((name) => {
      const variable: Variable = ENVIRONMENT[name];
      return [name, variable.optional ? variable.schema.optional() : variable.schema];
    }),
  );
  const parsed = z.object(shape).safeParse(env);
  if (!parsed.success) throw new Error(`cannot start ${functionName}: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  return parsed.data as FunctionEnvironment;
}

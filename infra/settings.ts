/**
 * The stack configuration, read once in infra/index.ts and passed to `buildInfrastructure`
 * as plain values, so that tests can hand the program settings without touching Pulumi config.
 */
import * as pulumi from '@pulumi/pulumi';
import { z } from 'zod';
import { entitlementSpecSchema, type AccessEnvironment, type EntitlementSpec } from '../shared/domain/access/entitlements.js';

export interface Settings {
  /** The control plane's project (`gcp:project`). */
  project: string;
  /** Where functions, schedules and the source bucket live (`gcp:region`). */
  region: string;
  /** Firestore's location (`mi:firestoreLocation`, default the region). Cannot change once created. */
  firestoreLocation: string;
  /** The deployment repository, `owner/name` (`mi:deploymentRepository`). */
  deploymentRepository: string;
  /** The Secret Manager secret id that holds the GitHub webhook secret (`mi:webhookSecretName`). */
  webhookSecretName: string;
  /** The Secret Manager secret id that holds a token reading the deployment repository (`mi:githubTokenSecretName`). */
  githubTokenSecretName: string;
  /** The Secret Manager secret id of the notifier's routing table, JSON (`mi:notifyRoutesSecretName`). */
  notifyRoutesSecretName: string;
  /** The Secret Manager secret id of the OpsGenie API key (`mi:pagerKeySecretName`). */
  pagerKeySecretName: string;
  /** Module names applied without confirmation, comma-separated (`mi:autoApplyModules`; the function's default if unset). */
  autoApplyModules?: string;
  /** Modules whose apply takes both checkpoint backups first, comma-separated (`mi:dataBearingModules`; default infrastructure,database,cluster). */
  dataBearingModules?: string;
  /** Only to run the executor on an external runner instead of Cloud Build: where it answers `GET /runs/<key>` (`mi:executorStatusUrl`). */
  executorStatusUrl?: string;
  /** The application's image repository (`mi:appImage`): an upgrade deploys `<image>:<version>`. */
  appImage: string;
  /** The on-call group (`mi:oncallGroup`), added as an IAM database user of every instance created. */
  oncallGroup: string;
  /** Where instances answer their health gates, with `{domain}` (`mi:healthUrl`; default https://{domain}), and on which paths (`mi:healthPath`, `mi:versionPath`). */
  healthUrl?: string;
  healthPath?: string;
  versionPath?: string;
  /** The GitHub login the repository token commits as (`mi:githubBotLogin`): its write-back pushes are not acted on again. */
  githubBotLogin?: string;
  /**
   * The audiences a caller's ID token may carry (`mi:commandsAudiences`): default the commands
   * function's URL (service accounts' tokens) and the Google Cloud CLI's client id (people's
   * tokens from `gcloud auth print-identity-token`).
   */
  commandsAudiences?: readonly string[];
  /** The only email domains the commands function accepts callers from (`mi:commandsAllowedDomains`; unset, any verified account the invoker grant lets through). */
  commandsAllowedDomains?: readonly string[];
  /** The folder holding the instances' projects, `folders/<id>` (`mi:instancesFolder`); without it those grants are left to you. */
  instancesFolder?: string;
  /** Where a deleted instance's final GKE backup is kept, outliving its project (`mi:centralBackupProject`). */
  centralBackupProject: string;
  /** Who may call the commands function and read the control plane's state, e.g. `group:sre@example.com` (`mi:operators`). */
  operators: readonly string[];
  /** The folders holding each environment's instance projects (`mi:accessFolders`, `{dev: folders/…, prod: folders/…}`): where access is granted. */
  accessFolders?: Readonly<Record<AccessEnvironment, string>>;
  /** Who approves prod access requests (`mi:accessApprovers`, e.g. `group:oncall-approvers@example.com`). */
  accessApprovers: readonly string[];
  /** The entitlements (`mi:entitlements`); default dev-operator, prod-operator, prod-breakglass. */
  entitlements?: readonly EntitlementSpec[];
  /** GitHub logins → Google emails (`mi:githubIdentities`): who may not confirm a merge they pushed or wrote. */
  githubIdentities?: Readonly<Record<string, string>>;
  /** Emails told at once of a break-glass grant (`mi:breakglassNotify`). */
  breakglassNotify: readonly string[];
  /** Monitoring notification channels for every alert policy (`mi:alertNotificationChannels`). */
  alertNotificationChannels: readonly string[];
  /** Error lines from one function in five minutes that make an error-rate alert (`mi:errorLinesPerFiveMinutes`, default 10). */
  errorLinesPerFiveMinutes?: number;
  /** The project root holding `dist/`, `package.json` and `package-lock.json`. */
  sourceRoot: string;
  /** The GitHub webhook secret's value (`mi:githubWebhookSecret`, a config secret), stored as the secret's version. */
  githubWebhookSecret?: pulumi.Input<string>;
  /** The repository token's value (`mi:githubToken`, a config secret), stored as the secret's version. */
  githubToken?: pulumi.Input<string>;
  /** The notifier's routing table, JSON (`mi:notifyRoutes`, a config secret: it holds the webhooks' URLs). */
  notifyRoutes?: pulumi.Input<string>;
  /** The OpsGenie API key (`mi:opsgenieKey`, a config secret). */
  pagerKey?: pulumi.Input<string>;
  /** Settings left empty on purpose (`mi:allowUnset`): the preflight refuses the others. */
  allowUnset: readonly string[];
}

/** Reads the stack configuration; `pulumi` itself fails with the key's name when a required one is missing. */
export function readSettings(sourceRoot: string): Settings {
  const gcp = new pulumi.Config('gcp');
  const mi = new pulumi.Config('mi');
  const region = gcp.require('region');
  const commandsAudiences = mi.getObject<string[]>('commandsAudiences');
  const commandsAllowedDomains = mi.getObject<string[]>('commandsAllowedDomains');
  const instancesFolder = mi.get('instancesFolder');
  const accessFolders = mi.getObject<Record<AccessEnvironment, string>>('accessFolders');
  const entitlements = mi.getObject<unknown[]>('entitlements');
  const githubIdentities = mi.getObject<Record<string, string>>('githubIdentities');
  const autoApplyModules = mi.get('autoApplyModules');
  const githubWebhookSecret = mi.getSecret('githubWebhookSecret');
  const githubToken = mi.getSecret('githubToken');
  const notifyRoutes = mi.getSecret('notifyRoutes');
  const pagerKey = mi.getSecret('opsgenieKey');
  return {
    project: gcp.require('project'),
    region,
    firestoreLocation: mi.get('firestoreLocation') ?? region,
    deploymentRepository: mi.require('deploymentRepository'),
    webhookSecretName: mi.get('webhookSecretName') ?? 'mi-github-webhook-secret',
    githubTokenSecretName: mi.get('githubTokenSecretName') ?? 'mi-github-token',
    notifyRoutesSecretName: mi.get('notifyRoutesSecretName') ?? 'mi-notify-routes',
    pagerKeySecretName: mi.get('pagerKeySecretName') ?? 'mi-opsgenie-key',
    ...(mi.get('executorStatusUrl') === undefined ? {} : { executorStatusUrl: mi.require('executorStatusUrl') }),
    appImage: mi.require('appImage'),
    oncallGroup: mi.require('oncallGroup'),
    ...(mi.get('githubBotLogin') === undefined ? {} : { githubBotLogin: mi.require('githubBotLogin') }),
    ...Object.fromEntries((['healthUrl', 'healthPath', 'versionPath'] as const).flatMap((key) => (mi.get(key) === undefined ? [] : [[key, mi.require(key)]]))),
    // No default: final backups must outlive their instances somewhere a person chose.
    centralBackupProject: mi.require('centralBackupProject'),
    ...(autoApplyModules === undefined ? {} : { autoApplyModules }),
    ...(mi.get('dataBearingModules') === undefined ? {} : { dataBearingModules: mi.require('dataBearingModules') }),
    ...(commandsAudiences === undefined ? {} : { commandsAudiences }),
    ...(commandsAllowedDomains === undefined ? {} : { commandsAllowedDomains }),
    ...(instancesFolder === undefined ? {} : { instancesFolder }),
    operators: mi.getObject<string[]>('operators') ?? [],
    ...(accessFolders === undefined ? {} : { accessFolders }),
    accessApprovers: mi.getObject<string[]>('accessApprovers') ?? [],
    ...(entitlements === undefined ? {} : { entitlements: z.array(entitlementSpecSchema).parse(entitlements) }),
    breakglassNotify: mi.getObject<string[]>('breakglassNotify') ?? [],
    ...(githubIdentities === undefined ? {} : { githubIdentities }),
    alertNotificationChannels: mi.getObject<string[]>('alertNotificationChannels') ?? [],
    ...(mi.getNumber('errorLinesPerFiveMinutes') === undefined ? {} : { errorLinesPerFiveMinutes: mi.requireNumber('errorLinesPerFiveMinutes') }),
    sourceRoot,
    ...(githubWebhookSecret === undefined ? {} : { githubWebhookSecret }),
    ...(githubToken === undefined ? {} : { githubToken }),
    ...(notifyRoutes === undefined ? {} : { notifyRoutes }),
    ...(pagerKey === undefined ? {} : { pagerKey }),
    allowUnset: mi.getObject<string[]>('allowUnset') ?? [],
  };
}

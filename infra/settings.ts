/**
 * The stack configuration, read once in infra/index.ts and passed to `buildInfrastructure`
 * as plain values, so that tests can hand the program settings without touching Pulumi config.
 */
import * as pulumi from '@pulumi/pulumi';
import { DEFAULT_POLICY } from '../shared/domain/lifecycle/acceptance.js';

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
  /** The audience of apply confirmers' ID tokens (`mi:applyConfirmationsAudience`, default that function's URL). */
  applyConfirmationsAudience?: string;
  /** Module names applied without confirmation, comma-separated (`mi:autoApplyModules`; the function's default if unset). */
  autoApplyModules?: string;
  /** Where the executor answers `GET /runs/<key>` (`mi:executorStatusUrl`). */
  executorStatusUrl: string;
  /** The audience of approvers' ID tokens (`mi:approvalsAudience`, default the approvals function's URL). */
  approvalsAudience?: string;
  /** The folder holding the instances' projects, `folders/<id>` (`mi:instancesFolder`); without it those grants are left to you. */
  instancesFolder?: string;
  /** Where a deleted instance's final GKE backup is kept, outliving its project (`mi:centralBackupProject`). */
  centralBackupProject: string;
  /** Who may call the authenticated HTTP functions, e.g. `group:sre@example.com` (`mi:operators`). */
  operators: readonly string[];
  /** Monitoring notification channels for the dead-letter alerts (`mi:alertNotificationChannels`). */
  alertNotificationChannels: readonly string[];
  /** The project root holding `dist/`, `package.json` and `package-lock.json`. */
  sourceRoot: string;
  /** The GitHub webhook secret's value (`mi:githubWebhookSecret`, a config secret), stored as the secret's version. */
  githubWebhookSecret?: pulumi.Input<string>;
  /** The repository token's value (`mi:githubToken`, a config secret), stored as the secret's version. */
  githubToken?: pulumi.Input<string>;
  /** Settings left empty on purpose (`mi:allowUnset`): the preflight refuses the others. */
  allowUnset: readonly string[];
}

/** Reads the stack configuration; `pulumi` itself fails with the key's name when a required one is missing. */
export function readSettings(sourceRoot: string): Settings {
  const gcp = new pulumi.Config('gcp');
  const mi = new pulumi.Config('mi');
  const region = gcp.require('region');
  const approvalsAudience = mi.get('approvalsAudience');
  const instancesFolder = mi.get('instancesFolder');
  const applyConfirmationsAudience = mi.get('applyConfirmationsAudience');
  const autoApplyModules = mi.get('autoApplyModules');
  const githubWebhookSecret = mi.getSecret('githubWebhookSecret');
  const githubToken = mi.getSecret('githubToken');
  return {
    project: gcp.require('project'),
    region,
    firestoreLocation: mi.get('firestoreLocation') ?? region,
    deploymentRepository: mi.require('deploymentRepository'),
    webhookSecretName: mi.get('webhookSecretName') ?? 'mi-github-webhook-secret',
    githubTokenSecretName: mi.get('githubTokenSecretName') ?? 'mi-github-token',
    executorStatusUrl: mi.require('executorStatusUrl'),
    centralBackupProject: mi.get('centralBackupProject') ?? DEFAULT_POLICY.centralBackupProject,
    ...(applyConfirmationsAudience === undefined ? {} : { applyConfirmationsAudience }),
    ...(autoApplyModules === undefined ? {} : { autoApplyModules }),
    ...(approvalsAudience === undefined ? {} : { approvalsAudience }),
    ...(instancesFolder === undefined ? {} : { instancesFolder }),
    operators: mi.getObject<string[]>('operators') ?? [],
    alertNotificationChannels: mi.getObject<string[]>('alertNotificationChannels') ?? [],
    sourceRoot,
    ...(githubWebhookSecret === undefined ? {} : { githubWebhookSecret }),
    ...(githubToken === undefined ? {} : { githubToken }),
    allowUnset: mi.getObject<string[]>('allowUnset') ?? [],
  };
}

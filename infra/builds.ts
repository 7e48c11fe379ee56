/**
 * What the executor's builds run as and keep their state in, per environment of instances:
 * one service account (the only reader of that environment's plans), a Terraform state bucket
 * (the GCS backend locks each state object) and a plans bucket. Names come from the domain
 * (environmentBuildNames), so the builds the functions create name exactly these.
 */
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import { environmentBuildNames } from '../shared/domain/executor/index.js';
import { ENVIRONMENTS, type Environment } from '../shared/events/instance.js';

/** What a build account holds in its environment's folder: enough for Terraform and kubectl on the instances there. */
export const BUILD_FOLDER_ROLES = ['roles/editor', 'roles/container.admin', 'roles/cloudsql.admin', 'roles/resourcemanager.projectCreator', 'roles/iam.serviceAccountUser'] as const;
/** How long a saved plan is kept (it can hold secrets, so not forever). */
const PLAN_RETENTION_DAYS = 30;

export interface BuildEnvironmentsArgs {
  project: string;
  region: string;
  /** The repository token's secret: a build clones with it. */
  tokenSecret: gcp.secretmanager.Secret;
  /** Each environment's folder of instance projects; without one, those grants are left to a person. */
  folders: Partial<Record<Environment, string>>;
}

export class BuildEnvironments extends pulumi.ComponentResource {
  /** Each environment's build account, by environment. */
  readonly accounts: Record<Environment, gcp.serviceaccount.Account>;
  /** Each environment's plans bucket, by environment. */
  readonly plansBuckets: Record<Environment, gcp.storage.Bucket>;
  readonly ungranted: string[] = [];

  constructor(name: string, args: BuildEnvironmentsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mi:infra:BuildEnvironments', name, {}, opts);
    const parent = { parent: this };
    const accounts: Partial<Record<Environment, gcp.serviceaccount.Account>> = {};
    const plansBuckets: Partial<Record<Environment, gcp.storage.Bucket>> = {};
    for (const environment of ENVIRONMENTS) {
      const names = environmentBuildNames(args.project, environment);
      const account = new gcp.serviceaccount.Account(
        `${name}-${environment}`,
        { project: args.project, accountId: names.serviceAccountEmail.split('@')[0] ?? '', displayName: `mi builds (${environment})`, description: `Runs the executor's Cloud Builds on ${environment} instances, and nothing else` },
        parent,
      );
      accounts[environment] = account;
      const bucket = (kind: 'state' | 'plans', bucketName: string, lifecycle: boolean) =>
        new gcp.storage.Bucket(
          `${name}-${environment}-${kind}`,
          {
            project: args.project,
            name: bucketName,
            location: args.region,
            uniformBucketLevelAccess: true,
            publicAccessPrevention: 'enforced',
            // Terraform state is recoverable from its earlier versions.
            versioning: { enabled: kind === 'state' },
            ...(lifecycle ? { lifecycleRules: [{ action: { type: 'Delete' }, condition: { age: PLAN_RETENTION_DAYS } }] } : {}),
          },
          parent,
        );
      const state = bucket('state', names.stateBucket, false);
      const plans = bucket('plans', names.plansBucket, true);
      plansBuckets[environment] = plans;
      // Only the build account writes them; people read plans through the control plane (whose commands function may read them).
      for (const [kind, b] of [['state', state], ['plans', plans]] as const) {
        new gcp.storage.BucketIAMMember(`${name}-${environment}-${kind}-admin`, { bucket: b.name, role: 'roles/storage.objectAdmin', member: account.member }, parent);
      }
      new gcp.projects.IAMMember(`${name}-${environment}-logs`, { project: args.project, role: 'roles/logging.logWriter', member: account.member }, parent);
      new gcp.secretmanager.SecretIamMember(`${name}-${environment}-token`, { project: args.project, secretId: args.tokenSecret.secretId, role: 'roles/secretmanager.secretAccessor', member: account.member }, parent);
      const folder = args.folders[environment];
      for (const role of BUILD_FOLDER_ROLES) {
        if (folder === undefined) this.ungranted.push(`mi-builds-${environment}: ${role}`);
        else new gcp.folder.IAMMember(`${name}-${environment}-${role.replace(/^roles\//, '').replace(/\./g, '-')}`, { folder, role, member: account.member }, parent);
      }
    }
    this.accounts = accounts as Record<Environment, gcp.serviceaccount.Account>;
    this.plansBuckets = plansBuckets as Record<Environment, gcp.storage.Bucket>;
    this.registerOutputs({});
  }
}

/**
 * One service account per function, holding exactly the roles the topology lists for it.
 */
import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { FunctionDefinition, FunctionRole } from '../shared/topology.js';
import { accountId, rolesOf, type SecretKind } from './model.js';
import { SCRATCH_DATABASE_PREFIX } from '../shared/domain/compliance/database-drill.js';

export type Secrets = Readonly<Record<SecretKind, gcp.secretmanager.Secret>>;

export interface FunctionAccountArgs {
  fn: FunctionDefinition;
  /** Every function of the topology (the outbox drainer publishes to each one's outbox topics). */
  functions: readonly FunctionDefinition[];
  project: string;
  /** Every topic of the program by name, for topic-scoped grants. */
  topics: ReadonlyMap<string, gcp.pubsub.Topic>;
  /** The secrets a grant may name. */
  secrets: Secrets;
  /** The folder holding the instances' projects; grants `on: 'instanceProjects'` need it. */
  instancesFolder?: string;
  /** Where a deleted instance's final GKE backup is kept (`mi:centralBackupProject`). */
  centralBackupProject: string;
  /** The executor's build accounts (one per environment), for grants `on: 'buildAccounts'`. */
  buildAccounts: readonly gcp.serviceaccount.Account[];
  /** The executor's plans buckets (one per environment), for grants `on: 'plansBuckets'`. */
  plansBuckets: readonly gcp.storage.Bucket[];
  /** The compliance evidence bucket, for grants `on: 'evidenceBucket'`. */
  evidenceBucket: gcp.storage.Bucket;
}

/** An IAM condition that holds for the restore drill's scratch databases only: the live database is never among them. */
export function scratchDatabasesCondition(project: string): { title: string; description: string; expression: string } {
  return {
    title: 'restore-drill-scratch-databases',
    description: "Only the databases the restore drill of the control plane's own Firestore creates and deletes",
    expression: `resource.name.startsWith("projects/${project}/databases/${SCRATCH_DATABASE_PREFIX}")`,
  };
}

/** A stable logical name for one grant, so reordering a function's roles renames nothing. */
function grantName(grant: FunctionRole): string {
  const role = grant.role.replace(/^roles\//, '').replace(/\./g, '-');
  if (grant.on === 'topic') return `${role}-on-${grant.topic}`;
  if (grant.on === 'secret') return `${role}-on-${grant.secret}`;
  return `${role}-on-${grant.on}`;
}

export class FunctionAccount extends pulumi.ComponentResource {
  readonly account: gcp.serviceaccount.Account;
  readonly email: pulumi.Output<string>;
  readonly member: pulumi.Output<string>;
  /** Grants the program could not make because the instances folder is not configured. */
  readonly ungranted: FunctionRole[] = [];

  constructor(name: string, args: FunctionAccountArgs, opts?: pulumi.ComponentResourceOptions) {
    super('mi:infra:FunctionAccount', name, {}, opts);
    const { fn, project } = args;
    this.account = new gcp.serviceaccount.Account(
      name,
      { project, accountId: accountId('mi-fn', fn), displayName: `mi function ${fn.name}`, description: `Runs the ${fn.name} function, and nothing else` },
      { parent: this },
    );
    this.email = this.account.email;
    this.member = pulumi.interpolate`serviceAccount:${this.account.email}`;

    for (const grant of rolesOf(fn, { functions: args.functions })) {
      const grantOpts = { parent: this };
      const grantResource = `${name}-${grantName(grant)}`;
      switch (grant.on) {
        case 'project':
          new gcp.projects.IAMMember(grantResource, { project, role: grant.role, member: this.member }, grantOpts);
          break;
        case 'topic': {
          const topic = args.topics.get(grant.topic);
          if (!topic) throw new Error(`function ${fn.name} is granted ${grant.role} on ${grant.topic}, which the program does not create`);
          new gcp.pubsub.TopicIAMMember(grantResource, { project, topic: topic.name, role: grant.role, member: this.member }, grantOpts);
          break;
        }
        case 'secret':
          new gcp.secretmanager.SecretIamMember(grantResource, { project, secretId: args.secrets[grant.secret].secretId, role: grant.role, member: this.member }, grantOpts);
          break;
        case 'centralBackupProject':
          new gcp.projects.IAMMember(grantResource, { project: args.centralBackupProject, role: grant.role, member: this.member }, grantOpts);
          break;
        case 'buildAccounts':
          // To create builds that run as them (iam.serviceAccounts.actAs), and nothing more.
          args.buildAccounts.forEach((account, index) => {
            new gcp.serviceaccount.IAMMember(`${grantResource}-${index}`, { serviceAccountId: account.name, role: grant.role, member: this.member }, grantOpts);
          });
          break;
        case 'plansBuckets':
          args.plansBuckets.forEach((bucket, index) => {
            new gcp.storage.BucketIAMMember(`${grantResource}-${index}`, { bucket: bucket.name, role: grant.role, member: this.member }, grantOpts);
          });
          break;
        case 'evidenceBucket':
          new gcp.storage.BucketIAMMember(grantResource, { bucket: args.evidenceBucket.name, role: grant.role, member: this.member }, grantOpts);
          break;
        case 'scratchDatabases':
          new gcp.projects.IAMMember(grantResource, { project, role: grant.role, member: this.member, condition: scratchDatabasesCondition(project) }, grantOpts);
          break;
        case 'instanceProjects':
          if (args.instancesFolder === undefined) {
            this.ungranted.push(grant);
          } else {
            new gcp.folder.IAMMember(grantResource, { folder: args.instancesFolder, role: grant.role, member: this.member }, grantOpts);
          }
          break;
      }
    }
    this.registerOutputs({ email: this.email });
  }
}

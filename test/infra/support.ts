/**
 * Pulumi mocks for the infrastructure tests: every registered resource is recorded with its
 * inputs; outputs the program reads (emails, URLs, ids) get plausible values. Set the mocks
 * BEFORE importing the program (a static import would run it first and nothing would resolve).
 */
import * as pulumi from '@pulumi/pulumi';
import type { Settings } from '../../infra/settings.js';

export interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

export const PROJECT = 'mi-test-project';
export const PROJECT_NUMBER = '123456789012';
export const REGION = 'europe-west1';
export const PUBSUB_AGENT = `serviceAccount:service-${PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com`;
export const INSTANCES_FOLDER = 'folders/4242';

export const TEST_SETTINGS: Settings = {
  project: PROJECT,
  region: REGION,
  firestoreLocation: REGION,
  deploymentRepository: 'example/deployments',
  webhookSecretName: 'mi-github-webhook-secret',
  githubTokenSecretName: 'mi-github-token',
  notifyRoutesSecretName: 'mi-notify-routes',
  pagerKeySecretName: 'mi-opsgenie-key',
  appImage: 'us-docker.pkg.dev/mi-test-project/app/server',
  oncallGroup: 'oncall@example.com',
  centralBackupProject: 'mi-test-central-backups',
  instancesFolder: INSTANCES_FOLDER,
  operators: ['group:sre@example.com'],
  accessFolders: { dev: 'folders/200000000001', prod: 'folders/200000000002' },
  accessApprovers: ['group:oncall-approvers@example.com'],
  breakglassNotify: ['security@example.com'],
  alertNotificationChannels: ['projects/mi-test-project/notificationChannels/42'],
  sourceRoot: process.cwd(),
  githubWebhookSecret: 'a-long-random-webhook-secret',
  githubToken: 'ghs_test-token',
  allowUnset: [],
};

function stateOf(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
  const inputs = args.inputs as Record<string, unknown>;
  const physical = typeof inputs.name === 'string' ? inputs.name : args.name;
  switch (args.type) {
    case 'gcp:serviceaccount/account:Account': {
      const email = `${String(inputs.accountId)}@${PROJECT}.iam.gserviceaccount.com`;
      const name = `projects/${PROJECT}/serviceAccounts/${email}`;
      return { id: name, state: { ...inputs, email, name, member: `serviceAccount:${email}` } };
    }
    case 'gcp:pubsub/topic:Topic':
      return { id: `projects/${PROJECT}/topics/${physical}`, state: { ...inputs, name: physical } };
    case 'gcp:pubsub/subscription:Subscription':
      return { id: `projects/${PROJECT}/subscriptions/${physical}`, state: { ...inputs, name: physical } };
    case 'gcp:cloudfunctionsv2/function:Function':
      // As gen2 answers: `url` the cloudfunctions.net form, the Cloud Run service's own URI on run.app.
      return {
        id: `projects/${PROJECT}/locations/${REGION}/functions/${physical}`,
        state: {
          ...inputs,
          url: `https://${REGION}-${PROJECT}.cloudfunctions.net/${physical}`,
          serviceConfig: { ...(inputs.serviceConfig as Record<string, unknown>), uri: `https://${physical}-abc123-ew.a.run.app` },
        },
      };
    case 'gcp:secretmanager/secret:Secret':
      return { id: `projects/${PROJECT}/secrets/${String(inputs.secretId)}`, state: { ...inputs, name: `projects/${PROJECT}/secrets/${String(inputs.secretId)}` } };
    case 'gcp:storage/bucket:Bucket':
      return { id: `${args.name}-7f3a`, state: { ...inputs, name: `${args.name}-7f3a` } };
    case 'gcp:storage/bucketObject:BucketObject':
      return { id: physical, state: { ...inputs, name: physical, generation: 1 } };
    default:
      return { id: `${args.name}-id`, state: inputs };
  }
}

/** Installs mocks that append every custom resource to `registered`. */
export async function installMocks(registered: Registered[]): Promise<void> {
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        if (args.custom !== false) registered.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
        return stateOf(args);
      },
      call(args) {
        if (args.token === 'gcp:organizations/getProject:getProject') return { projectId: PROJECT, number: PROJECT_NUMBER };
        throw new Error(`no mock for the call ${args.token}`);
      },
    },
    'mi-control-plane',
    'test',
    false,
  );
}

/** Awaits one output (the helper every assertion on outputs goes through). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => resolve(value)));
}

/** Forgets what was registered, so a second program run in this process starts clean. */
export function forgetRegistered(registered: Registered[]): void {
  registered.length = 0;
}

/**
 * Waits until registrations stop: resources register asynchronously, some only once the outputs
 * they take as inputs have resolved, so the list grows in waves after the program returns.
 */
export async function settle(registered: readonly Registered[], outputs: ReadonlyArray<pulumi.Output<unknown>> = []): Promise<void> {
  await Promise.all(outputs.map((o) => valueOf(o)));
  let last = -1;
  let quiet = 0;
  while (quiet < 5) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const count = registered.length;
    quiet = count === last ? quiet + 1 : 0;
    last = count;
  }
}

/** The resources of one type. */
export function ofType(registered: readonly Registered[], type: string): Registered[] {
  return registered.filter((r) => r.type === type);
}

/** Reads a nested input (`serviceConfig.serviceAccountEmail`) as unknown, for assertions. */
export function field(resource: Registered, path: string): unknown {
  let value: unknown = resource.inputs;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Runs the program on the real topology and the test settings, with the mocks installed, and waits until registrations stop. */
export async function runProgram(registered: Registered[]): Promise<import('../../infra/program.js').Infrastructure> {
  await installMocks(registered);
  // Only now: importing the program before the mocks would run it against no engine.
  const { buildInfrastructure } = await import('../../infra/program.js');
  const { sharedTopology } = await import('../../infra/model.js');
  const infra = buildInfrastructure(sharedTopology(), TEST_SETTINGS);
  await settle(registered, [...Object.values(infra.functionUrls), ...Object.values(infra.deadLetterSubscriptions)]);
  return infra;
}

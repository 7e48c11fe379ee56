/**
 * The build of an executor run, as a pure function: the action, the operation's params (the
 * instance's resources copied onto it, the step's own) and the environment's build settings
 * give one Cloud Build `Build` (REST v1 shape), run from the deployment repository at the
 * operation's commit with public builder images. Every value the commands use is a build
 * substitution, so a reader of the build in the console sees exactly what ran and on what.
 */
import { createHash } from 'node:crypto';
import type { ExecutorAction } from '../../events/index.js';
import type { PlanFacts } from '../deployments/applies.js';
import { manifestsPathOf, stackPathOf } from '../deployments/paths.js';

/** Public builder images, pinned: what runs is what was reviewed. */
export const BUILDER_IMAGES = {
  git: 'gcr.io/cloud-builders/git',
  terraform: 'hashicorp/terraform:1.9.8',
  /** The Cloud SDK with kubectl and the GKE auth plugin. */
  cloudSdk: 'gcr.io/google.com/cloudsdktool/google-cloud-cli:stable',
  curl: 'curlimages/curl:8.10.1',
} as const;

/** The module that holds an instance's project, cluster and database: what create applies and delete destroys. */
export const BASE_MODULE = 'infrastructure';
/** Where the application's workloads run on every instance's cluster. */
export const APP_NAMESPACE = 'app';

/** How long each action's build may run, and may wait in the queue (then it ends EXPIRED, never started). */
export const ACTION_LIMITS: Record<ExecutorAction, { timeoutSeconds: number; queueTtlSeconds: number }> = {
  provision: { timeoutSeconds: 3 * 3600, queueTtlSeconds: 900 },
  upgrade: { timeoutSeconds: 3600, queueTtlSeconds: 900 },
  plan: { timeoutSeconds: 1200, queueTtlSeconds: 900 },
  apply: { timeoutSeconds: 3600, queueTtlSeconds: 900 },
  destroy: { timeoutSeconds: 2 * 3600, queueTtlSeconds: 900 },
  'switch-over': { timeoutSeconds: 1800, queueTtlSeconds: 900 },
  verify: { timeoutSeconds: 600, queueTtlSeconds: 900 },
};

/** What a deployment of the control plane sets for its builds (one set per environment of instances). */
export interface BuildSettings {
  /** The deployment repository, `owner/name` on GitHub. */
  repository: string;
  /** Its protected default branch: every commit a build runs must be reachable from it. */
  branch: string;
  /** The Secret Manager version of the token the build clones with: `projects/P/secrets/S/versions/V`. */
  tokenSecret: string;
  /** The project the builds run in (the control plane's). */
  project: string;
  /** The application's image repository; an upgrade deploys `<image>:<version>`. */
  appImage: string;
  /** The group added as an IAM database user on create (on-call engineers log in as themselves). */
  oncallGroup: string;
}

/** The names the builds of one environment use, derived once here and created by infra. */
export function environmentBuildNames(project: string, environment: string) {
  return {
    serviceAccountEmail: `mi-builds-${environment}@${project}.iam.gserviceaccount.com`,
    /** Terraform state, one object per instance, module and region; the GCS backend locks it. */
    stateBucket: `${project}-tfstate-${environment}`,
    /** Saved plans (they can hold secrets): only the build accounts read them. */
    plansBucket: `${project}-plans-${environment}`,
  };
}

export interface BuildRequest {
  runKey: string;
  action: ExecutorAction;
  instanceId: string;
  /** The operation's params with the step's own over them (resources, versions, module, commit). */
  params: Readonly<Record<string, string | number | boolean>>;
  /** How long the build may wait in the queue (at most the action's limit): after it, never started. */
  queueTtlSeconds: number;
}

export interface BuildStep {
  id: string;
  name: string;
  entrypoint?: string;
  args: string[];
  dir?: string;
  env?: string[];
  secretEnv?: string[];
  waitFor?: string[];
}

/** A Cloud Build v1 `Build` as the control plane creates it. */
export interface BuildSpec {
  steps: BuildStep[];
  substitutions: Record<string, string>;
  tags: string[];
  timeout: string;
  queueTtl: string;
  serviceAccount: string;
  availableSecrets: { secretManager: { versionName: string; env: string }[] };
  options: { logging: 'CLOUD_LOGGING_ONLY'; substitutionOption: 'MUST_MATCH'; env: string[] };
}

/** Cloud Build tags: `^[\w][\w.-]{0,127}$`. Run keys hold `:`, so the run's tag is a digest of its key. */
export function runTagOf(runKey: string): string {
  return `mi-run-${createHash('sha256').update(runKey).digest('hex').slice(0, 40)}`;
}
/** Every build the control plane creates carries this tag; a notification for any other is ignored. */
export const CONTROL_PLANE_TAG = 'mi-run';
export const RUN_KEY_SUBSTITUTION = '_MI_RUN_KEY';
/** The step whose output says whether database migrations ran (an upgrade's). */
export const MIGRATION_STEP = 'migrate-database';
/**
 * The step whose output describes a plan: `{"summary": "Plan: 1 to add, 0 to change, 0 to destroy.",
 * "digest": <sha256 of the saved plan file>, "shape": <sha256 of its text with the instance's own
 * identifiers replaced by placeholders>, "object": <the plan file's gs:// URL>}` (see readPlanOutput).
 */
export const PLAN_STEP = 'store-plan';
/** The apply step that checks the saved plan is the one confirmed, before applying exactly it. */
export const VERIFY_PLAN_STEP = 'verify-plan';

/** Where a plan build saves its plan file (and its .txt and .json renderings) in the plans bucket. */
export function planObjectOf(bucket: string, instanceId: string, module: string, commit: string): string {
  return `gs://${bucket}/instances/${instanceId}/${module}/${commit}/${module}.tfplan`;
}

/** The text rendering (`terraform show -no-color`) saved beside a plan file. */
export function planTextObjectOf(planObject: string): string {
  return `${planObject}.txt`;
}

/**
 * Whether a recorded plan file is the one a plan build of this instance, module and commit saves
 * (in some plans bucket): what the control plane reads for a person is never a path a record
 * could point anywhere else.
 */
export function isPlanObjectOf(planObject: string, apply: { instanceId: string; module: string; commit: string }): boolean {
  const object = parseGsUrl(planObject);
  return object !== undefined && planObject === planObjectOf(object.bucket, apply.instanceId, apply.module, apply.commit);
}

/** `gs://bucket/name` split, or undefined when it is not a Cloud Storage object URL. */
export function parseGsUrl(url: string): { bucket: string; name: string } | undefined {
  const match = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])\/(.+)$/.exec(url);
  return match === null ? undefined : { bucket: match[1] ?? '', name: match[2] ?? '' };
}

/** The kubectl context `gcloud container clusters get-credentials` creates. */
export function kubeContextOf(project: string, region: string, cluster: string): string {
  return `gke_${project}_${region}_${cluster}`;
}

function text(params: BuildRequest['params'], name: string, action: ExecutorAction): string {
  const value = params[name];
  if (value === undefined || value === '') throw new Error(`a ${action} build needs ${name}, and the operation has none`);
  return String(value);
}

const REPO_DIR = '/workspace/repo';

/** Shell run by bash in an image: Cloud Build substitutes `$_X`; `$$` is a literal `$` for the shell. */
function script(id: string, image: string, lines: string[], waitFor: string[], extra: Partial<BuildStep> = {}): BuildStep {
  return { id, name: image, entrypoint: 'bash', args: ['-c', ['set -euo pipefail', ...lines].join('\n')], waitFor, ...extra };
}

function fetchSource(): BuildStep {
  // The token never reaches the build's logs or its stored definition: Secret Manager, as env.
  return script(
    'fetch-source',
    BUILDER_IMAGES.git,
    [
      'git clone --quiet --no-checkout "https://x-access-token:$$GITHUB_TOKEN@github.com/${_REPOSITORY}.git" ' + REPO_DIR,
      `cd ${REPO_DIR}`,
      // Only what the protected branch holds runs: a commit pushed elsewhere is refused here too.
      'git merge-base --is-ancestor "${_COMMIT}" "origin/${_BRANCH}" || { echo "commit ${_COMMIT} is not on ${_BRANCH}: refused" >&2; exit 1; }',
      'git checkout --quiet --detach "${_COMMIT}"',
    ],
    ['-'],
    { secretEnv: ['GITHUB_TOKEN'] },
  );
}

function terraform(id: string, module: string, command: string[], waitFor: string): BuildStep {
  return { id, name: BUILDER_IMAGES.terraform, args: [`-chdir=${REPO_DIR}/${stackPathOf('${_ENVIRONMENT}', '${_INSTANCE}', module)}`, ...command], waitFor: [waitFor] };
}

function terraformInit(module: string, waitFor: string): BuildStep {
  return terraform(
    'terraform-init',
    module,
    ['init', '-input=false', '-backend-config=bucket=${_STATE_BUCKET}', `-backend-config=prefix=instances/\${_INSTANCE}/${module}/\${_REGION}`],
    waitFor,
  );
}

// The domain: the stacks' ingress, certificate and DNS record serve the instance there.
const TF_VARS = ['-var=project=${_PROJECT}', '-var=region=${_REGION}', '-var=instance=${_INSTANCE}', '-var=domain=${_DOMAIN}'];

function clusterCredentials(waitFor: string): BuildStep {
  return script('cluster-credentials', BUILDER_IMAGES.cloudSdk, ['gcloud container clusters get-credentials "${_CLUSTER}" --region "${_REGION}" --project "${_PROJECT}"'], [waitFor]);
}

function kubectl(args: string): string {
  return `kubectl --context="\${_KUBE_CONTEXT}" --namespace="${APP_NAMESPACE}" ${args}`;
}

function deployWorkloads(waitFor: string, image: boolean): BuildStep {
  return script(
    'deploy-workloads',
    BUILDER_IMAGES.cloudSdk,
    [
      kubectl(`apply --kustomize "${REPO_DIR}/${manifestsPathOf('${_ENVIRONMENT}', '${_INSTANCE}')}"`),
      ...(image ? [kubectl('set image deployment --selector=app.kubernetes.io/part-of=app "*=${_APP_IMAGE}:${_VERSION}"')] : []),
    ],
    [waitFor],
  );
}

function rolloutStatus(waitFor: string): BuildStep {
  return script('rollout-status', BUILDER_IMAGES.cloudSdk, [kubectl('rollout status deployment --selector=app.kubernetes.io/part-of=app --timeout=900s')], [waitFor]);
}

function stepsFor(action: ExecutorAction, params: BuildRequest['params']): BuildStep[] {
  switch (action) {
    case 'provision':
      return [
          fetchSource(),
          terraformInit(BASE_MODULE, 'fetch-source'),
          terraform('terraform-apply', BASE_MODULE, ['apply', '-input=false', '-lock-timeout=300s', '-auto-approve', ...TF_VARS], 'terraform-init'),
          // On-call engineers reach the database as themselves (mi instance db proxy), never with a shared password.
          script(
            'oncall-database-user',
            BUILDER_IMAGES.cloudSdk,
            [
              'gcloud sql users list --instance="${_SQL_INSTANCE}" --project="${_PROJECT}" --format="value(name)" | grep -qx "${_ONCALL_GROUP}" ||',
              '  gcloud sql users create "${_ONCALL_GROUP}" --type=cloud_iam_group --instance="${_SQL_INSTANCE}" --project="${_PROJECT}"',
            ],
            ['terraform-apply'],
          ),
          clusterCredentials('terraform-apply'),
          deployWorkloads('cluster-credentials', true),
          rolloutStatus('deploy-workloads'),
      ];
    case 'upgrade':
      return [
          fetchSource(),
          clusterCredentials('fetch-source'),
          // The database first, as mi2's upgrade does: the new workloads expect the new schema.
          // Its output (at most 4 KB, in the build's results) says whether any migration ran.
          script(
            MIGRATION_STEP,
            BUILDER_IMAGES.cloudSdk,
            [
              'job="migrate-$$(echo "${_VERSION}" | tr . -)"',
              kubectl('delete job "$$job" --ignore-not-found'),
              `sed -e "s|{{JOB}}|$$job|" -e "s|{{IMAGE}}|\${_APP_IMAGE}:\${_VERSION}|" "${REPO_DIR}/${manifestsPathOf('${_ENVIRONMENT}', '${_INSTANCE}')}/jobs/migrate.yaml" | ${kubectl('apply -f -')}`,
              kubectl('wait --for=condition=complete "job/$$job" --timeout=1800s'),
              `applied="$$(${kubectl('logs "job/$$job"')} | grep -c "^applied migration" || true)"`,
              'if [ "$$applied" -gt 0 ]; then ran=true; else ran=false; fi',
              'printf \'{"migrationsRan":%s,"migrationsApplied":%s}\' "$$ran" "$$applied" > "$$BUILDER_OUTPUT/output"',
            ],
            ['cluster-credentials'],
          ),
          deployWorkloads(MIGRATION_STEP, true),
          rolloutStatus('deploy-workloads'),
      ];
    case 'plan': {
      const module = text(params, 'module', action);
      const plan = `/workspace/${module}.tfplan`;
      // What differs between instances only by their own names is the same plan: those are replaced first.
      const placeholders = ['_CLUSTER', '_SQL_INSTANCE', '_DOMAIN', '_PROJECT', '_INSTANCE', '_REGION'].map((sub) => `-e "s|\${${sub}}|<${sub.slice(1).toLowerCase()}>|g"`).join(' ');
      return [
          fetchSource(),
          terraformInit(module, 'fetch-source'),
          terraform('terraform-plan', module, ['plan', '-input=false', '-lock-timeout=300s', `-out=${plan}`, ...TF_VARS], 'terraform-init'),
          {
            // The terraform image is Alpine: sh, not bash. The step's output (at most 4 KB, in the
            // build's results) says what the plan does, which file it is, and its shape across instances.
            id: PLAN_STEP,
            name: BUILDER_IMAGES.terraform,
            entrypoint: 'sh',
            args: [
              '-c',
              [
                'set -eu',
                `cd "${REPO_DIR}/${stackPathOf('${_ENVIRONMENT}', '${_INSTANCE}', module)}"`,
                `terraform show -json ${plan} > ${plan}.json`,
                `terraform show -no-color ${plan} > ${plan}.txt`,
                `summary=$$(grep -E '^(Plan:|No changes)' ${plan}.txt | head -n 1 || true)`,
                `digest=$$(sha256sum ${plan} | cut -d' ' -f1)`,
                `shape=$$(sed ${placeholders} ${plan}.txt | sha256sum | cut -d' ' -f1)`,
                `printf '{"summary":"%s","digest":"%s","shape":"%s","object":"%s"}' "$$summary" "$$digest" "$$shape" "${planObjectOf('${_PLANS_BUCKET}', '${_INSTANCE}', module, '${_COMMIT}')}" > "$$BUILDER_OUTPUT/output"`,
              ].join('\n'),
            ],
            waitFor: ['terraform-plan'],
          },
          script(
            'upload-plan',
            BUILDER_IMAGES.cloudSdk,
            [`gcloud storage cp ${plan} ${plan}.json ${plan}.txt "gs://\${_PLANS_BUCKET}/instances/\${_INSTANCE}/${module}/\${_COMMIT}/"`],
            [PLAN_STEP],
          ),
      ];
    }
    case 'apply': {
      const module = text(params, 'module', action);
      if (params.planDigest === undefined) {
        // An auto-applied module: no plan was read by anyone, so it applies the commit as it is.
        return [
          fetchSource(),
          terraformInit(module, 'fetch-source'),
          terraform('terraform-apply', module, ['apply', '-input=false', '-lock-timeout=300s', '-auto-approve', ...TF_VARS], 'terraform-init'),
        ];
      }
      // The plan a person confirmed, exactly: the saved file, checked against the digest they saw.
      const plan = `/workspace/${module}.tfplan`;
      return [
          fetchSource(),
          terraformInit(module, 'fetch-source'),
          script('fetch-plan', BUILDER_IMAGES.cloudSdk, [`gcloud storage cp "gs://\${_PLANS_BUCKET}/instances/\${_INSTANCE}/${module}/\${_COMMIT}/${module}.tfplan" ${plan}`], ['-']),
          {
            id: VERIFY_PLAN_STEP,
            name: BUILDER_IMAGES.terraform,
            entrypoint: 'sh',
            args: ['-c', `echo "\${_PLAN_DIGEST}  ${plan}" | sha256sum -c - || { echo "the saved plan is not the plan confirmed (sha256 \${_PLAN_DIGEST}): refused" >&2; exit 1; }`],
            waitFor: ['fetch-plan'],
          },
          terraform('terraform-apply', module, ['apply', '-input=false', '-lock-timeout=300s', plan], VERIFY_PLAN_STEP),
      ];
    }
    case 'destroy':
      return [
          fetchSource(),
          terraformInit(BASE_MODULE, 'fetch-source'),
          // The stack's own deletion_protection (the database, the cluster) goes off by an apply first.
          terraform('terraform-unprotect', BASE_MODULE, ['apply', '-input=false', '-lock-timeout=300s', '-auto-approve', ...TF_VARS, '-var=deletion_protection=false'], 'terraform-init'),
          terraform('terraform-destroy', BASE_MODULE, ['destroy', '-input=false', '-lock-timeout=300s', '-auto-approve', ...TF_VARS, '-var=deletion_protection=false'], 'terraform-unprotect'),
      ];
    case 'switch-over':
      return [
          fetchSource(),
          clusterCredentials('fetch-source'),
          script(
            'point-at-database',
            BUILDER_IMAGES.cloudSdk,
            [
              `${kubectl('create secret generic database-instance --from-literal=connectionName="${_PROJECT}:${_REGION}:${_SQL_INSTANCE}" --dry-run=client --output=yaml')} | ${kubectl('apply -f -')}`,
              kubectl('rollout restart deployment --selector=app.kubernetes.io/part-of=app'),
            ],
            ['cluster-credentials'],
          ),
          rolloutStatus('point-at-database'),
      ];
    case 'verify':
      return [
          {
            id: 'health-check',
            name: BUILDER_IMAGES.curl,
            args: ['--fail', '--silent', '--show-error', '--retry', '10', '--retry-all-errors', '--retry-delay', '6', '--max-time', '10', 'https://${_DOMAIN}/healthz'],
            waitFor: ['-'],
          },
      ];
  }
}

/** The substitutions a build's steps reference (`$_X` or `${_X}`, never `$$`-escaped). */
export function referencedSubstitutions(steps: readonly BuildStep[]): Set<string> {
  const found = new Set<string>();
  const text = JSON.stringify(steps.map((s) => [s.args, s.env ?? [], s.dir ?? '']));
  for (const match of text.matchAll(/(?<!\$)\$(?:\{(_[A-Z0-9_]+)\}|(_[A-Z0-9_]+))/g)) found.add((match[1] ?? match[2]));
  return found;
}

/** The build of one executor run (see the file's comment); throws when the operation lacks a value the action needs. */
export function buildFor(request: BuildRequest, settings: BuildSettings): BuildSpec {
  const { action, params } = request;
  const environment = text(params, 'environment', action);
  const names = environmentBuildNames(settings.project, environment);
  // Every step knows which run it belongs to (and MUST_MATCH wants every substitution used).
  const steps = stepsFor(action, params).map((step) => ({ ...step, env: [...(step.env ?? []), `MI_RUN_KEY=\${${RUN_KEY_SUBSTITUTION}}`] }));
  const values: Record<string, () => string> = {
    [RUN_KEY_SUBSTITUTION]: () => request.runKey,
    _INSTANCE: () => request.instanceId,
    _ENVIRONMENT: () => environment,
    _PROJECT: () => text(params, 'project', action),
    _REGION: () => text(params, 'region', action),
    _REPOSITORY: () => settings.repository,
    _BRANCH: () => settings.branch,
    // Recorded on the operation when it was accepted; the branch only for an operation older than that.
    _COMMIT: () => (params.commit === undefined ? settings.branch : text(params, 'commit', action)),
    _STATE_BUCKET: () => names.stateBucket,
    _PLANS_BUCKET: () => names.plansBucket,
    _CLUSTER: () => text(params, 'gkeCluster', action),
    _SQL_INSTANCE: () => text(params, 'sqlInstance', action),
    _KUBE_CONTEXT: () => kubeContextOf(text(params, 'project', action), text(params, 'region', action), text(params, 'gkeCluster', action)),
    _VERSION: () => text(params, action === 'upgrade' ? 'targetVersion' : 'version', action),
    _APP_IMAGE: () => settings.appImage,
    _ONCALL_GROUP: () => settings.oncallGroup,
    _DOMAIN: () => text(params, 'domain', action),
    _PLAN_DIGEST: () => text(params, 'planDigest', action),
  };
  const substitutions: Record<string, string> = {};
  for (const name of [...referencedSubstitutions(steps)].sort()) {
    const value = values[name];
    if (value === undefined) throw new Error(`the ${action} build references \${${name}}, which no substitution provides`);
    substitutions[name] = value();
  }
  const clones = steps.some((s) => s.id === 'fetch-source');
  const limits = ACTION_LIMITS[action];
  return {
    steps,
    substitutions,
    tags: [CONTROL_PLANE_TAG, runTagOf(request.runKey), `mi-instance-${request.instanceId}`, `mi-action-${action}`, ...(params.module === undefined ? [] : [`mi-module-${String(params.module)}`])],
    timeout: `${limits.timeoutSeconds}s`,
    queueTtl: `${Math.max(1, Math.min(limits.queueTtlSeconds, Math.floor(request.queueTtlSeconds)))}s`,
    serviceAccount: `projects/${settings.project}/serviceAccounts/${names.serviceAccountEmail}`,
    availableSecrets: { secretManager: clones ? [{ versionName: settings.tokenSecret, env: 'GITHUB_TOKEN' }] : [] },
    options: { logging: 'CLOUD_LOGGING_ONLY', substitutionOption: 'MUST_MATCH', env: ['KUBECONFIG=/workspace/.kube/config', 'TF_IN_AUTOMATION=1'] },
  };
}

/** What a plan build's output says, read back; a bare summary line from a build made before digests. */
/** A plan step's output: its summary line and the plan's facts (digest, shape, counts, where it is saved). */
export interface PlanOutput extends PlanFacts {
  summary: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
const GS_URL = /^gs:\/\/[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]\/[^\s"]{1,1000}$/;

/** Reads a plan step's output; the counts come from its summary line. */
export function readPlanOutput(text: string): PlanOutput | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  let summary = trimmed;
  let digest: string | undefined;
  let shape: string | undefined;
  let object: string | undefined;
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as { summary?: unknown; digest?: unknown; shape?: unknown; object?: unknown };
      summary = typeof parsed.summary === 'string' ? parsed.summary : '';
      if (typeof parsed.digest === 'string' && HEX64.test(parsed.digest)) digest = parsed.digest;
      if (typeof parsed.shape === 'string' && HEX64.test(parsed.shape)) shape = parsed.shape;
      if (typeof parsed.object === 'string' && GS_URL.test(parsed.object)) object = parsed.object;
    } catch {
      return { summary: trimmed.slice(0, 300) };
    }
  }
  const counts = /Plan: (\d+) to add, (\d+) to change, (\d+) to destroy/.exec(summary);
  const none = /^No changes/.test(summary);
  return {
    summary: summary.slice(0, 300),
    ...(digest === undefined ? {} : { digest }),
    ...(shape === undefined ? {} : { shape }),
    ...(object === undefined ? {} : { object }),
    ...(counts ? { add: Number(counts[1]), change: Number(counts[2]), destroy: Number(counts[3]) } : none ? { add: 0, change: 0, destroy: 0 } : {}),
  };
}

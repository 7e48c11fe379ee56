/**
 * The generated builds, one per action, against reviewed golden files (UPDATE_GOLDEN=1 writes
 * them anew for review), and checked as Cloud Build would check them: every substitution used
 * and provided, steps that wait only for earlier ones, Terraform run in the right instance's
 * stack with its own state, kubectl against the right cluster's context.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ACTION_LIMITS,
  BASE_MODULE,
  buildFor,
  CONTROL_PLANE_TAG,
  referencedSubstitutions,
  runTagOf,
  type BuildSettings,
  type BuildSpec,
} from '../../../shared/domain/executor/index.js';
import { EXECUTOR_ACTIONS, type ExecutorAction } from '../../../shared/events/index.js';

const GOLDEN = join(import.meta.dirname, 'golden', 'builds');

const SETTINGS: BuildSettings = {
  repository: 'example-org/deployments',
  branch: 'main',
  tokenSecret: 'projects/mi-control/secrets/deployment-repo-token/versions/latest',
  project: 'mi-control',
  appImage: 'us-docker.pkg.dev/mi-control/app/server',
  oncallGroup: 'oncall@example.com',
};

const COMMIT = '3f2a9c1d4b5e6f708192a3b4c5d6e7f809123456';

/** cus-acme in prod, as its operations carry it (the resources copied from its record). */
const INSTANCE_PARAMS = {
  project: 'mi-cus-acme',
  sqlInstance: 'cus-acme-pg',
  gkeCluster: 'cus-acme-gke',
  backupPlan: 'cus-acme-daily',
  region: 'us-central1',
  version: '5.4.2',
  domain: 'acme.example.com',
  environment: 'prod',
  commit: COMMIT,
  operationId: 'op-7f3a',
};

const STEP_PARAMS: Record<ExecutorAction, Record<string, string>> = {
  provision: {},
  upgrade: { fromVersion: '5.4.2', targetVersion: '5.5.0' },
  plan: { module: 'monitoring' },
  apply: { module: 'monitoring' },
  destroy: {},
  'switch-over': { region: 'us-east1', sqlInstance: 'cus-acme-pg-dr', gkeCluster: 'cus-acme-gke-dr' },
  verify: {},
};

function generated(action: ExecutorAction): BuildSpec {
  return buildFor({ runKey: `op-7f3a:${action}`, action, instanceId: 'cus-acme', params: { ...INSTANCE_PARAMS, ...STEP_PARAMS[action] }, queueTtlSeconds: 900 }, SETTINGS);
}

/** The step's command line with the build's substitutions applied, as Cloud Build runs it. */
function resolved(build: BuildSpec, value: string): string {
  return value
    .replace(/(?<!\$)\$\{(_[A-Z0-9_]+)\}|(?<!\$)\$(_[A-Z0-9_]+)/g, (_m, a: string | undefined, b: string | undefined) => build.substitutions[(a ?? b) as string] ?? `<missing ${a ?? b}>`)
    .replaceAll('$$', '$');
}

function commandLines(build: BuildSpec): string[] {
  return build.steps.flatMap((step) => {
    const args = step.args.map((a) => resolved(build, a));
    if (step.entrypoint === 'bash' || step.entrypoint === 'sh') return (args[1] ?? '').split('\n');
    return [[step.name.includes('terraform') ? 'terraform' : step.name, ...args].join(' ')];
  });
}

describe('the generated build of each action', () => {
  for (const action of EXECUTOR_ACTIONS) {
    it(`${action}: matches its reviewed golden file`, () => {
      const file = join(GOLDEN, `${action}.json`);
      const text = `${JSON.stringify(generated(action), null, 2)}\n`;
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
      expect(existsSync(file), `${file} is missing: run UPDATE_GOLDEN=1 npx vitest run ${import.meta.filename} and review it`).toBe(true);
      expect(text).toBe(readFileSync(file, 'utf8'));
    });

    it(`${action}: every substitution is provided and used, every wait names an earlier step`, () => {
      const build = generated(action);
      const used = referencedSubstitutions(build.steps);
      expect([...used].sort()).toEqual(Object.keys(build.substitutions).sort());
      for (const key of Object.keys(build.substitutions)) expect(key).toMatch(/^_[A-Z0-9_]+$/);
      const seen = new Set<string>();
      for (const step of build.steps) {
        for (const w of step.waitFor ?? []) if (w !== '-') expect(seen, `${step.id} waits for ${w}`).toContain(w);
        expect(seen.has(step.id), `step id ${step.id} twice`).toBe(false);
        seen.add(step.id);
      }
      expect(build.tags).toContain(CONTROL_PLANE_TAG);
      expect(build.tags).toContain(runTagOf(`op-7f3a:${action}`));
      for (const tag of build.tags) expect(tag).toMatch(/^[\w][\w.-]{0,127}$/);
      expect(build.timeout).toBe(`${ACTION_LIMITS[action].timeoutSeconds}s`);
      expect(build.options.logging).toBe('CLOUD_LOGGING_ONLY');
      expect(build.serviceAccount).toBe('projects/mi-control/serviceAccounts/mi-builds-prod@mi-control.iam.gserviceaccount.com');
    });
  }
});

describe('what the builds run', () => {
  const stack = (module: string) => `/workspace/repo/environments/prod/deployments/cus-acme/terraform/stacks/${module}`;

  it('clones the repository at the operation commit, refusing one not on the protected branch, with the token from Secret Manager', () => {
    for (const action of ['provision', 'upgrade', 'plan', 'apply', 'destroy', 'switch-over'] as const) {
      const build = generated(action);
      const lines = commandLines(build);
      expect(lines).toContain(`git checkout --quiet --detach "${COMMIT}"`);
      expect(lines.some((l) => l.startsWith(`git merge-base --is-ancestor "${COMMIT}" "origin/main"`))).toBe(true);
      expect(build.availableSecrets.secretManager).toEqual([{ versionName: SETTINGS.tokenSecret, env: 'GITHUB_TOKEN' }]);
      expect(JSON.stringify(build)).not.toContain('x-access-token:ghp');
    }
  });

  it('runs terraform init, plan and apply in the instance and module stack, on the state of that instance and module', () => {
    for (const [action, module, verb] of [
      ['plan', 'monitoring', 'plan'],
      ['apply', 'monitoring', 'apply'],
      ['provision', BASE_MODULE, 'apply'],
      ['destroy', BASE_MODULE, 'apply'],
    ] as const) {
      const lines = commandLines(generated(action)).filter((l) => l.startsWith('terraform -chdir='));
      expect(lines[0]).toBe(
        `terraform -chdir=${stack(module)} init -input=false -backend-config=bucket=mi-control-tfstate-prod -backend-config=prefix=instances/cus-acme/${module}/us-central1`,
      );
      const run = lines[1] ?? '';
      expect(run.startsWith(`terraform -chdir=${stack(module)} ${verb} -input=false -lock-timeout=300s`)).toBe(true);
      expect(run).toContain('-var=project=mi-cus-acme');
      if (verb !== 'plan') expect(run).toContain('-auto-approve');
    }
  });

  it('a destroy turns the stack deletion protection off by an apply, then destroys with it off', () => {
    const lines = commandLines(generated('destroy')).filter((l) => l.startsWith('terraform -chdir='));
    expect(lines.map((l) => l.split(' ')[2])).toEqual(['init', 'apply', 'destroy']);
    for (const line of lines.slice(1)) expect(line).toContain('-var=deletion_protection=false');
  });

  it('points every kubectl at the instance cluster context and namespace, after fetching that cluster credentials', () => {
    for (const action of ['provision', 'upgrade', 'switch-over'] as const) {
      const build = generated(action);
      const lines = commandLines(build);
      const region = action === 'switch-over' ? 'us-east1' : 'us-central1';
      const cluster = action === 'switch-over' ? 'cus-acme-gke-dr' : 'cus-acme-gke';
      expect(lines).toContain(`gcloud container clusters get-credentials "${cluster}" --region "${region}" --project "mi-cus-acme"`);
      const kubectl = lines.flatMap((l) => l.split('|')).map((l) => l.trim()).filter((l) => /(^|\$\()kubectl /.test(l));
      expect(kubectl.length).toBeGreaterThan(0);
      for (const line of kubectl) expect(line).toContain(`kubectl --context="gke_mi-cus-acme_${region}_${cluster}" --namespace="app"`);
    }
  });

  it('an upgrade migrates the database before the workloads, deploys the target version, waits for the rollout, and reports whether migrations ran', () => {
    const build = generated('upgrade');
    expect(build.steps.map((s) => s.id)).toEqual(['fetch-source', 'cluster-credentials', 'migrate-database', 'deploy-workloads', 'rollout-status']);
    const lines = commandLines(build);
    expect(lines.some((l) => l.includes('set image deployment') && l.includes('us-docker.pkg.dev/mi-control/app/server:5.5.0'))).toBe(true);
    expect(lines.some((l) => l.includes('rollout status deployment'))).toBe(true);
    expect(lines.some((l) => l.includes('"migrationsRan"') && l.includes('$BUILDER_OUTPUT/output'))).toBe(true);
  });

  it('a plan stores the plan, its JSON and its text in the plans bucket, and reports its summary, digest and shape', () => {
    const build = generated('plan');
    const lines = commandLines(build);
    expect(lines).toContain('digest=$(sha256sum /workspace/monitoring.tfplan | cut -d\' \' -f1)');
    // The shape: the plan's text with this instance's own names replaced, so two instances' plans compare equal.
    const shape = lines.find((l) => l.startsWith('shape='));
    for (const [value, placeholder] of [['mi-cus-acme', '<project>'], ['cus-acme-pg', '<sql_instance>'], ['cus-acme', '<instance>'], ['acme.example.com', '<domain>'], ['us-central1', '<region>']]) {
      expect(shape, placeholder).toContain(`s|${value}|${placeholder}|g`);
    }
    // Where the plan file is: what the control plane reads its text from for `mi apply show`.
    expect(lines).toContain('printf \'{"summary":"%s","digest":"%s","shape":"%s","object":"%s"}\' "$summary" "$digest" "$shape" "gs://mi-control-plans-prod/instances/cus-acme/monitoring/' + build.substitutions._COMMIT + '/monitoring.tfplan" > "$BUILDER_OUTPUT/output"');
    expect(lines.some((l) => l.includes('gcloud storage cp /workspace/monitoring.tfplan /workspace/monitoring.tfplan.json /workspace/monitoring.tfplan.txt "gs://mi-control-plans-prod/instances/cus-acme/monitoring/'))).toBe(true);
    expect(build.tags).toContain('mi-module-monitoring');
  });

  it('an apply of a confirmed plan applies exactly the saved file, after checking it is the one confirmed', () => {
    const digest = 'ab'.repeat(32);
    const build = buildFor({ runKey: 'op-7f3a:apply', action: 'apply', instanceId: 'cus-acme', params: { ...INSTANCE_PARAMS, ...STEP_PARAMS.apply, planDigest: digest }, queueTtlSeconds: 900 }, SETTINGS);
    expect(build.steps.map((s) => s.id)).toEqual(['fetch-source', 'terraform-init', 'fetch-plan', 'verify-plan', 'terraform-apply']);
    expect(build.substitutions._PLAN_DIGEST).toBe(digest);
    const lines = commandLines(build);
    expect(lines.some((l) => l.includes(`gcloud storage cp "gs://mi-control-plans-prod/instances/cus-acme/monitoring/${build.substitutions._COMMIT ?? ''}/monitoring.tfplan" /workspace/monitoring.tfplan`))).toBe(true);
    expect(lines.some((l) => l.startsWith(`echo "${digest}  /workspace/monitoring.tfplan" | sha256sum -c -`))).toBe(true);
    // The saved plan, no variables: what it does was fixed when it was planned.
    expect(lines.at(-1)).toMatch(/^terraform -chdir=\S+ apply -input=false -lock-timeout=300s \/workspace\/monitoring\.tfplan$/);
    expect(build.steps.find((s) => s.id === 'terraform-apply')?.waitFor).toEqual(['verify-plan']);
  });

  it('a switch-over points the workloads at the new database; a create adds the on-call group as an IAM database user', () => {
    expect(commandLines(generated('switch-over')).some((l) => l.includes('connectionName="mi-cus-acme:us-east1:cus-acme-pg-dr"'))).toBe(true);
    expect(commandLines(generated('provision')).some((l) => l.includes('gcloud sql users create "oncall@example.com" --type=cloud_iam_group --instance="cus-acme-pg"'))).toBe(true);
  });

  it('the queue TTL never outlasts what the engine waits for, and a missing value is said', () => {
    expect(buildFor({ runKey: 'op-1:upgrade', action: 'upgrade', instanceId: 'cus-acme', params: { ...INSTANCE_PARAMS, targetVersion: '5.5.0' }, queueTtlSeconds: 42.7 }, SETTINGS).queueTtl).toBe('42s');
    expect(() => buildFor({ runKey: 'op-1:apply', action: 'apply', instanceId: 'cus-acme', params: INSTANCE_PARAMS, queueTtlSeconds: 900 }, SETTINGS)).toThrow(/needs module/);
  });
});

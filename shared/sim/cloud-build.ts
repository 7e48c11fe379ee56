/**
 * Cloud Build, simulated, on the v1 REST resource shapes: builds are created from a `Build`
 * body (checked as the real API checks it: steps, ids, waits, tags, substitutions under
 * MUST_MATCH), wait QUEUED, then run their steps one after the other on the clock, and end
 * SUCCESS, FAILURE (a step told to fail), TIMEOUT (a step that never ends, at the build's
 * timeout), CANCELLED, INTERNAL_ERROR, or EXPIRED (never started within its queueTtl). Every
 * change of status is published as Cloud Build publishes it: the Build as base64 JSON in
 * `data`, `buildId` and `status` in the attributes, at least once, in no promised order.
 *
 * It does not cooperate: it never deduplicates (two creates are two builds), a list is
 * newest first and paged, and faults come only as what its API answers.
 */
import { createHash, randomUUID } from 'node:crypto';
import { MIGRATION_STEP, PLAN_STEP, planObjectOf, planTextObjectOf, referencedSubstitutions, RUN_KEY_SUBSTITUTION, VERIFY_PLAN_STEP, type BuildStatus, type BuildStep } from '../domain/executor/index.js';
import { ControlPlaneError } from '../errors.js';
import { EXECUTOR_ACTIONS, type ExecutorAction } from '../events/index.js';
import type { Clock } from '../ports.js';
import type { ExecutorEffects, FinishedRun } from './executor.js';
import { exportWithFaults, importWithFaults, type SimState } from './state.js';
import { FaultInjector, type ServiceErrorStyle } from './faults.js';
import { SimulatedStorage } from './storage.js';

export type CloudBuildMethod = 'createBuild' | 'getBuild' | 'listBuilds';

/** A notification as Cloud Build publishes it on Pub/Sub. */
export interface BuildNotification {
  data: string;
  attributes: { buildId: string; status: BuildStatus };
}

/** Which builds a script applies to; every given field must match. */
export interface BuildMatcher {
  instanceId?: string;
  action?: ExecutorAction;
  runKey?: string;
}

export type BuildScript =
  /** The named step exits non-zero: the build ends FAILURE there. */
  | { kind: 'fail-step'; step: string; detail?: string }
  /** The build ends with this status while the named step (default: the first) runs. */
  | { kind: 'interrupt'; status: 'TIMEOUT' | 'CANCELLED' | 'INTERNAL_ERROR'; step?: string }
  /** The named step never ends: the build ends TIMEOUT at its timeout. */
  | { kind: 'hang'; step?: string }
  /** No worker takes the build up: it ends EXPIRED at its queueTtl. */
  | { kind: 'never-start' }
  /** The build succeeds; its steps' outputs (at most 4 KB each) are these. */
  | { kind: 'outputs'; outputs: Record<string, string> };

export interface CloudBuildSimOptions {
  clock: Clock;
  /** How long a build waits in the queue before a worker takes it up. */
  queuedMs?: number;
  /** How long each step runs. */
  stepMs?: number;
  /** What a succeeded build does to the simulated world (the executor's effects). */
  effects?: ExecutorEffects;
  /** The plans buckets its builds write plans to and read them from (a bucket of its own when not given). */
  plansBucket?: SimulatedStorage;
}

interface BuildRecord {
  build: Record<string, unknown> & { id: string; steps: BuildStep[]; substitutions: Record<string, string>; tags: string[] };
  createdAt: number;
  timeoutMs: number;
  queueTtlMs: number;
  script: BuildScript | undefined;
  /** Statuses already published (each at least once). */
  notified: Set<BuildStatus>;
  effected: boolean;
}

const STYLE: ServiceErrorStyle = { service: 'cloudbuild', conflictCode: 'conflict' };
const TAG = /^[\w][\w.-]{0,127}$/;
const DURATION = /^(\d+)(\.\d+)?s$/;

function invalid(message: string): ControlPlaneError {
  return new ControlPlaneError('invalid-message', message, { retryable: false, details: { httpStatus: 400, status: 'INVALID_ARGUMENT' } });
}

function seconds(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  const match = typeof value === 'string' ? DURATION.exec(value) : null;
  if (match === null) throw invalid(`invalid value for ${field}: ${JSON.stringify(value)}`);
  return Number(match[1]) + Number(match[2] ?? 0);
}

/** Checks a Build body as builds.create does, returning its parts. */
function checked(body: unknown): { steps: BuildStep[]; substitutions: Record<string, string>; tags: string[]; timeout: number; queueTtl: number } {
  if (typeof body !== 'object' || body === null) throw invalid('build is required');
  const build = body as Record<string, unknown>;
  const steps = build.steps;
  if (!Array.isArray(steps) || steps.length === 0) throw invalid('invalid build: no build steps');
  const ids = new Set<string>();
  steps.forEach((raw, index) => {
    const step = raw as Partial<BuildStep>;
    if (typeof step.name !== 'string' || step.name === '') throw invalid(`invalid build: build step ${index} must specify name`);
    for (const w of step.waitFor ?? []) {
      if (w !== '-' && !ids.has(w)) throw invalid(`invalid build: build step ${index} depends on unknown step "${w}"`);
    }
    if (step.id !== undefined) {
      if (ids.has(step.id)) throw invalid(`invalid build: build step ${index} has a duplicate id "${step.id}"`);
      ids.add(step.id);
    }
  });
  const tags = Array.isArray(build.tags) ? (build.tags as unknown[]).map(String) : [];
  for (const tag of tags) if (!TAG.test(tag)) throw invalid(`invalid build: invalid build tag "${tag}": must match format "^[\\w][\\w.-]{0,127}$"`);
  const substitutions = (build.substitutions ?? {}) as Record<string, string>;
  for (const key of Object.keys(substitutions)) if (!/^_[A-Z0-9_]+$/.test(key)) throw invalid(`invalid build: invalid substitution key "${key}"`);
  const options = (build.options ?? {}) as Record<string, unknown>;
  // Enums come as names, or as numbers from a client that asks for enum-encoding=int (ALLOW_LOOSE is 1).
  if (options.substitutionOption !== 'ALLOW_LOOSE' && options.substitutionOption !== 1) {
    const used = referencedSubstitutions(steps as BuildStep[]);
    for (const key of used) if (!(key in substitutions)) throw invalid(`generic::invalid_argument: key in the template "${key}" is not a valid built-in substitution`);
    for (const key of Object.keys(substitutions)) if (!used.has(key)) throw invalid(`generic::invalid_argument: key "${key}" in the substitution data is not matched in the template`);
  }
  if (build.serviceAccount !== undefined && options.logging === undefined && build.logsBucket === undefined) {
    throw invalid('invalid build: if build.service_account is specified, the build must either (a) specify build.logs_bucket, (b) use the REGIONAL_USER_OWNED_BUCKET build.options.default_logs_bucket_behavior option, or (c) use either CLOUD_LOGGING_ONLY / NONE logging options');
  }
  return { steps: steps as BuildStep[], substitutions, tags, timeout: seconds(build.timeout, 'timeout', 600), queueTtl: seconds(build.queueTtl, 'queue_ttl', 3600) };
}

/** The instance a build is for, from its `mi-instance-<id>` tag (every build has it; not every build uses `_INSTANCE`). */
function instanceOf(tags: readonly string[]): string {
  return tags.find((t) => t.startsWith('mi-instance-'))?.slice('mi-instance-'.length) ?? '';
}

function matches(matcher: BuildMatcher, record: BuildRecord): boolean {
  const { instanceId, action, runKey } = matcher;
  const subs = record.build.substitutions;
  if (instanceId !== undefined && instanceOf(record.build.tags) !== instanceId) return false;
  if (action !== undefined && !record.build.tags.includes(`mi-action-${action}`)) return false;
  if (runKey !== undefined && subs[RUN_KEY_SUBSTITUTION] !== runKey) return false;
  return true;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Where a build stands at a moment: its status, the step running or where it ended, and when. */
interface Progress {
  status: BuildStatus;
  startAt: number | undefined;
  finishAt: number | undefined;
  /** Per step: when it started and ended (undefined: not yet). */
  steps: Array<{ start?: number; end?: number; status: string }>;
  detail?: string;
}

/** The fields exportState keeps. */
const BUILD_STATE_FIELDS = ['builds', 'scripts'] as const;

/** The simulated Cloud Build of one or more projects. */
export class SimulatedCloudBuild {
  readonly faults = new FaultInjector<CloudBuildMethod>(STYLE);
  private readonly builds = new Map<string, BuildRecord>();
  private readonly scripts: Array<{ matcher: BuildMatcher; script: BuildScript; remaining: number }> = [];
  /** The plans buckets: a plan build's upload step writes its plan file and renderings there when it succeeds. */
  readonly plansBucket: SimulatedStorage;

  constructor(private readonly options: CloudBuildSimOptions) {
    this.plansBucket = options.plansBucket ?? new SimulatedStorage();
  }

  /** Its world as plain data (state.ts): what a restart of the local stack must find. */
  exportState(): SimState {
    return exportWithFaults(this, BUILD_STATE_FIELDS, this.faults);
  }

  /** Puts a world taken by exportState back. */
  importState(state: SimState): void {
    importWithFaults(this, BUILD_STATE_FIELDS, this.faults, state);
  }

  // ------------------------------------------------------------------ test and `mi dev fault` control

  /** The next build(s) matching run as scripted (fail a named step, time out, never start...). */
  script(matcher: BuildMatcher, script: BuildScript, times = 1): void {
    if (!(times > 0)) throw new RangeError(`script needs times > 0, got ${times}`);
    this.scripts.push({ matcher, script, remaining: times });
  }

  /** The scripts waiting for builds of one instance, with how many builds each still takes. */
  scriptsFor(instanceId: string): Array<{ matcher: BuildMatcher; script: BuildScript; remaining: number }> {
    return structuredClone(this.scripts.filter((s) => s.matcher.instanceId === instanceId));
  }

  /** Forgets the scripts waiting for builds of one instance; returns how many there were. */
  clearScriptsFor(instanceId: string): number {
    const before = this.scripts.length;
    const kept = this.scripts.filter((s) => s.matcher.instanceId !== instanceId);
    this.scripts.splice(0, this.scripts.length, ...kept);
    return before - kept.length;
  }

  /** Replaces a saved plan file in the plans bucket (as someone with write access could): its digest changes. */
  replaceSavedPlan(path: string, content = 'tampered'): void {
    if (!this.plansBucket.has(path)) throw new Error(`cloud build sim: no saved plan ${path}`);
    this.plansBucket.put(path, content);
  }

  /** The saved plan files (not their renderings), by path, with their sha256. */
  plans(): Map<string, string> {
    return new Map([...this.plansBucket.list()].filter(([path]) => path.endsWith('.tfplan')));
  }

  /** Every build created, oldest first, as builds.get would answer now. */
  list(): Array<Record<string, unknown>> {
    return [...this.builds.values()].sort((a, b) => a.createdAt - b.createdAt).map((r) => this.render(r));
  }

  /** Builds created for a run key (more than one means a run was started twice). */
  buildsOf(runKey: string): number {
    return [...this.builds.values()].filter((r) => r.build.substitutions[RUN_KEY_SUBSTITUTION] === runKey).length;
  }

  /** Cancels a build (builds.cancel): it ends CANCELLED now unless it has ended. */
  cancel(id: string): void {
    const record = this.builds.get(id);
    if (record === undefined) throw new Error(`cloud build sim: no build ${id}`);
    if (this.progress(record).finishAt !== undefined) return;
    const step = this.progress(record).steps.findIndex((s) => s.status === 'WORKING');
    record.script = { kind: 'interrupt', status: 'CANCELLED', ...(step >= 0 ? { step: record.build.steps[step]?.id ?? '' } : {}) };
    (record as { cancelledAt?: number }).cancelledAt = this.now();
  }

  /**
   * Publishes every status change not published yet, oldest build first, each handed to
   * `publish` and marked once that resolved: a lost publish is made again next time. A build
   * that moved through several statuses since the last call publishes each, in order.
   */
  async notifyDue(publish: (notification: BuildNotification) => Promise<void> | void): Promise<number> {
    let sent = 0;
    for (const record of [...this.builds.values()].sort((a, b) => a.createdAt - b.createdAt)) {
      const progress = this.progress(record);
      this.settle(record, progress);
      const reached: BuildStatus[] = ['QUEUED'];
      if (progress.startAt !== undefined) reached.push('WORKING');
      if (progress.finishAt !== undefined) reached.push(progress.status);
      for (const status of reached) {
        if (record.notified.has(status)) continue;
        const build = status === progress.status ? this.render(record) : { ...this.render(record), status };
        await publish({ data: Buffer.from(JSON.stringify(build)).toString('base64'), attributes: { buildId: record.build.id, status } });
        record.notified.add(status);
        sent += 1;
      }
    }
    return sent;
  }

  /** Applies the effects of builds that have succeeded by now. */
  settleAll(): void {
    for (const record of this.builds.values()) this.settle(record, this.progress(record));
  }

  calls(method: CloudBuildMethod): number {
    return this.faults.calls(method);
  }

  // ------------------------------------------------------------------ the API (REST v1 shapes)

  /** builds.create: the long-running Operation whose metadata holds the new build. */
  createBuild(parent: string, body: unknown): Promise<Record<string, unknown>> {
    return this.faults.call('createBuild', parent, () => {
      const parts = checked(body);
      const project = /^projects\/([^/]+)/.exec(parent)?.[1] ?? '';
      const location = /\/locations\/([^/]+)/.exec(parent)?.[1] ?? 'global';
      const id = randomUUID();
      const now = this.now();
      const record: BuildRecord = {
        build: {
          ...structuredClone(body as Record<string, unknown>),
          id,
          name: `projects/${project}/locations/${location}/builds/${id}`,
          projectId: project,
          steps: structuredClone(parts.steps),
          substitutions: { ...parts.substitutions },
          tags: parts.tags,
          createTime: iso(now),
          logUrl: `https://console.cloud.google.com/cloud-build/builds;region=${location}/${id}?project=${project}`,
        },
        createdAt: now,
        timeoutMs: parts.timeout * 1000,
        queueTtlMs: parts.queueTtl * 1000,
        script: this.takeScript(parts),
        notified: new Set(),
        effected: false,
      };
      // What the world makes of it, unless scripted: an apply of a saved plan that is not the one confirmed fails its check.
      record.script ??= this.planCheck(record);
      this.builds.set(id, record);
      return {
        name: `projects/${project}/locations/${location}/operations/${randomUUID()}`,
        metadata: { '@type': 'type.googleapis.com/google.devtools.cloudbuild.v1.BuildOperationMetadata', build: this.render(record) },
      };
    });
  }

  /** builds.get by `projects/P/locations/L/builds/ID`: undefined is a 404. */
  getBuild(name: string): Promise<Record<string, unknown> | undefined> {
    return this.faults.call('getBuild', name, () => {
      const id = name.slice(name.lastIndexOf('/') + 1);
      const record = this.builds.get(id);
      if (record === undefined || !name.startsWith(`projects/${String(record.build.projectId)}/`)) return undefined;
      this.settle(record, this.progress(record));
      return this.render(record);
    });
  }

  /** builds.list with a filter of `tags="..."` terms joined by AND; newest first, paged. */
  listBuilds(parent: string, request: { filter?: string; pageSize?: number; pageToken?: string } = {}): Promise<{ builds: Array<Record<string, unknown>>; nextPageToken?: string }> {
    return this.faults.call('listBuilds', parent, () => {
      const project = /^projects\/([^/]+)/.exec(parent)?.[1] ?? '';
      const terms = (request.filter ?? '').trim() === '' ? [] : (request.filter ?? '').split(/\s+AND\s+/);
      const wanted = terms.map((term) => {
        const match = /^tags\s*=\s*"([^"]*)"$/.exec(term.trim());
        if (match === null) throw invalid(`invalid filter: ${term}`);
        return match[1] ?? '';
      });
      const all = [...this.builds.values()]
        .filter((r) => r.build.projectId === project && wanted.every((tag) => r.build.tags.includes(tag)))
        .sort((a, b) => b.createdAt - a.createdAt || (a.build.id < b.build.id ? -1 : 1));
      const size = Math.min(Math.max(request.pageSize ?? 25, 1), 100);
      const offset = request.pageToken === undefined || request.pageToken === '' ? 0 : Number(Buffer.from(request.pageToken, 'base64url').toString());
      if (!Number.isInteger(offset) || offset < 0) throw invalid('invalid page token');
      const page = all.slice(offset, offset + size);
      for (const record of page) this.settle(record, this.progress(record));
      const next = offset + size < all.length ? Buffer.from(String(offset + size)).toString('base64url') : undefined;
      return { builds: page.map((r) => this.render(r)), ...(next === undefined ? {} : { nextPageToken: next }) };
    });
  }

  // ------------------------------------------------------------------ internals

  private now(): number {
    return this.options.clock.now().getTime();
  }

  private takeScript(parts: { substitutions: Record<string, string>; tags: string[] }): BuildScript | undefined {
    const probe = { build: { substitutions: parts.substitutions, tags: parts.tags } } as unknown as BuildRecord;
    const index = this.scripts.findIndex((s) => matches(s.matcher, probe));
    const entry = this.scripts[index];
    if (entry === undefined) return undefined;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.scripts.splice(index, 1);
    return entry.script;
  }

  private progress(record: BuildRecord): Progress {
    const now = this.now();
    const script = record.script;
    const stepMs = this.options.stepMs ?? 1_000;
    const steps = record.build.steps;
    const expiry = record.createdAt + record.queueTtlMs;
    const cancelledAt = (record as { cancelledAt?: number }).cancelledAt;
    const queuedUntil = script?.kind === 'never-start' ? Number.POSITIVE_INFINITY : record.createdAt + (this.options.queuedMs ?? 1_000);
    const waiting = steps.map(() => ({ status: 'QUEUED' }));
    if (queuedUntil >= expiry && now >= expiry) return { status: 'EXPIRED', startAt: undefined, finishAt: expiry, steps: waiting, detail: `build was queued for longer than its queue_ttl of ${record.queueTtlMs / 1000}s` };
    if (now < queuedUntil) {
      if (cancelledAt !== undefined) return { status: 'CANCELLED', startAt: undefined, finishAt: cancelledAt, steps: waiting };
      return { status: 'QUEUED', startAt: undefined, finishAt: undefined, steps: waiting };
    }
    const startAt = queuedUntil;
    const stepIndex = (id: string | undefined) => Math.max(0, id === undefined ? 0 : steps.findIndex((s) => s.id === id));
    // Where the build stops, and how: the scripted step, or every step done.
    let stopAt = steps.length;
    let ending: BuildStatus = 'SUCCESS';
    let detail: string | undefined;
    if (script?.kind === 'fail-step') {
      stopAt = stepIndex(script.step);
      ending = 'FAILURE';
      detail = script.detail ?? `Build step ${stopAt} "${steps[stopAt]?.name ?? ''}" failed: step exited with non-zero status: 1`;
    } else if (script?.kind === 'interrupt' || script?.kind === 'hang') {
      stopAt = stepIndex(script.step);
      ending = script.kind === 'hang' ? 'TIMEOUT' : script.status;
    }
    const end = (i: number) => startAt + (i + 1) * stepMs;
    let finishAt: number;
    if (ending === 'SUCCESS') finishAt = end(steps.length - 1);
    else if (ending === 'FAILURE') finishAt = end(stopAt);
    else if (ending === 'TIMEOUT') finishAt = startAt + record.timeoutMs;
    else finishAt = cancelledAt ?? startAt + stopAt * stepMs + stepMs / 2;
    // A build that runs past its timeout ends TIMEOUT, whatever its steps were doing.
    if (finishAt > startAt + record.timeoutMs) {
      finishAt = startAt + record.timeoutMs;
      ending = 'TIMEOUT';
      stopAt = Math.min(steps.length - 1, Math.floor(record.timeoutMs / stepMs));
    }
    const ended = now >= finishAt;
    const at = Math.min(now, finishAt);
    const stepStates = steps.map((_, i) => {
      const start = startAt + i * stepMs;
      if (i > stopAt || at < start) return { status: ended ? 'CANCELLED' : 'QUEUED' };
      if (i === stopAt && ending !== 'SUCCESS') return ended ? { start, end: finishAt, status: ending } : { start, status: 'WORKING' };
      if (at < end(i)) return { start, status: 'WORKING' };
      return { start, end: end(i), status: 'SUCCESS' };
    });
    if (!ended) return { status: 'WORKING', startAt, finishAt: undefined, steps: stepStates };
    return { status: ending, startAt, finishAt, steps: stepStates, ...(detail === undefined ? {} : { detail }) };
  }

  private settle(record: BuildRecord, progress: Progress): void {
    if (record.effected || progress.status !== 'SUCCESS') return;
    record.effected = true;
    // A plan build leaves its plan file and its renderings in the plans bucket (the upload step).
    const plan = this.planOf(record);
    if (plan !== undefined && record.build.steps.some((s) => s.id === PLAN_STEP)) {
      this.plansBucket.put(plan.path, plan.file);
      this.plansBucket.put(`${plan.path}.json`, JSON.stringify({ format_version: '1.2', terraform_version: '1.9.8', resource_changes: [{ address: plan.address, change: { actions: ['update'] } }] }));
      this.plansBucket.put(planTextObjectOf(plan.path), plan.text);
    }
    this.options.effects?.onSucceeded(this.finishedRun(record, progress));
  }

  /**
   * The plan a plan build makes (and an apply build works on): its file's bytes and digest, its
   * text rendering naming the instance's own resources, and its shape as the build computes it
   * (the text with those names replaced by placeholders): one module change at one commit is
   * one shape across instances, while each instance's file and text differ.
   */
  private planOf(record: BuildRecord): { path: string; file: string; digest: string; text: string; shape: string; address: string } | undefined {
    const subs = record.build.substitutions;
    const module = record.build.tags.find((t) => t.startsWith('mi-module-'))?.slice('mi-module-'.length);
    if (module === undefined || subs._PLANS_BUCKET === undefined || subs._COMMIT === undefined) return undefined;
    const instanceId = instanceOf(record.build.tags);
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    const file = `plan ${instanceId} ${module} ${subs._COMMIT}`;
    const address = `module.${module}.google_compute_network.main`;
    const project = subs._PROJECT ?? instanceId;
    const text = [
      'Terraform used the selected providers to generate the following execution plan. Resource actions are indicated with the following symbols:',
      '  ~ update in-place',
      '',
      'Terraform will perform the following actions:',
      '',
      `  # ${address} will be updated in-place`,
      '  ~ resource "google_compute_network" "main" {',
      `        id      = "projects/${project}/global/networks/${instanceId}-${module}"`,
      `        name    = "${instanceId}-${module}"`,
      `        project = "${project}"`,
      `      ~ description = "${module} at ${subs._COMMIT.slice(0, 12)}" -> "${module} at ${subs._COMMIT}"`,
      '    }',
      '',
      'Plan: 0 to add, 1 to change, 0 to destroy.',
      '',
    ].join('\n');
    // The build's sed: each substitution's value replaced by its placeholder, in this order.
    const placeholders: Array<[string, string]> = [['_CLUSTER', '<cluster>'], ['_SQL_INSTANCE', '<sql_instance>'], ['_DOMAIN', '<domain>'], ['_PROJECT', '<project>'], ['_INSTANCE', '<instance>'], ['_REGION', '<region>']];
    const shaped = placeholders.reduce((out, [key, placeholder]) => (subs[key] ? out.split(subs[key]).join(placeholder) : out), text);
    return { path: planObjectOf(subs._PLANS_BUCKET, instanceId, module, subs._COMMIT), file, digest: sha(file), text, shape: sha(shaped), address };
  }

  /** An apply of a confirmed plan fails its check when the saved file is missing or is not the one confirmed. */
  private planCheck(record: BuildRecord): BuildScript | undefined {
    if (!record.build.steps.some((s) => s.id === VERIFY_PLAN_STEP)) return undefined;
    const plan = this.planOf(record);
    const saved = plan === undefined ? undefined : this.plansBucket.digestOf(plan.path);
    if (saved === undefined) return { kind: 'fail-step', step: 'fetch-plan', detail: `ERROR: (gcloud.storage.cp) The following URLs matched no objects or files: ${plan?.path ?? 'the saved plan'}` };
    if (saved !== record.build.substitutions._PLAN_DIGEST) {
      return { kind: 'fail-step', step: VERIFY_PLAN_STEP, detail: `/workspace/plan: FAILED; sha256sum: WARNING: 1 computed checksum did NOT match; the saved plan is not the plan confirmed (sha256 ${record.build.substitutions._PLAN_DIGEST ?? ''}): refused` };
    }
    return undefined;
  }

  private finishedRun(record: BuildRecord, progress: Progress): FinishedRun {
    const subs = record.build.substitutions;
    const action = EXECUTOR_ACTIONS.find((a) => record.build.tags.includes(`mi-action-${a}`)) ?? 'verify';
    const params: Record<string, string> = {};
    for (const [param, key] of [
      ['project', '_PROJECT'],
      ['region', '_REGION'],
      ['sqlInstance', '_SQL_INSTANCE'],
      ['gkeCluster', '_CLUSTER'],
      ['version', '_VERSION'],
      ['domain', '_DOMAIN'],
    ] as const) {
      if (subs[key] !== undefined) params[param] = subs[key];
    }
    const runKey = subs[RUN_KEY_SUBSTITUTION] ?? record.build.id;
    return {
      runKey,
      action,
      instanceId: instanceOf(record.build.tags),
      outcome: 'succeeded',
      detail: `build ${record.build.id} SUCCESS`,
      outputs: {},
      finishedAt: new Date(progress.finishAt ?? this.now()),
      request: { runKey, action, instanceId: instanceOf(record.build.tags), params, actor: 'system:cloud-build', reason: 'build', refuseAfter: iso(record.createdAt + record.queueTtlMs) },
    };
  }

  private render(record: BuildRecord): Record<string, unknown> {
    const progress = this.progress(record);
    // What the real migration step writes when no migration was pending, unless told otherwise.
    const plan = this.planOf(record);
    const outputs =
      record.script?.kind === 'outputs'
        ? record.script.outputs
        : { [MIGRATION_STEP]: '{"migrationsRan":false,"migrationsApplied":0}', [PLAN_STEP]: JSON.stringify({ summary: 'Plan: 0 to add, 1 to change, 0 to destroy.', digest: plan?.digest ?? '', shape: plan?.shape ?? '', object: plan?.path ?? '' }) };
    const steps = record.build.steps.map((step, i) => {
      const state = progress.steps[i] ?? { status: 'QUEUED' };
      return {
        ...step,
        status: state.status,
        ...(state.start === undefined ? {} : { timing: { startTime: iso(state.start), ...(state.end === undefined ? {} : { endTime: iso(state.end) }) } }),
      };
    });
    const done = progress.status === 'SUCCESS';
    const build: Record<string, unknown> = {
      ...record.build,
      steps,
      status: progress.status,
      ...(progress.startAt === undefined ? {} : { startTime: iso(progress.startAt) }),
      ...(progress.finishAt === undefined ? {} : { finishTime: iso(progress.finishAt) }),
      ...(progress.detail === undefined ? {} : { statusDetail: progress.detail }),
      ...(progress.status === 'FAILURE' ? { failureInfo: { type: 'USER_BUILD_STEP', detail: progress.detail ?? '' } } : {}),
    };
    if (done) {
      build.results = {
        buildStepOutputs: record.build.steps.map((s) => (s.id !== undefined && outputs[s.id] !== undefined ? Buffer.from(outputs[s.id] ?? '').toString('base64') : '')),
        buildStepImages: record.build.steps.map(() => ''),
      };
    }
    return build;
  }
}


/**
 * The health gates of an upgrade, as the playbook asks: before the backups the instance must
 * answer healthy; after the rollout it must answer healthy and report the target version for
 * N consecutive probes within a window. Pure: the gate's step runner probes (over the health
 * port) and folds each probe in here; what the gate saw is kept on the step as evidence.
 */
import type { HttpAnswer } from '../../ports.js';
import type { OperationRecord, Step, StepParams } from './model.js';

/** Before an upgrade's backups, after its rollout, or a check of the running instance (on its recorded version, with the before gate's counts). */
export type GatePhase = 'before' | 'after' | 'check';

/** One gate as its step carries it (recorded on the operation, so the trail says what was asked). */
export interface HealthGate {
  phase: GatePhase;
  /** After the rollout: the version the instance must report. */
  expectVersion?: string;
  /** How many probes in a row must pass. */
  consecutive: number;
  /** From the step's first claim: past this without the streak, the gate fails. */
  windowSeconds: number;
  /** At least this long between two probes (the engine polls more often when events arrive). */
  intervalSeconds: number;
}

/** How the gates probe and what they ask; the deployment's configuration (MI_HEALTH_*). */
export interface HealthGatePolicy {
  /** Where an instance answers, with `{domain}` for its domain: https://{domain} in the cloud. */
  urlTemplate: string;
  healthPath: string;
  versionPath: string;
  timeoutSeconds: number;
  intervalSeconds: number;
  before: { consecutive: number; windowSeconds: number };
  after: { consecutive: number; windowSeconds: number };
}

export const DEFAULT_HEALTH_GATES: HealthGatePolicy = {
  urlTemplate: 'https://{domain}',
  healthPath: '/healthz',
  versionPath: '/version',
  timeoutSeconds: 10,
  intervalSeconds: 15,
  // One healthy answer, with two minutes for a flaky probe to be retried.
  before: { consecutive: 1, windowSeconds: 120 },
  // Three healthy answers in a row on the target version, within ten minutes of the rollout.
  after: { consecutive: 3, windowSeconds: 600 },
};

/** The step params of a gate. */
export function gateParams(phase: GatePhase, policy: HealthGatePolicy, expectVersion?: string): StepParams {
  const { consecutive, windowSeconds } = policy[phase === 'check' ? 'before' : phase];
  return { phase, consecutive, windowSeconds, intervalSeconds: policy.intervalSeconds, ...(expectVersion === undefined ? {} : { expectVersion }) };
}

/** A gate read back from its step's params. */
export function gateOf(step: Step): HealthGate {
  const p = step.params;
  return {
    phase: p.phase === 'after' || p.phase === 'check' ? p.phase : 'before',
    ...(typeof p.expectVersion === 'string' ? { expectVersion: p.expectVersion } : {}),
    consecutive: Number(p.consecutive ?? 1),
    windowSeconds: Number(p.windowSeconds ?? 0),
    intervalSeconds: Number(p.intervalSeconds ?? 0),
  };
}

/** The URLs of an instance's health and version endpoints. */
export function probeUrls(policy: Pick<HealthGatePolicy, 'urlTemplate' | 'healthPath' | 'versionPath'>, domain: string): { health: string; version: string } {
  const base = policy.urlTemplate.replaceAll('{domain}', domain).replace(/\/+$/, '');
  return { health: `${base}${policy.healthPath}`, version: `${base}${policy.versionPath}` };
}

/** What one probe found: the evidence a gate records. */
export interface ProbeEvidence {
  at: string;
  healthUrl: string;
  healthStatus: number | null;
  versionUrl: string;
  versionStatus: number | null;
  /** The version the instance reported, when it did. */
  version: string | null;
  latencyMs: number;
  error: string | null;
  healthy: boolean;
  /** After the rollout: whether the reported version is the target. */
  versionMatches: boolean | null;
  passed: boolean;
}

/** The version in a version endpoint's body: JSON with a `version`, or the text itself. */
export function versionInBody(body: string): string | null {
  const text = body.trim();
  if (text === '') return null;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { version?: unknown }).version === 'string') return (parsed as { version: string }).version;
    return typeof parsed === 'string' ? parsed : null;
  } catch {
    return text.length <= 64 && !/\s/.test(text) ? text : null;
  }
}

const ok = (status: number | null) => status !== null && status >= 200 && status < 300;

/** Reads one probe's answers against the gate. */
export function readProbe(gate: HealthGate, answers: { health: HttpAnswer; version: HttpAnswer }, at: Date): ProbeEvidence {
  const { health, version } = answers;
  const healthy = ok(health.status);
  const reported = ok(version.status) ? versionInBody(version.body) : null;
  const versionMatches = gate.expectVersion === undefined ? null : reported === gate.expectVersion;
  const errors = [health.error === null ? null : `health: ${health.error}`, version.error === null ? null : `version: ${version.error}`].filter((e) => e !== null);
  return {
    at: at.toISOString(),
    healthUrl: health.url,
    healthStatus: health.status,
    versionUrl: version.url,
    versionStatus: version.status,
    version: reported,
    latencyMs: Math.max(health.latencyMs, version.latencyMs),
    error: errors.length === 0 ? null : errors.join('; '),
    healthy,
    versionMatches,
    passed: healthy && versionMatches !== false,
  };
}

/** What a gate has seen so far, kept in its step's handles. */
export interface GateState {
  probes: number;
  streak: number;
  lastProbeAt: string | null;
  /** The latest probes, newest last (at most RECENT_PROBES). */
  recent: ProbeEvidence[];
}

const RECENT_PROBES = 5;

export function gateStateOf(handles: Record<string, string>): GateState {
  let recent: ProbeEvidence[];
  try {
    recent = handles.probeLog === undefined ? [] : (JSON.parse(handles.probeLog) as ProbeEvidence[]);
  } catch {
    recent = [];
  }
  return { probes: Number(handles.probes ?? 0), streak: Number(handles.healthyStreak ?? 0), lastProbeAt: handles.lastProbeAt ?? null, recent };
}

export function gateHandles(state: GateState): Record<string, string> {
  const last = state.recent.at(-1);
  return {
    probes: String(state.probes),
    healthyStreak: String(state.streak),
    ...(state.lastProbeAt === null ? {} : { lastProbeAt: state.lastProbeAt }),
    ...(last === undefined ? {} : { lastProbe: describeProbe(last) }),
    probeLog: JSON.stringify(state.recent),
  };
}

/** Whether the gate may probe again now. */
export function probeDue(gate: HealthGate, state: GateState, now: Date): boolean {
  return state.lastProbeAt === null || now.getTime() - Date.parse(state.lastProbeAt) >= gate.intervalSeconds * 1000;
}

/** The moment the gate's window closes. */
export function windowEnd(gate: HealthGate, step: Step): number {
  return Date.parse(step.startedAt ?? new Date(0).toISOString()) + gate.windowSeconds * 1000;
}

export type GateVerdict = { kind: 'passed' } | { kind: 'failed'; reason: string } | { kind: 'continue' };

/** Folds one probe into the gate: passed once the streak is long enough, failed once the window closed without it. */
export function afterProbe(gate: HealthGate, step: Step, state: GateState, probe: ProbeEvidence): { state: GateState; verdict: GateVerdict } {
  const next: GateState = {
    probes: state.probes + 1,
    streak: probe.passed ? state.streak + 1 : 0,
    lastProbeAt: probe.at,
    recent: [...state.recent, probe].slice(-RECENT_PROBES),
  };
  if (next.streak >= gate.consecutive) return { state: next, verdict: { kind: 'passed' } };
  if (Date.parse(probe.at) >= windowEnd(gate, step)) {
    const what =
      gate.phase === 'before'
        ? 'before the upgrade'
        : gate.phase === 'check'
          ? `of the running instance${gate.expectVersion === undefined ? '' : ` (recorded on ${gate.expectVersion})`}`
          : `after the rollout${gate.expectVersion === undefined ? '' : ` of ${gate.expectVersion}`}`;
    const wanted = `${gate.consecutive} passing probe(s) in a row within ${gate.windowSeconds} s`;
    return { state: next, verdict: { kind: 'failed', reason: `the health gate ${what} did not see ${wanted} (${next.probes} probes; last: ${describeProbe(probe)})` } };
  }
  return { state: next, verdict: { kind: 'continue' } };
}

/** One line of evidence a person reads. */
export function describeProbe(p: ProbeEvidence): string {
  const status = (s: number | null) => (s === null ? 'no answer' : String(s));
  const parts = [`${p.at} GET ${p.healthUrl} → ${status(p.healthStatus)}`, `GET ${p.versionUrl} → ${status(p.versionStatus)}${p.version === null ? '' : ` version ${p.version}`}`];
  if (p.versionMatches === false) parts.push('not the target version');
  if (p.error !== null) parts.push(p.error);
  return `${parts.join(', ')} (${p.latencyMs} ms): ${p.passed ? 'passed' : 'failed'}`;
}

/** The backups an upgrade took before it changed anything: what a person goes back to. */
export function preUpgradeBackups(operation: OperationRecord): { sqlBackupRunId?: string; gkeBackup?: string } {
  const sql = operation.steps.find((s) => s.kind === 'sql-backup' && s.status === 'succeeded')?.handles.backupRunId;
  const gke = operation.steps.find((s) => s.kind === 'gke-backup' && s.status === 'succeeded')?.handles.gkeBackup;
  return { ...(sql === undefined ? {} : { sqlBackupRunId: sql }), ...(gke === undefined ? {} : { gkeBackup: gke }) };
}

/**
 * Why a gate failed, with the way back: the pre-upgrade backups by id, and whether a rollback
 * can redeploy the old version (not when the upgrade ran database migrations).
 */
export function gateFailureReason(operation: OperationRecord, gate: HealthGate, reason: string): string {
  if (gate.phase !== 'after') return `${reason}; nothing was changed`;
  const backups = preUpgradeBackups(operation);
  const named = [backups.sqlBackupRunId === undefined ? null : `Cloud SQL backup run ${backups.sqlBackupRunId}`, backups.gkeBackup === undefined ? null : `GKE backup ${backups.gkeBackup}`].filter((b) => b !== null);
  const migrations = migrationsRanOf(operation);
  const back =
    migrations === false
      ? `mi upgrade ${operation.instanceId} --rollback`
      : `mi restore ${operation.instanceId}${backups.sqlBackupRunId === undefined ? '' : ` --backup-run ${backups.sqlBackupRunId}`}${backups.gkeBackup === undefined ? '' : ` --gke-backup ${backups.gkeBackup}`} (the upgrade ${migrations === true ? 'ran' : 'may have run'} database migrations)`;
  return `${reason}; pre-upgrade backups: ${named.length === 0 ? 'none recorded' : named.join(', ')}; to go back: ${back}`;
}

/** Whether the upgrade's run reported database migrations: true, false, or null when it did not say. */
export function migrationsRanOf(operation: OperationRecord): boolean | null {
  const run = operation.steps.find((s) => s.kind === 'executor-run' && s.params.action === 'upgrade');
  const said = run?.handles.migrationsRan;
  return said === 'true' ? true : said === 'false' ? false : null;
}

/**
 * The dashboard's decisions, as plain functions over plain data (no I/O): which page a request
 * asks for and whether it is well-formed, the paging cursors, how old a backup is, which cells
 * of the compliance matrix fail and where their evidence is. The reader (reader.ts) fetches;
 * the pages (pages.ts) only lay these out.
 */
import * as z from 'zod';
import { lazySchema } from '../lazy-schema.js';
import type { Finding } from '../compliance/model.js';
import { INSTANCE_CONTROL_IDS, type ControlResult, type ControlStatus } from '../domain/compliance/controls.js';
import type { OperationRecord } from '../domain/lifecycle/model.js';
import type { RolloutRecord, WaveSummary } from '../domain/rollout/types.js';
import { INSTANCE_ID_PATTERN, type InstanceRecord } from '../events/index.js';

/** Rows per page unless `limit` says otherwise, and the most a page may ask for. */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** The operation lists the dashboard shows: what runs, what is stuck, what failed (newest first). */
export const OPERATION_LISTS = ['running', 'stuck', 'failed'] as const;
export type OperationList = (typeof OPERATION_LISTS)[number];

/** The pages and their paths (relative to the dashboard's root). */
export const PAGE_PATHS = { fleet: '/', operations: '/operations', rollouts: '/rollouts', compliance: '/compliance', evidence: '/evidence' } as const;
export type PageName = keyof typeof PAGE_PATHS;

// ------------------------------------------------------------------ cursors

const CURSOR_PREFIX = 'c1.';
/** A Firestore document id as our records name them: no slash, bounded. */
const DOCUMENT_ID = /^[A-Za-z0-9_][A-Za-z0-9._:~@+=-]{0,299}$/;

/** The cursor of the page after the one ending at this document id: opaque to the reader. */
export function encodeCursor(lastId: string): string {
  return CURSOR_PREFIX + Buffer.from(lastId, 'utf8').toString('base64url');
}

/** The document id a cursor starts after, or why it is not a cursor this dashboard made. */
export function decodeCursor(text: string): { after: string } | { problem: string } {
  const bad = { problem: `"${text.slice(0, 60)}" is not a cursor of this dashboard: follow the page's own "next" link, or start from the first page` };
  if (!text.startsWith(CURSOR_PREFIX) || !/^[A-Za-z0-9_-]{1,400}$/.test(text.slice(CURSOR_PREFIX.length))) return bad;
  const after = Buffer.from(text.slice(CURSOR_PREFIX.length), 'base64url').toString('utf8');
  return DOCUMENT_ID.test(after) ? { after } : bad;
}

/**
 * One page of a list read with `limit + 1` documents: the rows to show and the cursor of the
 * next page (null on the last one). Reading one more than shown tells whether more follow
 * without counting.
 */
export function pageOf<T>(read: readonly T[], limit: number, idOf: (item: T) => string): { items: T[]; next: string | null } {
  const items = read.slice(0, limit);
  const last = items[items.length - 1];
  return { items, next: read.length > limit && last !== undefined ? encodeCursor(idOf(last)) : null };
}

// ------------------------------------------------------------------ requests

const cursorSchema = lazySchema(() =>
  z
    .string({ error: 'after must be given once: the cursor of a "next" link' })
    .transform((text, ctx) => {
      const decoded = decodeCursor(text);
      if ('problem' in decoded) {
        ctx.addIssue({ code: 'custom', message: decoded.problem });
        return z.NEVER;
      }
      return decoded.after;
    }),
);
const limitSchema = lazySchema(() =>
  z.coerce
    .number({ error: `limit must be a number of rows, 1 to ${MAX_PAGE_SIZE}` })
    .int({ error: `limit must be a whole number of rows, 1 to ${MAX_PAGE_SIZE}` })
    .min(1, { error: `limit must be 1 to ${MAX_PAGE_SIZE}` })
    .max(MAX_PAGE_SIZE, { error: `limit must be 1 to ${MAX_PAGE_SIZE}: pages are kept small so that none reads the whole fleet` }),
);
const runIdSchema = lazySchema(() => z.string({ error: 'run must be given once: a compliance run id' }).regex(/^[a-z][a-z0-9-]{0,120}$/, { error: 'run must be a compliance run id such as verify-backups-20261202T020000Z' }));
const paged = { after: lazySchema(() => cursorSchema.optional()), limit: lazySchema(() => limitSchema.default(DEFAULT_PAGE_SIZE)) };

const QUERY_SCHEMAS = {
  fleet: lazySchema(() => z.strictObject(paged)),
  operations: lazySchema(() => z.strictObject({ ...paged, list: z.enum(OPERATION_LISTS, { error: `list must be one of ${OPERATION_LISTS.join(', ')}` }).optional() })),
  rollouts: lazySchema(() => z.strictObject(paged)),
  compliance: lazySchema(() => z.strictObject({ ...paged, run: runIdSchema.optional(), failing: z.enum(['1'], { error: 'failing must be 1 (only the instances with a failed control) or absent' }).optional() })),
  evidence: lazySchema(() =>
    z.strictObject({
      run: runIdSchema,
      instance: z.string({ error: 'instance must be given once: an instance id' }).regex(INSTANCE_ID_PATTERN, { error: 'instance must be an instance id (lowercase letters, digits, hyphens)' }),
      control: z.string({ error: 'control must be given once: a control id such as sql.recent-backup' }).regex(/^[a-z][a-z0-9.-]{0,80}$/, { error: 'control must be a control id such as sql.recent-backup' }),
    }),
  ),
} as const;

export type DashboardRequest =
  | { page: 'fleet'; after: string | null; limit: number }
  | { page: 'operations'; list: OperationList | null; after: string | null; limit: number }
  | { page: 'rollouts'; after: string | null; limit: number }
  | { page: 'compliance'; run: string | null; failing: boolean; after: string | null; limit: number }
  | { page: 'evidence'; run: string; instance: string; control: string };

/** A request the dashboard cannot answer, and what to tell the person. */
export interface RequestProblem {
  status: 400 | 404;
  message: string;
}

/** A path relative to the dashboard's root: a local server's `/dashboard` prefix and trailing slashes taken off. */
export function relativePath(path: string): string {
  return path.replace(/^\/dashboard(?=\/|$)/, '').replace(/\/+$/, '') || '/';
}

/** The page a path names (relative to the dashboard's root, or under the local server's `/dashboard`), or undefined. */
export function pageOfPath(path: string): PageName | undefined {
  const relative = relativePath(path);
  return (Object.entries(PAGE_PATHS) as Array<[PageName, string]>).find(([, p]) => p === relative)?.[0];
}

/** Parses a request's path and query into the page it asks for, or the problem with it. */
export function parseDashboardRequest(path: string, query: Record<string, unknown>): DashboardRequest | RequestProblem {
  const page = pageOfPath(path);
  if (page === undefined) return { status: 404, message: `no page ${relativePath(path).slice(0, 100)}: the dashboard has ${Object.values(PAGE_PATHS).join(', ')}` };
  const parsed = QUERY_SCHEMAS[page].safeParse(query);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path[0];
    const message = issue?.code === 'unrecognized_keys' ? `${PAGE_PATHS[page]} takes no parameter ${issue.keys.join(', ')}` : (issue?.message ?? 'invalid parameters');
    return { status: 400, message: field === undefined || message.startsWith(String(field)) || issue?.code === 'custom' ? message : `${String(field)}: ${message}` };
  }
  const data = parsed.data as Record<string, unknown>;
  const after = typeof data.after === 'string' ? data.after : null;
  const limit = typeof data.limit === 'number' ? data.limit : DEFAULT_PAGE_SIZE;
  switch (page) {
    case 'fleet':
    case 'rollouts':
      return { page, after, limit };
    case 'operations':
      return { page, list: (data.list as OperationList | undefined) ?? null, after, limit };
    case 'compliance':
      return { page, run: (data.run as string | undefined) ?? null, failing: data.failing === '1', after, limit };
    case 'evidence':
      return { page, run: data.run as string, instance: data.instance as string, control: data.control as string };
  }
}

/** A link to a page with these parameters (absent ones left out), relative to the dashboard's root. */
export function linkTo(page: PageName, params: Record<string, string | number | null | undefined> = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== null && value !== undefined) search.set(key, String(value));
  const query = search.toString();
  return `${PAGE_PATHS[page]}${query === '' ? '' : `?${query}`}`;
}

// ------------------------------------------------------------------ ages

/** How long ago `at` was, for a person: "just now", "12 min", "5 h", "3 d" ("in 5 min" ahead); null when unknown. */
export function ageOf(at: string | null | undefined, now: Date): string | null {
  if (at === null || at === undefined) return null;
  const then = Date.parse(at);
  if (Number.isNaN(then)) return null;
  const ms = now.getTime() - then;
  const span = Math.abs(ms);
  const text = span < 60_000 ? null : span < 3_600_000 ? `${Math.floor(span / 60_000)} min` : span < 2 * 86_400_000 ? `${Math.floor(span / 3_600_000)} h` : `${Math.floor(span / 86_400_000)} d`;
  if (text === null) return 'just now';
  return ms >= 0 ? text : `in ${text}`;
}

/** The last backup of one kind as the latest compliance check saw it. */
export interface BackupAge {
  /** When it ended (or was created, for a GKE backup that has no end time). */
  at: string;
  age: string | null;
  /** Its control's verdict: fail when too old or failed. */
  status: ControlStatus;
  /** How it ended as the check read it (SUCCEEDED, FAILED…), when the evidence says. */
  state: string | null;
}

function controlOf(finding: Pick<Finding, 'controls'> | undefined, control: string): ControlResult | undefined {
  return finding?.controls.find((c) => c.control === control);
}

/** The ages of an instance's last Cloud SQL and GKE backups, from its finding's recency evidence; null where the finding has none. */
export function backupAgesOf(finding: Pick<Finding, 'controls'> | undefined, now: Date): { sql: BackupAge | null; gke: BackupAge | null } {
  const of = (control: string, fields: readonly string[], stateField: string): BackupAge | null => {
    const result = controlOf(finding, control);
    const at = fields.map((f) => result?.evidence[f]).find((v): v is string => typeof v === 'string');
    const state = result?.evidence[stateField];
    return result === undefined || at === undefined ? null : { at, age: ageOf(at, now), status: result.status, state: typeof state === 'string' ? state : null };
  };
  return { sql: of('sql.recent-backup', ['endTime'], 'status'), gke: of('gke.recent-backup', ['completeTime', 'createTime'], 'state') };
}

// ------------------------------------------------------------------ the fleet

export interface FleetRow {
  id: string;
  environment: string;
  tier: string;
  version: string;
  status: string;
  lease: { operationId: string; operationType: string; age: string | null } | null;
  sqlBackup: BackupAge | null;
  gkeBackup: BackupAge | null;
}

/** One row of the fleet table: the instance, its lease, and its backups' ages from the latest run's finding. */
export function fleetRow(instance: InstanceRecord, finding: Pick<Finding, 'controls'> | undefined, now: Date): FleetRow {
  const ages = backupAgesOf(finding, now);
  return {
    id: instance.id,
    environment: instance.environment,
    tier: instance.tier,
    version: instance.version,
    status: instance.status,
    lease: instance.lease === null ? null : { operationId: instance.lease.operationId, operationType: instance.lease.operationType, age: ageOf(instance.lease.acquiredAt, now) },
    sqlBackup: ages.sql,
    gkeBackup: ages.gke,
  };
}

// ------------------------------------------------------------------ operations

export interface OperationRow {
  id: string;
  type: string;
  instanceId: string;
  status: string;
  actor: string;
  started: string | null;
  /** The step running now (or the one that failed), and how far the steps are. */
  step: string | null;
  progress: string;
  failure: string | null;
}

/** One row of an operations list: what it is, who asked, how far it got, and why it failed. */
export function operationRow(op: OperationRecord, now: Date): OperationRow {
  const steps = op.steps;
  const done = steps.filter((s) => s.status === 'succeeded').length;
  const current = op.failure?.step ?? steps.find((s) => s.status === 'running' || s.status === 'starting')?.name ?? null;
  return {
    id: op.id,
    type: op.type,
    instanceId: op.instanceId,
    status: op.status,
    actor: op.actor,
    started: ageOf(op.createdAt, now),
    step: current,
    progress: `${done}/${steps.length}`,
    failure: op.failure === null ? null : `${op.failure.step}: ${op.failure.reason}`,
  };
}

// ------------------------------------------------------------------ rollouts and workflows

export interface WaveCell {
  wave: string;
  status: string;
  total: number;
  succeeded: number;
  failed: number;
  inFlight: number;
  waiting: number;
  skipped: number;
  /** Percent of the wave settled (succeeded, failed or skipped). */
  percent: number;
}

export interface RolloutRow {
  id: string;
  kind: string;
  /** What it does: the target version, the workflow's action and environment, or the module at its commit. */
  what: string;
  status: string;
  actor: string;
  started: string | null;
  halt: string | null;
  waves: WaveCell[];
}

/** What a fan-out does, in a few words. */
function whatOf(rollout: RolloutRecord): string {
  if (rollout.kind === 'workflow' && rollout.workflow !== undefined) {
    const w = rollout.workflow;
    return [w.action, w.environment, w.module, ...w.filter].filter((part) => part !== undefined && part !== '').join(' ');
  }
  if (rollout.kind === 'module-change' && rollout.moduleChange !== undefined) return `${rollout.moduleChange.module} at ${rollout.moduleChange.commit.slice(0, 12)}`;
  return `upgrade to ${rollout.targetVersion}`;
}

/** One fan-out with its waves: each wave's state and its counts as of its last tick. */
export function rolloutRow(rollout: RolloutRecord, now: Date): RolloutRow {
  const summaries = new Map<string, WaveSummary>(rollout.summary.map((s) => [s.wave, s]));
  return {
    id: rollout.id,
    kind: rollout.kind ?? 'upgrade',
    what: whatOf(rollout),
    status: rollout.status,
    actor: rollout.actor,
    started: ageOf(rollout.createdAt, now),
    halt: rollout.halt === null ? null : `${rollout.halt.wave}: ${rollout.halt.reason}`,
    waves: rollout.waveStates.map((state) => {
      const s = summaries.get(state.name);
      const total = s?.total ?? rollout.membership.sizes[state.name] ?? 0;
      const settled = (s?.succeeded ?? 0) + (s?.failed ?? 0) + (s?.skipped ?? 0);
      return {
        wave: state.name,
        status: state.status,
        total,
        succeeded: s?.succeeded ?? 0,
        failed: s?.failed ?? 0,
        inFlight: s?.inFlight ?? 0,
        waiting: s?.waiting ?? 0,
        skipped: s?.skipped ?? 0,
        percent: total === 0 ? (state.status === 'done' ? 100 : 0) : Math.round((100 * settled) / total),
      };
    }),
  };
}

// ------------------------------------------------------------------ the compliance matrix

/** The matrix's columns: every instance control, in the order the checks define them. */
export const MATRIX_CONTROLS: readonly string[] = INSTANCE_CONTROL_IDS;

/** One cell: a control's verdict on one instance; a failed one links to its evidence. */
export interface MatrixCell {
  control: string;
  status: ControlStatus | 'missing';
  summary: string | null;
  /** The evidence page of this finding's control: set on failed cells. */
  evidence: string | null;
}

export interface MatrixRow {
  instanceId: string;
  environment: string | null;
  outcome: Finding['outcome'];
  cells: MatrixCell[];
  failed: number;
}

/** One instance's row of the matrix, a cell per control; failed cells link to their evidence. */
export function matrixRow(finding: Finding, controls: readonly string[] = MATRIX_CONTROLS): MatrixRow {
  const byControl = new Map(finding.controls.map((c) => [c.control, c]));
  const cells = controls.map((control): MatrixCell => {
    const result = byControl.get(control);
    if (result === undefined) return { control, status: 'missing', summary: null, evidence: null };
    const evidence = result.status === 'fail' && finding.instanceId !== null ? linkTo('evidence', { run: finding.runId, instance: finding.instanceId, control }) : null;
    return { control, status: result.status, summary: result.summary, evidence };
  });
  return { instanceId: finding.instanceId ?? '', environment: finding.environment, outcome: finding.outcome, cells, failed: cells.filter((c) => c.status === 'fail').length };
}

/** The evidence of one control of one finding, or why there is none to show. */
export function evidenceOf(finding: Finding | undefined, request: { run: string; instance: string; control: string }): { result: ControlResult } | RequestProblem {
  if (finding === undefined) return { status: 404, message: `compliance run ${request.run} has no finding for ${request.instance}` };
  const result = finding.controls.find((c) => c.control === request.control);
  if (result === undefined) return { status: 404, message: `the finding of ${request.instance} in run ${request.run} has no control ${request.control} (it has ${finding.controls.map((c) => c.control).join(', ')})` };
  return { result };
}

/**
 * What `mi` prints: tables, documents, and the step-by-step progress of an operation. Pure
 * functions from records to text, so commands and tests share one rendering.
 */
import Table from 'cli-table3';
import { stringify as stringifyYaml } from 'yaml';
import type { OperationRecord, Step } from '../shared/domain/lifecycle/operations.js';
import { describeProbe, gateStateOf } from '../shared/domain/lifecycle/health-gates.js';
import type { InstanceRecord, Lease } from '../shared/events/index.js';

/** Somewhere to write text (process.stdout, or a test's buffer). */
export interface TextSink {
  write(text: string): unknown;
  /** How documents are printed to it (`-o yaml`); JSON by default. */
  documents?: 'json' | 'yaml';
  /** A terminal a person reads (process.stdout of an interactive shell): colour and redraw are for it only. */
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

/** Writes one line. */
export function line(sink: TextSink, text = ''): void {
  sink.write(`${text}\n`);
}

/** Writes a value as indented JSON: the documents as stored (Dates become ISO timestamps). */
export function printJson(sink: TextSink, value: unknown): void {
  // Through JSON first, so that both formats carry exactly the same fields and values.
  const plain: unknown = JSON.parse(JSON.stringify(value) ?? 'null');
  sink.write(sink.documents === 'yaml' ? stringifyYaml(plain) : `${JSON.stringify(plain, null, 2)}\n`);
}

/** No borders: columns as kubectl and gcloud print them. */
const NO_BORDERS = Object.fromEntries(
  ['top', 'top-mid', 'top-left', 'top-right', 'bottom', 'bottom-mid', 'bottom-left', 'bottom-right', 'left', 'left-mid', 'mid', 'mid-mid', 'right', 'right-mid', 'middle'].map((k) => [k, '']),
);

/** Columns padded to their widest cell (by display width), two spaces apart; trailing blanks trimmed. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const rendered = new Table({ head: [...headers], chars: NO_BORDERS, style: { head: [], border: [], 'padding-left': 0, 'padding-right': 2, compact: true } });
  rendered.push(...rows.map((row) => headers.map((_, i) => row[i] ?? '')));
  return rendered.toString().split('\n').map((text) => text.trimEnd());
}

/** A lease as one cell: `upgrade op-…`, or `-` when the instance is free. */
export function formatLease(lease: Lease | null | undefined): string {
  return lease ? `${lease.operationType} ${lease.operationId}` : '-';
}

/** A maintenance window as one cell: `sat 02:00+4h America/New_York`, or `-`. */
export function windowText(window: InstanceRecord['maintenanceWindow']): string {
  return window === undefined ? '-' : `${window.days.join(',')} ${window.start}+${window.hours}h ${window.timeZone}`;
}

/** The rows of `mi instance list` (`wide`: region, domain, window, expiry and last change too). */
export function instanceTable(instances: readonly InstanceRecord[], options: { wide?: boolean } = {}): string[] {
  const head = ['ID', 'ENV', 'TIER', 'SLUG', 'VERSION', 'STATUS', 'LEASE'];
  const row = (i: InstanceRecord) => [i.id, i.environment, i.tier, i.slug, i.version, i.status, formatLease(i.lease)];
  if (options.wide !== true) return table(head, instances.map(row));
  return table(
    [...head, 'REGION', 'DOMAIN', 'WINDOW', 'EXPIRES', 'UPDATED'],
    instances.map((i) => [...row(i), i.region, i.domain, windowText(i.maintenanceWindow), i.expiresAt ?? '-', timeText(i.updatedAt) ?? '-']),
  );
}

function keyValues(pairs: ReadonlyArray<readonly [string, string | undefined | null]>): string[] {
  const shown = pairs.filter((p): p is readonly [string, string] => p[1] !== undefined && p[1] !== null && p[1] !== '');
  const width = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`);
}

function timeText(value: unknown): string | undefined {
  if (value instanceof Date) return value.toISOString();
  return typeof value === 'string' ? value : undefined;
}

/** What a rollback would do, and whether it may. */
function lastUpgradeText(instance: InstanceRecord): string | undefined {
  const last = instance.lastUpgrade;
  if (last === undefined) return undefined;
  const back = last.rollback ? 'it was a rollback' : last.migrationsRan === false ? `no migrations: mi upgrade ${instance.id} --rollback goes back to ${last.fromVersion}` : 'it ran migrations: going back is a restore of its backups';
  return `${last.fromVersion} → ${last.toVersion} by ${last.operationId} at ${last.at} (${back})`;
}

/** One instance, field by field, then its latest operations. */
export function instanceDetails(instance: InstanceRecord, recent: readonly OperationRecord[]): string[] {
  const window = instance.maintenanceWindow;
  const lines = keyValues([
    ['id', instance.id],
    ['slug', instance.slug],
    ['environment', instance.environment],
    ['tier', instance.tier],
    ['domain', instance.domain],
    ['region', instance.region],
    ['version', instance.version],
    ['status', instance.status],
    ['lease', instance.lease ? `${formatLease(instance.lease)} since ${instance.lease.acquiredAt}` : '-'],
    ['maintenance', window ? `${window.days.join(',')} ${window.start} for ${window.hours}h (${window.timeZone})` : undefined],
    ['expires', timeText(instance.expiresAt)],
    ['project', instance.resources?.project],
    ['cloud sql', instance.resources?.sqlInstance],
    ['gke cluster', instance.resources?.gkeCluster],
    ['backup plan', instance.resources?.backupPlan],
    ['last upgrade', lastUpgradeText(instance)],
    ['generation', String(instance.generation)],
    ['created', timeText(instance.createdAt)],
    ['updated', timeText(instance.updatedAt)],
  ]);
  lines.push('', recent.length === 0 ? 'no operations yet' : 'recent operations:');
  if (recent.length > 0) {
    lines.push(
      ...table(
        ['  OPERATION', 'TYPE', 'STATUS', 'CREATED', 'ACTOR'],
        recent.map((op) => [`  ${op.id}`, op.type, op.status, op.createdAt, op.actor]),
      ),
    );
  }
  return lines;
}

/** Handles that are evidence logs (a gate's probes) are printed below the steps, one line each. */
const LOG_HANDLES = new Set(['probeLog', 'lastProbe']);

function handlesText(handles: Record<string, string>): string {
  return Object.entries(handles)
    .filter(([k]) => !LOG_HANDLES.has(k))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

/** What each health gate saw: its latest probes, oldest first. */
function probeLines(op: OperationRecord): string[] {
  const lines: string[] = [];
  for (const step of op.steps.filter((s) => s.kind === 'health-check' && s.handles.probeLog !== undefined)) {
    const { recent, probes } = gateStateOf(step.handles);
    lines.push('', `${step.name}: ${probes} probe(s)${probes > recent.length ? `, the last ${recent.length}` : ''}`, ...recent.map((p) => `  ${describeProbe(p)}`));
  }
  return lines;
}

/** One operation: its fields, then a table of its steps. */
export function operationDetails(op: OperationRecord): string[] {
  const lines = keyValues([
    ['id', op.id],
    ['type', op.type],
    ['instance', op.instanceId],
    ['status', op.status],
    ['actor', op.actor],
    ['reason', op.reason],
    ['params', Object.entries(op.params ?? {}).map(([k, v]) => `${k}=${String(v)}`).join(' ')],
    ['cause event', op.causeEventId],
    ['created', op.createdAt],
    ['updated', op.updatedAt],
    ['deadline', op.deadline],
    ['finished', op.finishedAt],
    ['stuck since', op.stuckSince],
    ['failure', op.failure ? `${op.failure.step}: ${op.failure.reason}` : undefined],
    ['abandoned', op.abandoned ? `by ${op.abandoned.by} at ${op.abandoned.at}: ${op.abandoned.why}` : undefined],
    ['result', op.result ? Object.entries(op.result).filter(([k]) => !LOG_HANDLES.has(k.slice(k.lastIndexOf('.') + 1))).map(([k, v]) => `${k}=${String(v)}`).join(' ') : undefined],
  ]);
  lines.push(
    '',
    ...table(
      ['STEP', 'STATUS', 'ATTEMPTS', 'STARTED', 'FINISHED', 'DETAIL'],
      op.steps.map((s) => [
        s.name,
        s.status,
        String(s.attempts),
        s.startedAt ?? '-',
        s.finishedAt ?? '-',
        [handlesText(s.handles), s.error ? `error: ${s.error}` : ''].filter((t) => t !== '').join('; '),
      ]),
    ),
    ...probeLines(op),
  );
  return lines;
}

/** A short summary of what an operation is doing, for the first progress line. */
export function operationSummary(op: OperationRecord): string {
  if (op.type === 'upgrade') return `upgrade of ${op.instanceId} ${String(op.params.fromVersion)} → ${String(op.params.targetVersion)}`;
  return `${op.type} of ${op.instanceId}`;
}

/** "3m 10s" from two timestamps. */
export function elapsedText(from: string, to: string): string {
  const seconds = Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

/** `42s`, `3m07s`, `1h05m`: how long since the operation was accepted, without spaces (a column). */
export function compactElapsed(from: string, to: string): string {
  const seconds = Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** The time column of a --wait line: when it happened (UTC) and how long after the operation was accepted. */
function stamped(op: OperationRecord, at: string, text: string): string {
  const time = Number.isNaN(Date.parse(at)) ? '--:--:--' : new Date(at).toISOString().slice(11, 19);
  return `${time}Z +${compactElapsed(op.createdAt, at).padEnd(6)} ${text}`;
}

/**
 * Turns successive readings of one operation into lines for what changed: each step's status
 * changes (`10:02:13Z +42s      sql-backup    running → succeeded  (backupRunId 12)`) and the
 * operation's own, each with when it happened (the step's own start or end, as recorded) and how
 * long after the operation was accepted. Polling can miss intermediate states; a line shows the
 * change between two readings.
 */
export class StepProgress {
  private readonly seen = new Map<string, Step>();
  private status: OperationRecord['status'] | undefined;

  /** Lines for what changed since the last reading. */
  observe(op: OperationRecord): string[] {
    const lines: string[] = [];
    if (this.status === undefined) lines.push(stamped(op, op.updatedAt, `operation ${op.id} ${op.status}: ${operationSummary(op)}`));
    else if (this.status !== op.status && !isFinal(op.status)) lines.push(stamped(op, op.updatedAt, `operation ${op.id} ${this.status} → ${op.status}${statusNote(op)}`));
    this.status = op.status;
    const width = Math.max(...op.steps.map((s) => s.name.length));
    for (const step of op.steps) {
      const before = this.seen.get(step.name);
      this.seen.set(step.name, step);
      // Every step starts pending, so an unseen step that has moved shows its move from there.
      const from = before?.status ?? 'pending';
      if (from === step.status && (before === undefined || before.attempts === step.attempts)) continue;
      const added = Object.fromEntries(Object.entries(step.handles).filter(([k, v]) => before?.handles[k] !== v));
      const details = [handlesText(added)];
      if (step.error && step.error !== before?.error) details.push(step.status === 'pending' ? `will retry: ${step.error}` : `error: ${step.error}`);
      const note = details.filter((d) => d !== '').join('; ');
      const change = from === step.status ? `${step.status} again (attempt ${step.attempts})` : `${from} → ${step.status}`;
      const at = (step.status === 'succeeded' || step.status === 'failed' ? step.finishedAt : step.startedAt) ?? op.updatedAt;
      lines.push(stamped(op, at, `  ${step.name.padEnd(width)}  ${change}${note === '' ? '' : `  (${note})`}`));
    }
    return lines;
  }
}

/** True for the statuses an operation never leaves. */
export function isFinal(status: OperationRecord['status']): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'abandoned';
}

function statusNote(op: OperationRecord): string {
  if (op.status === 'stuck') {
    return ` (past its deadline ${op.deadline}; the lease stays until nothing it started runs, or: mi op abandon ${op.id} --reason …)`;
  }
  return '';
}

/** The last line of a wait: how the operation ended. */
export function operationOutcome(op: OperationRecord): string {
  const took = op.finishedAt ? ` in ${elapsedText(op.createdAt, op.finishedAt)}` : '';
  const head = `${op.type} ${op.id} ${op.status}${took}`;
  if (op.status === 'succeeded') {
    return op.type === 'upgrade' && op.result?.version !== undefined ? `${head}: ${op.instanceId} runs ${String(op.result.version)}` : head;
  }
  if (op.status === 'failed' && op.failure) return `${head}: step ${op.failure.step}: ${op.failure.reason}`;
  if (op.status === 'abandoned' && op.abandoned) return `${head} by ${op.abandoned.by}: ${op.abandoned.why}`;
  return head;
}

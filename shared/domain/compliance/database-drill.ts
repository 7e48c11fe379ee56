/**
 * The restore drill of the control plane's own database (A1.3 for the audit trail and the
 * fleet's records): a scheduled Firestore backup restored into a scratch database, that
 * database's records of 24 hours compared with the live ones, the scratch database deleted.
 * Pure: the drill's document, the backups and the clock in, the next step out.
 */
import type { DatabaseBackup } from '../../ports.js';

/** A drill is due a week after the last one started, or a day after one that failed. */
export const DATABASE_DRILL_EVERY_MS = 7 * 86_400_000;
export const DATABASE_DRILL_RETRY_MS = 86_400_000;
/** A restore that has not finished after this long is a failed drill (a few GB restore in minutes). */
export const DATABASE_RESTORE_TIMEOUT_MS = 12 * 3_600_000;
/** Scratch databases are named with this prefix, so that the drill's right to delete a database reaches no other (infra's IAM condition). */
export const SCRATCH_DATABASE_PREFIX = 'drill-';
/** The database the scheduled backups are of, and the drill compares against. */
export const SOURCE_DATABASE = '(default)';

/** `databaseDrills/{drillId}`: one drill, advanced a step per tick of the drill-database schedule. */
export interface DatabaseDrill {
  drillId: string;
  /** The compliance run that started it. */
  startedBy: string;
  startedAt: string;
  /** restoring: the restore is asked for or under way; deleting: the outcome is recorded, the scratch database goes; done. */
  phase: 'restoring' | 'deleting' | 'done';
  backup: { name: string; snapshotTime: string } | null;
  databaseId: string;
  /** The restore's long-running operation, once its answer was read. */
  restoreOperation: string | null;
  /** The delete's long-running operation while it runs. */
  deleteOperation: string | null;
  outcome: DatabaseDrillOutcome | null;
  /** When the scratch database was found deleted. */
  deletedAt: string | null;
  updatedAt: string;
  [key: string]: unknown;
}

export interface DatabaseDrillOutcome {
  result: 'pass' | 'fail';
  at: string;
  /** What failed, in words; [] on a pass. */
  problems: string[];
  /** What was compared: the window, and how many of each kind of record in the live and the restored database. */
  compared: RecordComparison | null;
  /** How long from the drill's start to the restored database being readable. */
  restoreSeconds: number | null;
}

export type DrillStep =
  | { kind: 'start' }
  | { kind: 'wait'; why: string }
  | { kind: 'follow-restore' }
  | { kind: 'give-up'; problem: string }
  | { kind: 'delete' };

/** What a tick does about the latest drill (undefined: there has been none). */
export function nextDrillStep(latest: DatabaseDrill | undefined, now: Date): DrillStep {
  if (latest === undefined) return { kind: 'start' };
  if (latest.phase === 'restoring') {
    if (now.getTime() - Date.parse(latest.startedAt) > DATABASE_RESTORE_TIMEOUT_MS) {
      return { kind: 'give-up', problem: `the restore into ${latest.databaseId} did not finish within ${DATABASE_RESTORE_TIMEOUT_MS / 3_600_000} hours` };
    }
    return { kind: 'follow-restore' };
  }
  if (latest.phase === 'deleting') return { kind: 'delete' };
  const since = now.getTime() - Date.parse(latest.startedAt);
  const every = latest.outcome?.result === 'pass' ? DATABASE_DRILL_EVERY_MS : DATABASE_DRILL_RETRY_MS;
  if (since >= every) return { kind: 'start' };
  return { kind: 'wait', why: `the last drill (${latest.drillId}, ${latest.outcome?.result ?? 'no outcome'}) started ${Math.round(since / 60_000)} minutes ago; the next is due after ${every / 3_600_000} hours` };
}

/** The drill's id and its scratch database's (lowercase letters, digits and hyphens, 4 to 63 long, as databases.restore requires). */
export function drillIdentity(now: Date): { drillId: string; databaseId: string } {
  const stamp = now.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-').toLowerCase();
  return { drillId: `db-${stamp}`, databaseId: `${SCRATCH_DATABASE_PREFIX}${stamp}` };
}

/** The daily backup schedule's first backup is due within this long of the database's first record. */
export const FIRST_BACKUP_DUE_MS = 25 * 3_600_000;

/**
 * The newest backup of the source database that is ready and not expired; else whether one is
 * being taken or not due yet (wait), or why there is none. `databaseSince` is when the database
 * got its first record (null: it has none): no backup is a failure only once one was due.
 */
export function chooseBackup(backups: readonly DatabaseBackup[], project: string, now: Date, databaseSince: Date | null = null): { backup: DatabaseBackup } | { wait: string } | { problem: string } {
  const source = `projects/${project}/databases/${SOURCE_DATABASE}`;
  const ofSource = backups.filter((b) => b.database === source);
  const usable = ofSource.filter((b) => b.state === 'READY' && Date.parse(b.expireTime) > now.getTime() && Date.parse(b.snapshotTime) <= now.getTime()).sort((a, b) => b.snapshotTime.localeCompare(a.snapshotTime));
  const [newest] = usable;
  if (newest !== undefined) return { backup: newest };
  if (ofSource.length === 0) {
    if (databaseSince === null || now.getTime() - databaseSince.getTime() < FIRST_BACKUP_DUE_MS) return { wait: `no backup of ${source} yet, and its first daily backup is not due (its first record is from ${databaseSince?.toISOString() ?? 'nowhere: it holds none'})` };
    return { problem: `no backup of ${source} exists: the scheduled backups (infra/firestore.ts) are not being taken` };
  }
  const creating = ofSource.find((b) => b.state === 'CREATING');
  if (creating !== undefined) return { wait: `the only backups of ${source} are being taken (${creating.name})` };
  return { problem: `no backup of ${source} is ready: ${ofSource.map((b) => `${b.name.split('/').at(-1) ?? b.name} is ${b.state}`).join(', ')}` };
}

/**
 * The 24 hours of records the drill compares: those that end a settle time before the snapshot,
 * so every record of them had committed when the backup was taken (records commit within the
 * settle time of the moment they carry, as the chain linker relies on).
 */
export function comparisonWindow(snapshotTime: string, settleMs: number): { from: string; to: string } {
  const to = Date.parse(snapshotTime) - settleMs;
  return { from: new Date(to - 86_400_000).toISOString(), to: new Date(to).toISOString() };
}

/** A record of the compared window: its path, and the digest of its content (null: compared by presence only, a document that changes as it runs). */
export interface ComparedRecord {
  path: string;
  digest: string | null;
}

export interface RecordComparison {
  /** The records compared: those of [from, to). */
  from: string;
  to: string;
  /** Per kind (audit, runs, findings): how many the live database holds, and the restored one. */
  counts: Record<string, { live: number; restored: number }>;
  /** In the live database, not in the restored one (first few). */
  missing: string[];
  /** In the restored database, no longer in the live one: a record deleted since the backup (first few). */
  extra: string[];
  /** In both, with different content: a record edited since the backup, or restored wrong (first few). */
  differing: string[];
  missingCount: number;
  extraCount: number;
  differingCount: number;
}

const LISTED = 20;

/** Compares a window's records of the live database with the restored one's, kind by kind. */
export function compareRecords(window: { from: string; to: string }, live: Readonly<Record<string, readonly ComparedRecord[]>>, restored: Readonly<Record<string, readonly ComparedRecord[]>>): RecordComparison {
  const counts: RecordComparison['counts'] = {};
  const missing: string[] = [];
  const extra: string[] = [];
  const differing: string[] = [];
  for (const kind of [...new Set([...Object.keys(live), ...Object.keys(restored)])].sort()) {
    const liveRecords = live[kind] ?? [];
    const restoredRecords = new Map((restored[kind] ?? []).map((r) => [r.path, r.digest]));
    counts[kind] = { live: liveRecords.length, restored: restoredRecords.size };
    const livePaths = new Set<string>();
    for (const record of liveRecords) {
      livePaths.add(record.path);
      if (!restoredRecords.has(record.path)) missing.push(record.path);
      else if (record.digest !== null && restoredRecords.get(record.path) !== record.digest) differing.push(record.path);
    }
    for (const path of restoredRecords.keys()) if (!livePaths.has(path)) extra.push(path);
  }
  return {
    ...window,
    counts,
    missing: missing.sort().slice(0, LISTED),
    extra: extra.sort().slice(0, LISTED),
    differing: differing.sort().slice(0, LISTED),
    missingCount: missing.length,
    extraCount: extra.length,
    differingCount: differing.length,
  };
}

/** The problems a comparison shows, in words; [] when the restored records equal the live one. */
export function comparisonProblems(comparison: RecordComparison): string[] {
  const problems: string[] = [];
  const span = `${comparison.from} to ${comparison.to}`;
  const more = (shown: readonly string[], count: number) => `${shown.join(', ')}${count > shown.length ? ` and ${count - shown.length} more` : ''}`;
  if (comparison.missingCount > 0) problems.push(`${comparison.missingCount} record(s) of ${span} are not in the restored database: ${more(comparison.missing, comparison.missingCount)}`);
  if (comparison.extraCount > 0) problems.push(`${comparison.extraCount} record(s) of ${span} in the backup are no longer in the live database (deleted since): ${more(comparison.extra, comparison.extraCount)}`);
  if (comparison.differingCount > 0) problems.push(`${comparison.differingCount} record(s) of ${span} differ between the live and the restored database (edited since): ${more(comparison.differing, comparison.differingCount)}`);
  const total = Object.values(comparison.counts).reduce((n, c) => n + c.live, 0);
  if (total === 0) problems.push(`the live database holds no record of ${span}: a drill that compares nothing proves nothing`);
  return problems;
}

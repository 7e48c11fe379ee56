/**
 * `mi compliance verify --from --to`: the stored records of every day of the period against
 * their hash chains and the day's anchor in the evidence bucket. It names the first break (the
 * earliest record edited, removed, added or re-linked) and lists every other, and reports the
 * period's gaps: a day with no anchor, a day with no verify-backups run, a run without a finding
 * for every instance it planned.
 */
import { anchorFileSchema, anchorObjectName, anchorProblems, daysBetween, type AnchorFile } from '../domain/compliance/anchor.js';
import { auditChainKey, CHAIN_FIELD, findingsChainKey, sortBreaks, verifyChainDay, type AnchoredRecord, type ChainBreak, type ChainHead, type ChainLink, type StoredLinkedRecord } from '../domain/compliance/chain.js';
import type { EvidenceBucketPort, StateStore } from '../ports.js';
import { compliancePaths } from '../store/collections.js';
import { readDayRecords } from './anchors.js';

export interface VerifiedDay {
  day: string;
  /** The anchor's object, or null when there is none. */
  anchor: string | null;
  root: string | null;
  records: number;
  chains: number;
  breaks: number;
  /** A day not over yet or not anchored yet (the last two days): checked against its chains only. */
  pending: boolean;
}

export interface VerificationGap {
  day: string;
  kind: 'no-anchor' | 'no-run' | 'not-checked' | 'anchor-corrupt';
  detail: string;
}

export interface Verification {
  from: string;
  to: string;
  bucket: string;
  days: VerifiedDay[];
  breaks: ChainBreak[];
  firstBreak: ChainBreak | null;
  gaps: VerificationGap[];
  /** No break and no gap. */
  ok: boolean;
  checkedAt: string;
}

/** A day is pending while the anchoring may not have reached it: today and yesterday. */
function isPending(day: string, now: Date): boolean {
  return Date.parse(`${day}T00:00:00.000Z`) >= now.getTime() - 2 * 86_400_000;
}

async function readAnchor(bucket: EvidenceBucketPort, day: string): Promise<{ anchor?: AnchorFile; problem?: string }> {
  const text = await bucket.read(anchorObjectName(day));
  if (text === undefined) return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { problem: `gs://${bucket.bucket}/${anchorObjectName(day)} is not JSON` };
  }
  const parsed = anchorFileSchema.safeParse(json);
  if (!parsed.success) return { problem: `gs://${bucket.bucket}/${anchorObjectName(day)} is not an anchor: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}` };
  if (parsed.data.day !== day) return { problem: `gs://${bucket.bucket}/${anchorObjectName(day)} anchors ${parsed.data.day}, not ${day}` };
  const problems = anchorProblems(parsed.data);
  if (problems.length > 0) return { problem: `gs://${bucket.bucket}/${anchorObjectName(day)}: ${problems.join('; ')}` };
  return { anchor: parsed.data };
}

/** Verifies every day from `from` through `to` (UTC dates). */
export async function verifyRecords(store: StateStore, bucket: EvidenceBucketPort, from: string, to: string, now: Date): Promise<Verification> {
  const breaks: ChainBreak[] = [];
  const gaps: VerificationGap[] = [];
  const days: VerifiedDay[] = [];
  // Each chain's head at the end of the last day seen: where its next day must start.
  const lastHeads = new Map<string, ChainHead>();
  for (const day of daysBetween(from, to)) {
    const pending = isPending(day, now);
    const { anchor, problem } = await readAnchor(bucket, day);
    if (problem !== undefined) gaps.push({ day, kind: 'anchor-corrupt', detail: problem });
    else if (anchor === undefined && !pending) gaps.push({ day, kind: 'no-anchor', detail: `no anchor at gs://${bucket.bucket}/${anchorObjectName(day)}: the day's records cannot be shown unchanged` });
    const records = await readDayRecords(store, day);
    const verifyRuns = records.runs.filter((r) => r.schedule === 'verify-backups');
    if (verifyRuns.length === 0 && !(pending && day === now.toISOString().slice(0, 10))) gaps.push({ day, kind: 'no-run', detail: `no verify-backups run on ${day}: the backup controls were not operated that day` });
    for (const run of verifyRuns) {
      const found = records.findings.filter((f) => f.path.startsWith(`${compliancePaths.findings(run.runId)}/`) && f.data.kind === 'instance').length;
      if (run.planned !== null && found < run.planned) gaps.push({ day, kind: 'not-checked', detail: `run ${run.runId} planned ${run.planned} instances and holds ${found} findings: ${run.planned - found} instances of that day's inventory have none` });
    }
    // Stored records by chain (an unlinked one by the chain it would join); anchored ones likewise.
    const stored = new Map<string, StoredLinkedRecord[]>();
    const add = (key: string, record: StoredLinkedRecord) => stored.set(key, [...(stored.get(key) ?? []), record]);
    for (const doc of records.audit) add((doc.data[CHAIN_FIELD] as ChainLink | undefined)?.key ?? auditChainKey(doc.data), doc);
    for (const doc of records.findings) add((doc.data[CHAIN_FIELD] as ChainLink | undefined)?.key ?? findingsChainKey(doc.path.split('/')[1] ?? ''), doc);
    const anchored = new Map<string, AnchoredRecord[]>();
    for (const record of anchor?.records ?? []) anchored.set(record.chain.key, [...(anchored.get(record.chain.key) ?? []), record]);
    const heads = new Map((anchor?.heads ?? []).map((h) => [h.key, h]));
    let dayBreaks = 0;
    for (const key of [...new Set([...stored.keys(), ...anchored.keys()])].sort()) {
      const found = verifyChainDay(day, key, stored.get(key) ?? [], anchor === undefined ? undefined : (anchored.get(key) ?? []), heads.get(key), lastHeads.get(key));
      // Not linked yet is expected of a day the anchoring has not reached.
      const counted = anchor === undefined && pending ? found.filter((b) => b.kind !== 'unsealed') : found;
      breaks.push(...counted);
      dayBreaks += counted.length;
      const head = heads.get(key) ?? lastLinkOf(stored.get(key) ?? []);
      if (head !== undefined) lastHeads.set(key, head);
    }
    days.push({ day, anchor: anchor === undefined ? null : `gs://${bucket.bucket}/${anchorObjectName(day)}`, root: anchor?.root ?? null, records: records.audit.length + records.findings.length, chains: stored.size, breaks: dayBreaks, pending });
  }
  const sorted = sortBreaks(breaks);
  return { from, to, bucket: bucket.bucket, days, breaks: sorted, firstBreak: sorted[0] ?? null, gaps, ok: sorted.length === 0 && gaps.length === 0, checkedAt: now.toISOString() };
}

function lastLinkOf(records: readonly StoredLinkedRecord[]): ChainHead | undefined {
  let last: ChainLink | undefined;
  for (const record of records) {
    const link = record.data[CHAIN_FIELD] as ChainLink | undefined;
    if (link !== undefined && (last === undefined || link.seq > last.seq)) last = link;
  }
  return last === undefined ? undefined : { key: last.key, seq: last.seq, hash: last.hash };
}

/** The verification in words: one line per day, then the first break and every gap. */
export function renderVerification(v: Verification): string {
  const lines = [`verify ${v.from} .. ${v.to} against gs://${v.bucket}: ${v.ok ? 'OK' : 'FAILED'}`];
  for (const d of v.days) {
    lines.push(`  ${d.day}  ${d.anchor === null ? (d.pending ? 'not anchored yet' : 'NO ANCHOR      ') : `root ${d.root?.slice(0, 16) ?? ''}…`}  ${String(d.records).padStart(6)} records  ${String(d.chains).padStart(5)} chains  ${d.breaks === 0 ? 'ok' : `${d.breaks} breaks`}`);
  }
  if (v.firstBreak !== null) {
    const b = v.firstBreak;
    lines.push('', `first break: ${b.path} (${b.chain}${b.seq === null ? '' : ` seq ${b.seq}`}, ${b.day}): ${b.kind}: ${b.detail}`);
    if (v.breaks.length > 1) lines.push(`and ${v.breaks.length - 1} more:`, ...v.breaks.slice(1, 50).map((x) => `  ${x.day} ${x.path}: ${x.kind}: ${x.detail}`), ...(v.breaks.length > 51 ? [`  … ${v.breaks.length - 51} more (--format json lists every one)`] : []));
  }
  if (v.gaps.length > 0) lines.push('', 'gaps:', ...v.gaps.map((g) => `  ${g.day} ${g.kind}: ${g.detail}`));
  return `${lines.join('\n')}\n`;
}

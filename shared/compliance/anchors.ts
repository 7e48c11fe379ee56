/**
 * anchor-records (every 10 minutes): links settled records into their hash chains, and once a
 * whole day is linked, anchors it in the evidence bucket.
 *
 * Records are linked after they are written, not in the transaction that writes them: a chain
 * head read in every deciding transaction would put a read before writes that Firestore forbids
 * at many call sites, and a hot document per instance. A record is linked once it has settled
 * (older than any transaction that could still commit an earlier id), in id order, which is
 * time order. Someone with Firestore write access could edit a record before it is anchored
 * either way; after the anchor, they cannot without `mi compliance verify` naming it.
 */
import { anchorFileSchema, anchorObjectName, ANCHOR_FORMAT, headsOf, type AnchorFile } from '../domain/compliance/anchor.js';
import { auditChainKey, CHAIN_FIELD, contentDigest, extendChain, findingsChainKey, merkleRoot, withoutLink, type ChainHead, type ChainLink } from '../domain/compliance/chain.js';
import { ControlPlaneError } from '../errors.js';
import type { EvidenceBucketPort, StateStore, StoredDocument } from '../ports.js';
import { COLLECTIONS, compliancePaths, paths, sealPaths } from '../store/collections.js';
import type { ComplianceDeps, ComplianceRun } from './model.js';
import { finishRun, type RunRequest, type StartedRun } from './runs.js';

const DAY_MS = 86_400_000;
/** Records linked per transaction: each is read and updated, with its chain's head (≤ 2 × 200 + 1 writes). */
const LINK_PAGE = 200;

/** `settings/recordSeal`: how far the audit trail is linked and which days are anchored. */
export interface SealCursor {
  /** The last audit id linked. */
  auditAfter: string | null;
  /** Every audit record before this moment is linked. */
  auditLinkedThrough: string | null;
  /** The last day anchored. */
  anchoredThrough: string | null;
  [key: string]: unknown;
}

interface StoredHead extends ChainHead {
  [key: string]: unknown;
}

export interface AnchoringResult {
  linked: number;
  /** `kept`: written now, or found written by an earlier try with the same root, or with another (the records changed since). */
  anchored: Array<{ day: string; root: string; records: number; chains: number; object: string; kept: 'written' | 'same' | 'different' }>;
  /** Why it stopped before the present, when it did. */
  pending: string | null;
}

/** The compact UTC day an audit id starts with (`20261130`): ids of that day sort after it and before the next. */
const idPrefixOf = (day: string) => day.replace(/-/g, '');
const nextDay = (day: string) => new Date(Date.parse(`${day}T00:00:00.000Z`) + DAY_MS).toISOString().slice(0, 10);

/** Links settled audit records, page by page, until none is left or the time is up. */
export async function linkAuditRecords(deps: Pick<ComplianceDeps, 'store' | 'clock'>, settleMs: number, budgetMs: number): Promise<number> {
  const started = Date.now();
  let linked = 0;
  for (;;) {
    const cursor = (await deps.store.get<SealCursor>(sealPaths.cursor)) ?? { auditAfter: null, auditLinkedThrough: null, anchoredThrough: null };
    const settledBefore = new Date(deps.clock.now().getTime() - settleMs).toISOString();
    const page = await deps.store.queryIds({ collection: COLLECTIONS.audit, limit: LINK_PAGE, ...(cursor.auditAfter === null ? {} : { startAfterId: cursor.auditAfter }) });
    const outcome = await deps.store.transaction(async (tx) => {
      const now = await tx.get<SealCursor>(sealPaths.cursor);
      // Another linker moved the cursor since this page was read: read the next page from where it is.
      if ((now?.auditAfter ?? null) !== cursor.auditAfter) return { moved: true, count: 0, done: false };
      const records = (await tx.getAll<Record<string, unknown>>(page.map((id) => paths.audit(id)))).map((data, index) => ({ id: page[index] ?? '', data }));
      const settled: Array<{ id: string; data: Record<string, unknown> }> = [];
      for (const record of records) {
        if (record.data === undefined) continue;
        if (typeof record.data.at !== 'string' || record.data.at >= settledBefore) break;
        settled.push({ id: record.id, data: record.data });
      }
      const groups = new Map<string, Array<{ id: string; data: Record<string, unknown> }>>();
      for (const record of settled) {
        if (record.data[CHAIN_FIELD] !== undefined) continue;
        const key = auditChainKey(record.data);
        groups.set(key, [...(groups.get(key) ?? []), record]);
      }
      const keys = [...groups.keys()];
      const heads = await tx.getAll<StoredHead>(keys.map((key) => sealPaths.chain(key)));
      keys.forEach((key, index) => {
        const group = groups.get(key) ?? [];
        const links = extendChain(key, heads[index], group.map((r) => r.data));
        group.forEach((record, i) => tx.update(paths.audit(record.id), { [CHAIN_FIELD]: links[i] }));
        const last = links.at(-1);
        if (last !== undefined) tx.set(sealPaths.chain(key), { key, seq: last.seq, hash: last.hash });
      });
      const done = settled.length < page.length || page.length < LINK_PAGE;
      const lastId = settled.at(-1)?.id ?? cursor.auditAfter;
      // Everything before the first unsettled record (or the settle line, when the trail ran out) is linked.
      const firstLeft = records[settled.length]?.data?.at;
      const through = done ? (typeof firstLeft === 'string' && firstLeft < settledBefore ? firstLeft : settledBefore) : (settled.at(-1)?.data.at as string | undefined) ?? cursor.auditLinkedThrough;
      tx.set(sealPaths.cursor, { ...(now ?? {}), auditAfter: lastId, auditLinkedThrough: through, anchoredThrough: now?.anchoredThrough ?? null });
      return { moved: false, count: settled.length, done };
    });
    linked += outcome.count;
    if ((!outcome.moved && outcome.done) || Date.now() - started > budgetMs) return linked;
  }
}

/** Links a run's findings into its chain (those not linked yet, in id order); returns how many. */
export async function linkRunFindings(store: StateStore, runId: string): Promise<number> {
  const key = findingsChainKey(runId);
  let linked = 0;
  let after: string | undefined;
  for (;;) {
    const page = await store.queryIds({ collection: compliancePaths.findings(runId), limit: LINK_PAGE, ...(after === undefined ? {} : { startAfterId: after }) });
    if (page.length === 0) return linked;
    linked += await store.transaction(async (tx) => {
      const [head] = await tx.getAll<StoredHead>([sealPaths.chain(key)]);
      const findings = await tx.getAll<Record<string, unknown>>(page.map((id) => compliancePaths.finding(runId, id)));
      const unlinked = findings.map((data, index) => ({ id: page[index] ?? '', data })).filter((f): f is { id: string; data: Record<string, unknown> } => f.data !== undefined && f.data[CHAIN_FIELD] === undefined);
      const links = extendChain(key, head, unlinked.map((f) => f.data));
      unlinked.forEach((finding, i) => tx.update(compliancePaths.finding(runId, finding.id), { [CHAIN_FIELD]: links[i] }));
      const last = links.at(-1);
      if (last !== undefined) tx.set(sealPaths.chain(key), { key, seq: last.seq, hash: last.hash });
      return unlinked.length;
    });
    after = page.at(-1);
    if (page.length < LINK_PAGE) return linked;
  }
}

/** A day's stored records as the anchor and the verification read them. */
export interface DayRecords {
  audit: Array<StoredDocument<Record<string, unknown>>>;
  runs: ComplianceRun[];
  findings: Array<StoredDocument<Record<string, unknown>>>;
}

/** The compliance runs whose slot starts on a UTC day. */
async function dayRuns(store: StateStore, day: string): Promise<ComplianceRun[]> {
  const docs = await store.query<ComplianceRun>({
    collection: COLLECTIONS.complianceRuns,
    where: [
      { field: 'slotStart', op: '>=', value: `${day}T00:00:00.000Z` },
      { field: 'slotStart', op: '<', value: `${nextDay(day)}T00:00:00.000Z` },
    ],
  });
  return docs.map((doc) => doc.data);
}

/** Every audit record of a UTC day (by id, which starts with the day), its compliance runs, and their findings. */
export async function readDayRecords(store: StateStore, day: string, pageSize = 500): Promise<DayRecords> {
  const audit: Array<StoredDocument<Record<string, unknown>>> = [];
  const end = idPrefixOf(nextDay(day));
  let after = idPrefixOf(day);
  for (;;) {
    const page = await store.query<Record<string, unknown>>({ collection: COLLECTIONS.audit, startAfterId: after, limit: pageSize });
    const inDay = page.filter((doc) => doc.id < end);
    audit.push(...inDay);
    if (inDay.length < page.length || page.length < pageSize) break;
    after = page.at(-1)?.id ?? after;
  }
  const runs = await dayRuns(store, day);
  const findings: Array<StoredDocument<Record<string, unknown>>> = [];
  for (const run of runs.filter((r) => r.schedule === 'verify-backups')) {
    let from: string | undefined;
    for (;;) {
      const page = await store.query<Record<string, unknown>>({ collection: compliancePaths.findings(run.runId), limit: pageSize, ...(from === undefined ? {} : { startAfterId: from }) });
      findings.push(...page);
      if (page.length < pageSize) break;
      from = page.at(-1)?.id;
    }
  }
  return { audit, runs, findings };
}

/**
 * The anchor of a day from its stored records. A record that is not linked (it committed after
 * the linker had passed its id, which the settle time should make impossible) is not anchored
 * but named in the anchor, so verification reports it instead of the day never being anchored.
 */
export function anchorOf(project: string, day: string, records: DayRecords, at: Date): AnchorFile {
  const stored = [...records.audit, ...records.findings];
  const linked = stored.flatMap((doc) => {
    const chain = doc.data[CHAIN_FIELD] as ChainLink | undefined;
    return chain === undefined ? [] : [{ path: doc.path, chain, digest: contentDigest(doc.data), content: withoutLink(doc.data) }];
  });
  const heads = headsOf(linked);
  return {
    format: ANCHOR_FORMAT,
    project,
    day,
    root: merkleRoot(heads),
    heads,
    records: linked,
    unlinked: stored.filter((doc) => doc.data[CHAIN_FIELD] === undefined).map((doc) => doc.path),
    runs: records.runs.filter((r) => r.schedule === 'verify-backups').map((r) => ({ runId: r.runId, schedule: r.schedule, planned: r.planned, findings: records.findings.filter((f) => f.path.startsWith(`${compliancePaths.findings(r.runId)}/`)).length })),
    anchoredAt: at.toISOString(),
  };
}

/**
 * Writes a day's anchor once. Written already (a retried run): the object is kept as it is (the
 * bucket would refuse to replace it anyway). When it holds another root than the records give
 * now, something changed after the first anchoring: the run says so, and `mi compliance verify`
 * names what, against the anchor that stays.
 */
async function writeAnchor(bucket: EvidenceBucketPort, anchor: AnchorFile): Promise<{ object: string; kept: 'written' | 'same' | 'different' }> {
  const name = anchorObjectName(anchor.day);
  const object = `gs://${bucket.bucket}/${name}`;
  try {
    await bucket.create(name, `${JSON.stringify(anchor)}\n`, 'application/json');
    return { object, kept: 'written' };
  } catch (error) {
    if (!(error instanceof ControlPlaneError && error.code === 'already-exists')) throw error;
  }
  const text = await bucket.read(name);
  const kept = text === undefined ? undefined : anchorFileSchema.safeParse(JSON.parse(text));
  return { object, kept: kept?.success === true && kept.data.root === anchor.root ? 'same' : 'different' };
}

/** The anchor-records run: link what settled, then anchor every day that is wholly linked and not anchored yet. */
export async function runAnchoring(deps: ComplianceDeps, request: RunRequest, start: StartedRun): Promise<AnchoringResult> {
  const bucket = deps.evidence;
  if (bucket === undefined) throw new ControlPlaneError('failed-precondition', 'anchor-records needs the evidence bucket, and this function has none', { details: { runId: request.runId } });
  const started = Date.now();
  const linked = await linkAuditRecords(deps, deps.sealSettleMs, deps.sealBudgetMs / 2);
  const result: AnchoringResult = { linked, anchored: [], pending: null };
  const cursor = await deps.store.get<SealCursor>(sealPaths.cursor);
  const linkedThrough = cursor?.auditLinkedThrough ?? null;
  let day = cursor?.anchoredThrough === null || cursor?.anchoredThrough === undefined ? await firstDay(deps.store) : nextDay(cursor.anchoredThrough);
  while (day !== undefined) {
    if (linkedThrough === null || linkedThrough < `${nextDay(day)}T00:00:00.000Z`) {
      result.pending = `${day} is not over or not wholly linked yet (linked through ${linkedThrough ?? 'nothing'})`;
      break;
    }
    if (Date.now() - started > deps.sealBudgetMs) {
      result.pending = `out of time before ${day}; the next run goes on`;
      break;
    }
    for (const run of await dayRuns(deps.store, day)) if (run.schedule === 'verify-backups') await linkRunFindings(deps.store, run.runId);
    const records = await readDayRecords(deps.store, day);
    const anchor = anchorOf(deps.project, day, records, deps.clock.now());
    const { object, kept } = await writeAnchor(bucket, anchor);
    if (kept === 'different') deps.log.warn('a day anchored before holds another root than its records give now: mi compliance verify names what changed', { day, object });
    const anchoredDay = day;
    await deps.store.transaction(async (tx) => {
      const now = await tx.get<SealCursor>(sealPaths.cursor);
      if ((now?.anchoredThrough ?? '') < anchoredDay) tx.set(sealPaths.cursor, { ...(now ?? { auditAfter: null, auditLinkedThrough: null }), anchoredThrough: anchoredDay });
    });
    result.anchored.push({ day, root: anchor.root, records: anchor.records.length, chains: anchor.heads.length, object, kept });
    day = nextDay(day);
  }
  await finishRun(deps, request.runId, start.token, { outcome: { ...result } });
  return result;
}

/** The day of the oldest audit record: where anchoring begins on a new deployment. */
async function firstDay(store: StateStore): Promise<string | undefined> {
  const [first] = await store.queryIds({ collection: COLLECTIONS.audit, limit: 1 });
  if (first === undefined) return undefined;
  return `${first.slice(0, 4)}-${first.slice(4, 6)}-${first.slice(6, 8)}`;
}

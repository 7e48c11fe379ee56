/**
 * Tamper-evident history, pure. Each stored record (an audit record, a compliance finding) is a
 * link of one hash chain: its hash covers its content and the hash before it. Chains are per
 * instance (audit records of one instance), per fan-out or run (records naming one), and per
 * compliance run (its findings): a single global chain would make one head document that every
 * transaction writes. Each day the heads of the chains that grew are folded into one Merkle root,
 * written with an export of the day's records to a bucket nobody can rewrite (anchors.ts).
 *
 * Someone who can edit Firestore can edit a record and recompute every later hash of its chain;
 * they cannot also rewrite the anchored heads and export, so the verification below names the
 * record that no longer matches what was anchored.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/** The `prev` of a chain's first link. */
export const GENESIS = '0'.repeat(64);

/** Where a record sits in its chain, stored on the record as `chain`. */
export interface ChainLink {
  key: string;
  /** 1 for a chain's first record. */
  seq: number;
  prev: string;
  hash: string;
}

export const CHAIN_FIELD = 'chain';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The record as hashed: every field but the chain link, timestamps as ISO strings (Firestore
 * hands back its Timestamps where a Date was written), keys in RFC 8785 order.
 */
export function canonicalContent(record: Readonly<Record<string, unknown>>): string {
  return canonicalize(normalize(withoutLink(record))) ?? 'null';
}

/** The record's content: every field but its chain link. */
export function withoutLink(record: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([field]) => field !== CHAIN_FIELD));
}

function normalize(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (value !== null && typeof value === 'object') {
    const timestamp = value as { toDate?: unknown };
    if (typeof timestamp.toDate === 'function') return (timestamp.toDate as () => Date).call(value).toISOString();
    if (Array.isArray(value)) return value.map(normalize);
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, normalize(v)]));
  }
  return value;
}

/** A link's hash: of the hash before it and the record's canonical content. */
export function linkHash(prev: string, record: Readonly<Record<string, unknown>>): string {
  return sha256(`${prev}\n${canonicalContent(record)}`);
}

/** The SHA-256 of a record's content alone (what an export lists beside each record). */
export function contentDigest(record: Readonly<Record<string, unknown>>): string {
  return sha256(canonicalContent(record));
}

/** The chain an audit record belongs to: its instance's, else the fan-out, run or apply it names, else the control plane's own. */
export function auditChainKey(record: Readonly<Record<string, unknown>>): string {
  const named = (field: string) => (typeof record[field] === 'string' && record[field] !== '' ? (record[field]) : undefined);
  const instance = named('instanceId');
  if (instance !== undefined) return `instance:${instance}`;
  const rollout = named('rolloutId');
  if (rollout !== undefined) return `rollout:${rollout}`;
  const run = named('runId');
  if (run !== undefined) return `run:${run}`;
  const apply = named('applyId');
  if (apply !== undefined) return `apply:${apply}`;
  return 'control-plane';
}

/** The chain of one compliance run's findings. */
export const findingsChainKey = (runId: string) => `findings:${runId}`;

export interface ChainHead {
  key: string;
  seq: number;
  hash: string;
}

/** Links records onto a chain whose head is `head` (undefined: a new chain), in the order given. */
export function extendChain(key: string, head: ChainHead | undefined, records: ReadonlyArray<Readonly<Record<string, unknown>>>): ChainLink[] {
  let prev = head?.hash ?? GENESIS;
  let seq = head?.seq ?? 0;
  return records.map((record) => {
    seq += 1;
    const hash = linkHash(prev, record);
    const link = { key, seq, prev, hash };
    prev = hash;
    return link;
  });
}

// ---------------------------------------------------------------------------- Merkle root

/** A leaf of the day's tree: one chain's head at the end of the day. */
export function headLeaf(head: ChainHead): string {
  return `${head.key}\n${head.seq}\n${head.hash}`;
}

/**
 * The Merkle root of the heads, sorted by key (RFC 6962's tree hash: leaves and inner nodes
 * hashed with different prefixes, so a leaf can never pass for a node). No heads: the hash of
 * nothing, as RFC 6962 defines it.
 */
export function merkleRoot(heads: readonly ChainHead[]): string {
  const leaves = [...heads].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((h) => createHash('sha256').update(Buffer.concat([Buffer.from([0]), Buffer.from(headLeaf(h))])).digest());
  if (leaves.length === 0) return createHash('sha256').digest('hex');
  const tree = (nodes: readonly Buffer[]): Buffer => {
    if (nodes.length === 1) return nodes[0];
    // The largest power of two below the count splits the leaves (RFC 6962, 2.1).
    let split = 1;
    while (split * 2 < nodes.length) split *= 2;
    return createHash('sha256')
      .update(Buffer.concat([Buffer.from([1]), tree(nodes.slice(0, split)), tree(nodes.slice(split))]))
      .digest();
  };
  return tree(leaves).toString('hex');
}

// ---------------------------------------------------------------------------- verification

/** A record as verification reads it: where it is stored, its content, its link. */
export interface StoredLinkedRecord {
  path: string;
  data: Readonly<Record<string, unknown>>;
}

/** What went wrong at one record or head, in words an auditor can act on. */
export interface ChainBreak {
  day: string;
  /** The document, or the chain when a whole head is at fault. */
  path: string;
  chain: string;
  seq: number | null;
  kind: 'edited' | 'relinked' | 'missing' | 'added' | 'unsealed' | 'head-mismatch' | 'no-anchor' | 'anchor-corrupt';
  detail: string;
}

/** One anchored record: where it was, its link, and the digest of its content as it was then. */
export interface AnchoredRecord {
  path: string;
  chain: ChainLink;
  digest: string;
}

/**
 * Checks one chain's records of one day against themselves and the anchor: each record's hash
 * recomputed from its content, each `prev` the hash before it, seq without gaps, the record as
 * the export holds it, and the last hash the anchored head. `anchored` is undefined for a day not
 * anchored yet (today): then only the chain itself is checked. `before` is the head the day
 * starts from (the previous day's anchored head), when known.
 */
export function verifyChainDay(
  day: string,
  key: string,
  records: readonly StoredLinkedRecord[],
  anchored: readonly AnchoredRecord[] | undefined,
  head: ChainHead | undefined,
  before: ChainHead | undefined,
): ChainBreak[] {
  const breaks: ChainBreak[] = [];
  const at = (path: string, seq: number | null, kind: ChainBreak['kind'], detail: string) => breaks.push({ day, path, chain: key, seq, kind, detail });
  const bySeq = new Map((anchored ?? []).map((a) => [a.chain.seq, a]));
  const linked = records
    .map((r) => ({ record: r, link: r.data[CHAIN_FIELD] as ChainLink | undefined }))
    .sort((a, b) => (a.link?.seq ?? Infinity) - (b.link?.seq ?? Infinity));
  let prev = before?.hash;
  let expectSeq = before === undefined ? undefined : before.seq + 1;
  const seen = new Set<number>();
  for (const { record, link } of linked) {
    if (link === undefined || typeof link.hash !== 'string' || typeof link.seq !== 'number') {
      at(record.path, null, 'unsealed', 'the record carries no chain link: written after its day was sealed, or its link was removed');
      continue;
    }
    seen.add(link.seq);
    const recomputed = linkHash(link.prev, record.data);
    const anchor = bySeq.get(link.seq);
    if (anchored !== undefined && anchor === undefined) {
      at(record.path, link.seq, 'added', `seq ${link.seq} of ${key} is not in the ${day} anchor: the record was added after the day was anchored`);
    } else if (anchor !== undefined && anchor.path !== record.path) {
      at(record.path, link.seq, 'relinked', `seq ${link.seq} of ${key} was ${anchor.path} when anchored`);
    } else if (anchor !== undefined && contentDigest(record.data) !== anchor.digest) {
      at(record.path, link.seq, 'edited', `its content is not what was anchored on ${day} (content digest ${contentDigest(record.data).slice(0, 12)}…, anchored ${anchor.digest.slice(0, 12)}…)`);
    } else if (recomputed !== link.hash) {
      at(record.path, link.seq, 'edited', `its hash does not cover its content: stored ${link.hash.slice(0, 12)}…, recomputed ${recomputed.slice(0, 12)}…`);
    } else if (anchor !== undefined && link.hash !== anchor.chain.hash) {
      at(record.path, link.seq, 'relinked', `its stored link (hash ${link.hash.slice(0, 12)}…) is not the anchored one (${anchor.chain.hash.slice(0, 12)}…)`);
    }
    if (prev !== undefined && link.prev !== prev) at(record.path, link.seq, 'relinked', `its prev (${link.prev.slice(0, 12)}…) is not the hash of the record before it (${prev.slice(0, 12)}…)`);
    if (expectSeq !== undefined && link.seq !== expectSeq) at(record.path, link.seq, 'missing', `seq ${expectSeq}${link.seq > expectSeq + 1 ? `–${link.seq - 1}` : ''} of ${key} is missing before it`);
    prev = link.hash;
    expectSeq = link.seq + 1;
  }
  for (const anchor of anchored ?? []) {
    if (!seen.has(anchor.chain.seq)) at(anchor.path, anchor.chain.seq, 'missing', `anchored on ${day} as seq ${anchor.chain.seq} of ${key}, no longer stored`);
  }
  if (head !== undefined && prev !== undefined && breaks.length === 0 && prev !== head.hash) {
    at(key, head.seq, 'head-mismatch', `the chain ends the day at ${prev.slice(0, 12)}…, the anchor says ${head.hash.slice(0, 12)}…`);
  }
  return breaks;
}

/** Breaks in the order an auditor reads them: by day, then by document (audit ids sort by time). */
export function sortBreaks(breaks: readonly ChainBreak[]): ChainBreak[] {
  const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...breaks].sort((a, b) => order(a.day, b.day) || order(a.path, b.path) || (a.seq ?? 0) - (b.seq ?? 0));
}

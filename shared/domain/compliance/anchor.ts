/**
 * A day's anchor, as written to the evidence bucket: the Merkle root of the heads of every chain
 * that grew that day, the heads, and the export of the day's records (each with its link, the
 * digest of its content, and the content). The bucket's retention policy is locked, so the file
 * outlives anyone's write access to Firestore; `mi compliance verify` reads it back.
 */
import * as z from 'zod';
import { lazySchema } from '../../lazy-schema.js';
import { merkleRoot, type ChainHead } from './chain.js';

export const ANCHOR_FORMAT = 'mi-anchor/1';

/** How long the bucket keeps every object, locked (SOC2 evidence of a 12-month window, with room). */
export const EVIDENCE_RETENTION_DAYS = 400;

/** The evidence bucket of a project (bucket names are global; project ids are too). */
export const evidenceBucketName = (project: string) => `${project}-compliance-evidence`;

/** The object of one day's anchor. */
export const anchorObjectName = (day: string) => `anchors/${day}.json`;

const hex64 = lazySchema(() => z.string().regex(/^[0-9a-f]{64}$/, { error: 'expected a SHA-256 in hex' }));
const linkSchema = lazySchema(() => z.object({ key: z.string().min(1), seq: z.number().int().min(1), prev: hex64, hash: hex64 }));

export const anchorFileSchema = lazySchema(() =>
  z.object({
    format: z.literal(ANCHOR_FORMAT),
    project: z.string().min(1),
    day: z.iso.date(),
    root: hex64,
    heads: z.array(z.object({ key: z.string().min(1), seq: z.number().int().min(1), hash: hex64 })),
    records: z.array(z.object({ path: z.string().min(1), chain: linkSchema, digest: hex64, content: z.record(z.string(), z.unknown()) })),
    /** Records of the day found without a link when it was anchored (verification names each). */
    unlinked: z.array(z.string()).default([]),
    /** Verify-backups runs of the day and whether each had a finding for every planned instance. */
    runs: z.array(z.object({ runId: z.string(), schedule: z.string(), planned: z.number().int().nullable(), findings: z.number().int() })),
    anchoredAt: z.iso.datetime(),
  }),
);
export type AnchorFile = z.infer<typeof anchorFileSchema>;

/** The last link of each chain among a day's records: the heads the day's root covers. */
export function headsOf(records: ReadonlyArray<{ chain: ChainHead }>): ChainHead[] {
  const heads = new Map<string, ChainHead>();
  for (const { chain } of records) {
    const seen = heads.get(chain.key);
    if (seen === undefined || chain.seq > seen.seq) heads.set(chain.key, { key: chain.key, seq: chain.seq, hash: chain.hash });
  }
  return [...heads.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Whether an anchor file agrees with itself: its heads are its records' last links, and its root theirs. */
export function anchorProblems(anchor: AnchorFile): string[] {
  const problems: string[] = [];
  const heads = headsOf(anchor.records);
  if (JSON.stringify(heads) !== JSON.stringify([...anchor.heads].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)))) problems.push("its heads are not its records' last links");
  if (merkleRoot(anchor.heads) !== anchor.root) problems.push(`its root ${anchor.root.slice(0, 12)}… is not the Merkle root of its heads (${merkleRoot(anchor.heads).slice(0, 12)}…)`);
  return problems;
}

/** The UTC days from `from` through `to`, both included. */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00.000Z`); t <= Date.parse(`${to}T00:00:00.000Z`); t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

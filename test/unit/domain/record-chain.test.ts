import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CHAIN_FIELD,
  GENESIS,
  auditChainKey,
  contentDigest,
  extendChain,
  linkHash,
  merkleRoot,
  sortBreaks,
  verifyChainDay,
  type AnchoredRecord,
  type StoredLinkedRecord,
} from '../../../shared/domain/compliance/chain.js';

const DAY = '2026-11-30';

const recordArb = fc.record({
  actor: fc.constantFrom('alice@example.com', 'system:reconcile', 'bob@example.com'),
  action: fc.constantFrom('operation.accepted', 'operation.step-completed', 'operation.succeeded'),
  detail: fc.string({ maxLength: 12 }),
  count: fc.integer({ min: 0, max: 99 }),
});

/** A chain of stored records as the sealer leaves them, and the anchor of their day. */
function sealed(records: ReadonlyArray<Record<string, unknown>>) {
  const links = extendChain('instance:i-1', undefined, records);
  const stored: StoredLinkedRecord[] = records.map((data, index) => ({ path: `audit/${String(index).padStart(4, '0')}`, data: { ...data, [CHAIN_FIELD]: links[index] } }));
  const anchored: AnchoredRecord[] = stored.map((r, index) => ({ path: r.path, chain: links[index], digest: contentDigest(r.data) }));
  const last = links.at(-1)!;
  return { stored, anchored, head: { key: 'instance:i-1', seq: last.seq, hash: last.hash } };
}

describe('hash chains of stored records', () => {
  it('a chain as sealed verifies against its anchor', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 1, maxLength: 12 }), (records) => {
        const { stored, anchored, head } = sealed(records);
        expect(verifyChainDay(DAY, head.key, stored, anchored, head, undefined)).toEqual([]);
      }),
    );
  });

  it('an edited record is named, even when whoever edited it recomputed every later hash', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 1, maxLength: 12 }), fc.nat(), fc.boolean(), (records, pick, recompute) => {
        const { stored, anchored, head } = sealed(records);
        const victim = pick % stored.length;
        const edited = stored.map((r) => ({ ...r, data: { ...r.data } }));
        edited[victim].data = { ...edited[victim].data, actor: 'mallory@example.com' };
        if (recompute) {
          // The forger re-links the chain from the edited record on, so every stored hash is self-consistent.
          const relinked = extendChain(head.key, victim === 0 ? undefined : { key: head.key, seq: victim, hash: (edited[victim - 1].data[CHAIN_FIELD] as { hash: string }).hash }, edited.slice(victim).map((r) => r.data));
          relinked.forEach((link, i) => (edited[victim + i].data = { ...edited[victim + i].data, [CHAIN_FIELD]: link }));
        }
        const breaks = sortBreaks(verifyChainDay(DAY, head.key, edited, anchored, head, undefined));
        expect(breaks[0]).toMatchObject({ path: stored[victim].path, kind: 'edited', seq: victim + 1 });
      }),
    );
  });

  it('a record removed from the middle is missing, by its anchored path', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 2, maxLength: 12 }), fc.nat(), (records, pick) => {
        const { stored, anchored, head } = sealed(records);
        const victim = pick % stored.length;
        const kept = stored.filter((_, i) => i !== victim);
        const breaks = verifyChainDay(DAY, head.key, kept, anchored, head, undefined);
        expect(breaks.filter((b) => b.kind === 'missing').map((b) => b.path)).toContain(stored[victim].path);
      }),
    );
  });

  it('without an anchor (today), an edit is still seen where the stored hash no longer covers the content', () => {
    const { stored, head } = sealed([{ actor: 'a', n: 1 }, { actor: 'b', n: 2 }]);
    const edited = [stored[0], { ...stored[1], data: { ...stored[1].data, n: 3 } }];
    expect(verifyChainDay(DAY, head.key, edited, undefined, undefined, undefined)).toEqual([expect.objectContaining({ path: 'audit/0001', kind: 'edited' })]);
    expect(verifyChainDay(DAY, head.key, stored, undefined, undefined, undefined)).toEqual([]);
  });

  it("a day's first record must follow the previous day's anchored head", () => {
    const { stored, anchored, head } = sealed([{ n: 1 }, { n: 2 }]);
    const yesterday = { key: head.key, seq: 0, hash: 'f'.repeat(64) };
    expect(verifyChainDay(DAY, head.key, stored, anchored, head, yesterday)).toEqual([expect.objectContaining({ path: 'audit/0000', kind: 'relinked' })]);
  });

  it('hashes timestamps as the instant they are, whether Date or Firestore Timestamp', () => {
    const at = new Date('2026-11-30T10:00:00.000Z');
    const timestamp = { toDate: () => at, seconds: 1, nanoseconds: 0 };
    expect(linkHash(GENESIS, { at, a: 1 })).toBe(linkHash(GENESIS, { a: 1, at: timestamp }));
    expect(linkHash(GENESIS, { a: 1 })).not.toBe(linkHash(GENESIS, { a: 2 }));
    expect(linkHash(GENESIS, { a: 1 })).not.toBe(linkHash('1'.repeat(64), { a: 1 }));
  });

  it('audit records chain by instance, else the fan-out, run or apply they name', () => {
    expect(auditChainKey({ instanceId: 'cus-acme', rolloutId: 'r-1' })).toBe('instance:cus-acme');
    expect(auditChainKey({ instanceId: null, rolloutId: 'r-1' })).toBe('rollout:r-1');
    expect(auditChainKey({ instanceId: null, runId: 'access-review-1' })).toBe('run:access-review-1');
    expect(auditChainKey({ instanceId: null })).toBe('control-plane');
  });

  it("the day's Merkle root changes with any head and not with their order", () => {
    const headArb = fc.uniqueArray(fc.record({ key: fc.string({ minLength: 1, maxLength: 8 }), seq: fc.integer({ min: 1, max: 50 }), hash: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 }) }), { selector: (h) => h.key, minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(headArb, fc.nat(), (heads, pick) => {
        const root = merkleRoot(heads);
        expect(merkleRoot([...heads].reverse())).toBe(root);
        const changed = heads.map((h, i) => (i === pick % heads.length ? { ...h, seq: h.seq + 1 } : h));
        expect(merkleRoot(changed)).not.toBe(root);
        expect(merkleRoot(heads.filter((_, i) => i !== pick % heads.length))).not.toBe(root);
      }),
    );
  });
});

import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium } from '../../../cli/pdf.js';
import type { PeriodSummary } from '../../../shared/compliance/evidence.js';
import { cliEnv, closeCommands, mi, openCommands } from '../cli/support.js';
import { extendExpiry, type Compliance, type ComplianceRun } from '../../../shared/compliance/index.js';
import { verifyRecords, renderVerification } from '../../../shared/compliance/verify.js';
import { anchorFileSchema, anchorObjectName, evidenceBucketName, EVIDENCE_RETENTION_DAYS } from '../../../shared/domain/compliance/anchor.js';
import { extendChain, type ChainLink } from '../../../shared/domain/compliance/chain.js';
import { createEvidenceBucket } from '../../../shared/gcp/evidence-bucket.js';
import { serveStorage, type StorageServer } from '../../../shared/sim/storage-http.js';
import type { EvidenceBucketPort } from '../../../shared/ports.js';
import { TOPICS } from '../../../shared/topology.js';
import { createEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { complianceOn, scheduleDelivery, seedWithFault, Tap } from './support.js';
import { COLLECTIONS, compliancePaths, sealPaths } from '../../../shared/store/collections.js';
import { deliver } from '../../../shared/edge.js';
import { complianceCheckRoute, complianceScheduleRoute } from '../../../shared/routes.js';

const PARENT = 'projects/demo-evidence/locations/us-central1';
const DAY = '2026-11-26';
const HOUR = 3_600_000;

describe('tamper-evident history: chains, daily anchors in a locked bucket, mi compliance verify', () => {
  let f: EngineFixture;
  let compliance: Compliance;
  let checks: Tap;
  let storage: StorageServer;
  let bucket: EvidenceBucketPort;

  beforeAll(async () => {
    f = await createEngineFixture(import.meta.url);
    checks = await Tap.open(f, TOPICS.checks);
    const bucketName = evidenceBucketName('demo-evidence');
    f.fleet.plans.lockRetention(bucketName, EVIDENCE_RETENTION_DAYS);
    storage = await serveStorage(f.fleet.plans, { clock: f.clock });
    // The production adapter, over Cloud Storage's JSON API paths (the simulator behind them).
    bucket = createEvidenceBucket({ bucket: bucketName, endpoint: storage.url, token: () => Promise.resolve('test') });
    compliance = complianceOn(f, PARENT, { evidence: bucket, pageSize: 2 });
    f.fleet.scheduler.seedTopology('demo-evidence', 'us-central1');
    for (const id of ['ev-a', 'ev-b', 'ev-c']) await seedWithFault(f, id, 'healthy');
    await f.seedInstance({ id: 'ev-dev', environment: 'dev', tier: 'internal', expiresAt: new Date(f.clock.now().getTime() + 10 * HOUR).toISOString() });

    // Day one: a verify-backups run with a finding per instance, and people's audited changes.
    await deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'verify-backups', f.clock.now()));
    for (const event of await checks.take(5)) await deliver(compliance.deps, complianceCheckRoute(compliance), event);
    for (const hours of [1, 2, 3]) {
      f.clock.advance(HOUR);
      await extendExpiry({ store: f.store, clock: f.clock }, { instanceId: 'ev-dev', hours, actor: 'alice@example.com', reason: `demo ${hours}` });
    }
  });

  /** The CLI's environment, with an identity file that names the simulated Cloud Storage as mi dev's does. */
  async function cliEnvWithStorage(extra: Record<string, string> = {}): Promise<Record<string, string | undefined>> {
    const server = await openCommands(f);
    const identity = JSON.parse(await readFile(server.identityFile, 'utf8')) as Record<string, unknown>;
    const file = join(await mkdtemp(join(tmpdir(), 'mi-identity-')), 'identity.json');
    await writeFile(file, JSON.stringify({ ...identity, storageUrl: storage.url }));
    return { ...cliEnv(), MI_DEV_IDENTITY_FILE: file, ...extra };
  }

  afterAll(async () => {
    await closeCommands();
    await checks.close();
    await storage.close();
    await f.close();
  });

  it('nothing is anchored while the day is not over; once it is, one anchor holds every record of it, linked', async () => {
    const early = await deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'anchor-records', f.clock.now()));
    expect(early).toMatchObject({ kind: 'anchoring', result: { anchored: [] } });
    expect(await bucket.read(anchorObjectName(DAY))).toBeUndefined();

    f.clock.set(new Date('2026-11-27T00:30:00Z'));
    const outcome = await deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'anchor-records', f.clock.now()));
    expect(outcome).toMatchObject({ kind: 'anchoring', result: { anchored: [{ day: DAY }] } });

    const anchor = anchorFileSchema.parse(JSON.parse((await bucket.read(anchorObjectName(DAY))) ?? 'null'));
    const audit = await f.store.query<Record<string, unknown>>({ collection: COLLECTIONS.audit });
    const [run] = (await f.store.query<ComplianceRun>({ collection: COLLECTIONS.complianceRuns, where: [{ field: 'schedule', op: '==', value: 'verify-backups' }] })).map((d) => d.data);
    const findings = await f.store.query<Record<string, unknown>>({ collection: compliancePaths.findings(run?.runId ?? '') });
    expect(audit.length).toBeGreaterThanOrEqual(3);
    expect(findings).toHaveLength(5);
    expect(anchor.records.map((r) => r.path).sort()).toEqual([...audit, ...findings].map((d) => d.path).sort());
    // Chained per instance and per run: ev-dev's three extensions are one chain, the run's findings another.
    const devChain = audit.filter((d) => d.data.instanceId === 'ev-dev').map((d) => d.data.chain as ChainLink);
    expect(devChain.map((l) => l.key)).toEqual(devChain.map(() => 'instance:ev-dev'));
    expect(devChain.map((l) => l.seq).sort()).toEqual(devChain.map((_, i) => i + 1));
    expect(new Set(findings.map((d) => (d.data.chain as ChainLink).key))).toEqual(new Set([`findings:${run?.runId ?? ''}`]));
    // Kept 400 days, then the TTL policy on expireAt deletes them (with their anchors' retention over).
    for (const doc of [...audit, ...findings]) expect((doc.data.expireAt as Date).getTime() - Date.parse(String(doc.data.at ?? doc.data.checkedAt)), doc.path).toBeGreaterThanOrEqual(400 * 86_400_000);
    expect(anchor.runs).toEqual([{ runId: run?.runId, schedule: 'verify-backups', planned: 4, findings: 5 }]);

    const clean = await verifyRecords(f.store, bucket, DAY, DAY, f.clock.now());
    expect(clean.breaks).toEqual([]);
    expect(clean.gaps).toEqual([]);
    expect(clean).toMatchObject({ ok: true, days: [{ day: DAY, root: anchor.root, records: anchor.records.length }] });
  });

  it('the locked bucket refuses to replace or delete an anchor, and a retried anchoring keeps the first', async () => {
    const url = `gs://${bucket.bucket}/${anchorObjectName(DAY)}`;
    await expect(bucket.create(anchorObjectName(DAY), '{}', 'application/json')).rejects.toMatchObject({ code: 'already-exists' });
    expect(() => f.fleet.plans.put(url, '{}')).toThrow(/retention policy/);
    expect(() => f.fleet.plans.remove(url)).toThrow(/retention policy/);
    expect(f.fleet.plans.has(url)).toBe(true);
    // A crash after the anchor's write, before the cursor's: the day is anchored again and the object kept, with the same root.
    await f.store.set(sealPaths.cursor, { ...(await f.store.get(sealPaths.cursor)), anchoredThrough: null });
    f.clock.advance(10 * 60_000);
    const again = await deliver(compliance.deps, complianceScheduleRoute(compliance), scheduleDelivery(f, 'anchor-records', f.clock.now()));
    expect(again).toMatchObject({ kind: 'anchoring', result: { anchored: [{ day: DAY, kept: 'same' }] } });
  });

  it('mi compliance evidence writes one folder: summary, report, raw findings, anchors, PDFs, and a manifest whose digests are the files', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'mi-evidence-')), 'evidence');
    const chromium = findChromium(process.env);
    const run = await mi(f.projectId, ['compliance', 'evidence', '--from', DAY, '--to', DAY, '--out', out, '--bucket', bucket.bucket, ...(chromium === undefined ? ['--no-pdf'] : [])], { env: await cliEnvWithStorage() });
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as PeriodSummary;
    expect(run.code, run.stderr).toBe(summary.verdict.outcome === 'pass' ? 0 : 1);
    expect(run.stdout).toContain(`verdict ${summary.verdict.outcome.toUpperCase()}`);
    expect(summary).toMatchObject({ runs: 1, daysWithoutRun: [], verification: { ok: true, breaks: 0 }, identity: { period: { from: DAY, to: DAY } } });
    expect(summary.days).toEqual([expect.objectContaining({ day: DAY, checked: 4, anchorRoot: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown })]);
    const [runId] = summary.days.map((d) => d.runId);
    const names = (await readdir(out, { recursive: true })).map(String).sort();
    expect(names).toEqual(
      expect.arrayContaining(['SHA256SUMS', 'manifest.json', 'summary.md', 'summary.html', 'summary.json', 'verification.json', `anchors/${DAY}.json`, `findings/${runId ?? ''}.jsonl`, `report/${runId ?? ''}.md`, `report/${runId ?? ''}.html`, `report/${runId ?? ''}.json`]),
    );
    // The raw findings: one JSON line per finding, the schedules' among them.
    const lines = (await readFile(join(out, `findings/${runId ?? ''}.jsonl`), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { kind: string });
    expect(lines.map((l) => l.kind).sort()).toEqual(['instance', 'instance', 'instance', 'instance', 'schedules']);
    expect(await readFile(join(out, 'summary.html'), 'utf8')).toContain('<svg');
    if (chromium !== undefined) {
      for (const pdf of ['summary.pdf', `report/${runId ?? ''}.pdf`]) expect((await readFile(join(out, pdf))).subarray(0, 5).toString(), pdf).toBe('%PDF-');
    }
    // Every file but the manifest and its sums is listed, with its SHA-256 as recomputed here.
    const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as { files: Array<{ name: string; sha256: string; bytes: number }> };
    expect(manifest.files.map((m) => m.name).sort()).toEqual(names.filter((n) => !['manifest.json', 'SHA256SUMS', 'anchors', 'findings', 'report'].includes(n)).sort());
    for (const entry of manifest.files) expect(createHash('sha256').update(await readFile(join(out, entry.name))).digest('hex'), entry.name).toBe(entry.sha256);
  });

  it('mi compliance evidence refuses, before reading anything, when there is no Chromium for the PDFs and no --no-pdf', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'mi-evidence-')), 'evidence');
    const run = await mi(f.projectId, ['compliance', 'evidence', '--from', DAY, '--to', DAY, '--out', out, '--bucket', bucket.bucket], { env: await cliEnvWithStorage({ MI_CHROMIUM: '/nowhere/chromium' }) });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('apt-get install chromium');
    expect(run.stderr).toContain('--no-pdf');
    await expect(readdir(out)).rejects.toThrow();
  });

  it('an audit record edited in Firestore is named as the first break', async () => {
    const [victim] = (await f.store.query<Record<string, unknown>>({ collection: COLLECTIONS.audit, where: [{ field: 'instanceId', op: '==', value: 'ev-dev' }] })).slice(1, 2);
    if (victim === undefined) throw new Error('no audit record of ev-dev');
    const original = victim.data;
    await f.firestore.doc(victim.path).update({ actor: 'mallory@example.com' });
    const found = await verifyRecords(f.store, bucket, DAY, DAY, f.clock.now());
    expect(found.ok).toBe(false);
    expect(found.firstBreak).toMatchObject({ path: victim.path, kind: 'edited', chain: 'instance:ev-dev', day: DAY });
    expect(renderVerification(found)).toContain(`first break: ${victim.path}`);
    await f.firestore.doc(victim.path).set(original);
    expect((await verifyRecords(f.store, bucket, DAY, DAY, f.clock.now())).ok).toBe(true);
  });

  it('a forger who also recomputes the chain after the edit is still named: the anchor holds the old links', async () => {
    const chain = (await f.store.query<Record<string, unknown>>({ collection: COLLECTIONS.audit, where: [{ field: 'instanceId', op: '==', value: 'ev-dev' }] })).sort((a, b) => ((a.data.chain as ChainLink).seq - (b.data.chain as ChainLink).seq));
    const edited = chain.map((d, i) => (i === 0 ? { ...d.data, reason: 'nothing to see' } : d.data));
    const relinked = extendChain('instance:ev-dev', undefined, edited);
    const originals = chain.map((d) => d.data);
    for (const [i, doc] of chain.entries()) await f.firestore.doc(doc.path).set({ ...edited[i], chain: relinked[i] });
    const found = await verifyRecords(f.store, bucket, DAY, DAY, f.clock.now());
    expect(found.firstBreak).toMatchObject({ path: chain[0]?.path, kind: 'edited' });
    for (const [i, doc] of chain.entries()) await f.firestore.doc(doc.path).set(originals[i] ?? {});
  });

  it('a finding edited, a record deleted, a record added after the anchor: each is named', async () => {
    const [run] = (await f.store.query<ComplianceRun>({ collection: COLLECTIONS.complianceRuns, where: [{ field: 'schedule', op: '==', value: 'verify-backups' }] })).map((d) => d.data);
    const finding = compliancePaths.finding(run?.runId ?? '', 'ev-b');
    await f.firestore.doc(finding).update({ outcome: 'pass', failedControls: [] , note: 'rewritten' });
    const [gone] = await f.store.query<Record<string, unknown>>({ collection: COLLECTIONS.audit, where: [{ field: 'instanceId', op: '==', value: 'ev-dev' }] });
    if (gone === undefined) throw new Error('no audit record');
    await f.firestore.doc(gone.path).delete();
    const added = `${COLLECTIONS.audit}/20261126T235959000Z-999999-deadbeef`;
    await f.firestore.doc(added).set({ actor: 'mallory@example.com', action: 'instance.extended', instanceId: 'ev-c', at: '2026-11-26T23:59:59.000Z' });
    const found = await verifyRecords(f.store, bucket, DAY, DAY, f.clock.now());
    const byPath = new Map(found.breaks.map((b) => [b.path, b.kind]));
    expect(byPath.get(finding)).toBe('edited');
    expect(byPath.get(gone.path)).toBe('missing');
    expect(byPath.get(added)).toBe('unsealed');
  });

  it('mi compliance verify exits 1 naming the first break; bad periods are refused saying what is wrong', async () => {
    const env = await cliEnvWithStorage();
    const broken = await mi(f.projectId, ['compliance', 'verify', '--from', DAY, '--to', DAY, '--bucket', bucket.bucket], { env });
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/FAILED/);
    expect(broken.stdout).toMatch(/first break: complianceRuns\/|first break: audit\//);
    const json = await mi(f.projectId, ['compliance', 'verify', '--from', DAY, '--to', DAY, '--bucket', bucket.bucket, '--format', 'json'], { env });
    expect((JSON.parse(json.stdout) as { ok: boolean; breaks: unknown[] }).breaks.length).toBeGreaterThanOrEqual(3);
    const backwards = await mi(f.projectId, ['compliance', 'verify', '--from', DAY, '--to', '2026-11-01'], { env });
    expect(backwards.code).toBe(2);
    expect(backwards.stderr).toContain('--from is after --to');
    const tooLong = await mi(f.projectId, ['compliance', 'verify', '--from', '2025-01-01', '--to', DAY], { env });
    expect(tooLong.stderr).toContain('over 400 days');
  });

  it('a day of the period with no anchor and no verify-backups run is a gap of its own', async () => {
    const found = await verifyRecords(f.store, bucket, '2026-11-25', DAY, f.clock.now());
    expect(found.gaps).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ day: '2026-11-25', kind: 'no-anchor' }),
        expect.objectContaining({ day: '2026-11-25', kind: 'no-run' }),
      ]),
    );
    expect(found.gaps.filter((g) => g.day === DAY)).toEqual([]);
  });
});

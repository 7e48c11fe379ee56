/**
 * The fleet dashboard in a real browser (Debian's Chromium, driven by playwright-core), on the
 * local stack (`mi dev` in process, on the harness's emulators), through `mi dashboard`'s loopback
 * proxy, as an operator opens it:
 *
 * - the fleet table lists the seeded instances with their versions and statuses, and pages by
 *   its Next page links;
 * - an on-demand backup sent with `mi backup` appears among the running operations while it runs;
 * - a GKE backup that fails (`mi dev fault gke-backup … backup-fails`, then `mi backup`) shows
 *   among the recently failed operations, and after `mi compliance run --wait` the matrix marks
 *   gke.recent-backup failed on that instance, linking to its evidence, which shows the backup's
 *   FAILED state as the check read it;
 * - the fleet then dates each instance's last backups from that run, the failed one failing;
 * - a rollout started with `mi rollout start` shows with its four waves;
 * - the function refuses a request without a token, and the pages refuse a bad cursor and an
 *   unknown page, saying what to do.
 *
 * Screenshots of each page are kept as test artefacts (test/support/browser.ts says where);
 * `npm run screenshots` writes the same set to docs/screenshots.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../cli/main.js';
import { startLocalStack, type LocalStack } from '../../cli/dev/stack.js';
import type { OperationRecord } from '../../shared/domain/lifecycle/model.js';
import { createFirestore, createFirestoreStore } from '../../shared/gcp/firestore-store.js';
import { paths } from '../../shared/store/collections.js';
import { chromiumPresent, launchBrowser, NO_CHROMIUM, type TestBrowser } from '../support/browser.js';
import { projectIdFor } from '../support/project.js';
import { until } from '../support/until.js';

const projectId = projectIdFor(import.meta.url);

if (!chromiumPresent) process.stderr.write(`dashboard browser tests skipped: ${NO_CHROMIUM}\n`);

describe.skipIf(!chromiumPresent)('the fleet dashboard in Chromium, on the local stack, through mi dashboard', () => {
  const lines: string[] = [];
  const scratch = mkdtempSync(join(tmpdir(), 'mi-dashboard-'));
  const env = {
    FIRESTORE_EMULATOR_HOST: inject('firestoreHost'),
    PUBSUB_EMULATOR_HOST: inject('pubsubHost'),
    MI_DEV_IDENTITY_FILE: join(scratch, 'identity.json'),
    PATH: process.env.PATH,
  };
  const store = createFirestoreStore({ firestore: createFirestore(projectId) });
  const saved = { repo: process.env.MI_DEV_DEPLOYMENT_REPO };
  const interrupt = new AbortController();
  let stack: LocalStack | undefined;
  let browser: TestBrowser | undefined;
  let proxyRun: Promise<number> | undefined;
  let proxyUrl = '';
  const proxyOut: string[] = [];

  const mi = async (args: readonly string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['--project', projectId, '--as', 'alice@example.com', ...args], { stdout: { write: (t) => out.push(t) }, stderr: { write: (t) => err.push(t) }, env });
    return { code, stdout: out.join(''), stderr: err.join('') };
  };
  const page = () => {
    if (browser === undefined) throw new Error('no browser');
    return browser.page;
  };
  const operationOf = (stdout: string) => /operation (op-[0-9a-f-]+)/.exec(stdout)?.[1] ?? '';

  beforeAll(async () => {
    process.env.MI_DEV_DEPLOYMENT_REPO = join(scratch, 'repo');
    stack = await startLocalStack({ projectId, identityFile: env.MI_DEV_IDENTITY_FILE, log: (line) => lines.push(line) });
    // `mi dashboard`, as an operator runs it, until the test interrupts it.
    proxyRun = runCli(['--project', projectId, '--as', 'alice@example.com', 'dashboard', '--no-open'], { stdout: { write: (t) => proxyOut.push(t) }, stderr: { write: (t) => proxyOut.push(t) }, env, interrupt: interrupt.signal });
    proxyUrl = await until('mi dashboard to print its URL', () => /is at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(proxyOut.join(''))?.[1], 20_000);
    browser = await launchBrowser('dashboard');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    interrupt.abort();
    await proxyRun;
    await stack?.stop();
    rmSync(scratch, { recursive: true, force: true });
    if (saved.repo === undefined) delete process.env.MI_DEV_DEPLOYMENT_REPO;
    else process.env.MI_DEV_DEPLOYMENT_REPO = saved.repo;
  }, 60_000);

  it('mi dashboard says where the dashboard is and that it adds your token', () => {
    const said = proxyOut.join('');
    expect(said).toContain(`the dashboard (${stack?.functionsUrl ?? '?'}/dashboard) is at ${proxyUrl}`);
    expect(said).toContain('each request carries your ID token');
  });

  it('the fleet table lists every seeded instance with its environment, version and status', async () => {
    const seeded = stack?.seeded?.created ?? [];
    expect(seeded.length).toBe(10);
    await page().goto(proxyUrl);
    await expect.poll(() => page().title()).toBe('Fleet · mi dashboard');
    const fleet = page().getByRole('table', { name: 'Fleet' });
    const rows = await fleet.locator('tbody tr').allInnerTexts();
    expect(rows).toHaveLength(seeded.length);
    for (const instance of seeded) {
      const row = rows.find((r) => r.startsWith(instance.id));
      expect(row, `a row for ${instance.id}`).toBeDefined();
      expect(row?.split('\t').slice(0, 5)).toEqual([instance.id, instance.environment, instance.tier, instance.version, 'active']);
    }
    await expect.poll(async () => page().getByText(`Instances 1–10 of 10`).count()).toBe(1);
    await browser?.screenshot('dashboard-fleet');
  });

  it('pages the fleet by its Next page links, each instance once, to a last page', async () => {
    await page().goto(`${proxyUrl}?limit=4`);
    const seen: string[][] = [];
    for (let guard = 0; guard < 5; guard += 1) {
      const rows = await page().getByRole('table', { name: 'Fleet' }).locator('tbody tr').allInnerTexts();
      seen.push(rows.map((r) => r.split('\t')[0] ?? ''));
      const next = page().getByRole('link', { name: 'Next page' });
      if ((await next.count()) === 0) break;
      await next.click();
      await page().waitForURL(/after=/);
    }
    const ids = (stack?.seeded?.created ?? []).map((i) => i.id).sort();
    expect(seen.map((p) => p.length)).toEqual([4, 4, 2]);
    expect(seen.flat()).toEqual(ids);
    await expect.poll(() => page().getByText('last page').count()).toBe(1);
    expect(await page().getByText(`2 instances after ${seen[1]?.[3] ?? '?'}, of 10`).count()).toBe(1);
    await page().getByRole('link', { name: 'First page' }).click();
    expect(new URL(page().url()).search).toBe('');
  });

  it('a backup sent with mi backup appears among the running operations while it runs', async () => {
    const sent = await mi(['backup', 'cus-globex']);
    expect(sent.code, sent.stderr).toBe(0);
    const operationId = operationOf(sent.stdout);
    expect(operationId).toMatch(/^op-/);
    const running = page().getByRole('table', { name: 'Running operations' });
    const row = await until(
      `${operationId} among the running operations`,
      async () => {
        await page().goto(`${proxyUrl}operations`);
        const texts = (await running.count()) === 0 ? [] : await running.locator('tbody tr').allInnerTexts();
        return texts.find((t) => t.startsWith(operationId));
      },
      20_000,
      300,
    );
    expect(row.split('\t').slice(0, 4)).toEqual([operationId, 'backup', 'cus-globex', expect.stringMatching(/^(accepted|running)$/)]);
    expect(row).toContain('alice@example.com');
    // Meanwhile the fleet shows the instance leased to it.
    await page().goto(proxyUrl);
    const leased = await page().getByRole('table', { name: 'Fleet' }).locator('tbody tr', { hasText: 'cus-globex' }).innerText();
    if ((await store.get<OperationRecord>(paths.operation(operationId)))?.status === 'running') expect(leased).toContain(`backup ${operationId}`);
    await page().goto(`${proxyUrl}operations`);
    await browser?.screenshot('dashboard-operations');
  });

  it('a failed GKE backup fails its control in the matrix, which links to the evidence the check read', async () => {
    const target = 'int-staging';
    expect((await mi(['dev', 'fault', 'gke-backup', target, 'backup-fails'])).code).toBe(0);
    const sent = await mi(['backup', target, '--wait', '--timeout', '90s']);
    expect(sent.code, `${sent.stdout}\n${sent.stderr}`).toBe(1);
    const operationId = operationOf(sent.stdout);

    // The failed operation, among those recently failed, with the step that failed.
    await page().goto(`${proxyUrl}operations?list=failed`);
    const failedRow = await page().getByRole('table', { name: 'Recently failed operations' }).locator('tbody tr', { hasText: operationId }).innerText();
    expect(failedRow).toContain(target);
    expect(failedRow).toMatch(/gke/i);
    await browser?.screenshot('dashboard-operations-failed');

    const run = await mi(['compliance', 'run', '--wait', '--timeout', '120s', '--format', 'json']);
    const runId = /compliance run (\S+)/.exec(run.stdout)?.[1] ?? /"runId":\s*"([^"]+)"/.exec(run.stdout)?.[1];
    expect(runId, `${run.stdout.slice(0, 500)}\n${run.stderr}`).toBeDefined();

    await page().goto(`${proxyUrl}compliance?run=${runId ?? ''}`);
    const matrix = page().getByRole('table', { name: 'Compliance matrix' });
    const link = matrix.getByRole('link', { name: `gke.recent-backup failed on ${target}: evidence` });
    await expect.poll(() => link.count()).toBe(1);
    // Only that instance fails that control: every other row's cell is a pass.
    expect(await matrix.getByRole('link', { name: /^gke\.recent-backup failed on/ }).count()).toBe(1);
    await browser?.screenshot('dashboard-compliance');

    await link.click();
    await page().waitForURL(/\/evidence\?/);
    expect(new URL(page().url()).searchParams.get('control')).toBe('gke.recent-backup');
    await expect.poll(() => page().title()).toBe(`Evidence: gke.recent-backup on ${target} · mi dashboard`);
    const finding = await page().getByRole('table', { name: 'Finding' }).innerText();
    expect(finding).toContain(`${target} (prod, internal`);
    expect(finding).toMatch(/Verdict\s+fail/);
    const evidence = JSON.parse(await page().getByLabel('Evidence JSON').innerText()) as Record<string, unknown>;
    expect(evidence).toMatchObject({ state: 'FAILED' });
    await browser?.screenshot('dashboard-evidence');

    // The fleet now dates each instance's last backups from that run's evidence; the failed one fails its policy.
    await page().goto(proxyUrl);
    const fleet = page().getByRole('table', { name: 'Fleet' });
    const staging = (await fleet.locator('tbody tr', { hasText: target }).innerText()).split('\t');
    expect(staging.slice(6)).toEqual([expect.stringMatching(/^(just now|\d+ (min|h|d) ago)$/), expect.stringMatching(/^(just now|\d+ (min|h|d) ago), FAILED \(fails policy\)$/)]);
    const acme = (await fleet.locator('tbody tr', { hasText: 'cus-acme' }).innerText()).split('\t');
    expect(acme.slice(6).every((cell) => /^(just now|\d+ (min|h|d) ago)$/.test(cell)), acme.join(' | ')).toBe(true);
    await expect.poll(() => page().getByRole('link', { name: runId ?? '?' }).count()).toBe(1);
    await browser?.screenshot('dashboard-fleet');
  });

  it('a rollout started with mi rollout start shows with its four waves, the first one under way', async () => {
    const started = await mi(['rollout', 'start', '--to', '5.5.0', '--reason', 'dashboard test']);
    expect(started.code, `${started.stdout}\n${started.stderr}`).toBe(0);
    const table = page().getByRole('table', { name: 'Rollouts and workflows' });
    const row = await until(
      'the rollout on the rollouts page',
      async () => {
        await page().goto(`${proxyUrl}rollouts`);
        return (await table.count()) === 0 ? undefined : ((await table.locator(':scope > tbody > tr').allInnerTexts())[0] ?? undefined);
      },
      20_000,
      300,
    );
    expect(row).toContain('upgrade to 5.5.0');
    expect(row).toContain('alice@example.com');
    const wavesNow = () => page().getByRole('table', { name: /^Waves of / }).locator('tr').allInnerTexts();
    expect((await wavesNow()).map((w) => w.split('\t')[0])).toEqual(['dev', 'internal', 'canary', 'customers']);
    // Its first tick starts the dev wave: reloaded, the page shows it under way, the others pending.
    const waves = await until(
      'the dev wave under way',
      async () => {
        await page().goto(`${proxyUrl}rollouts`);
        const now = await wavesNow();
        return /^dev\t(active|soaking|done)\t/.test(now[0] ?? '') ? now : undefined;
      },
      30_000,
      500,
    );
    expect(waves[0]).toMatch(/\d\/3 done\t0 failed\t\d in flight/);
    expect(waves.slice(1).map((w) => w.split('\t')[1])).toEqual(['pending', 'pending', 'pending']);
    await browser?.screenshot('dashboard-rollouts');
  });

  it('refuses what it cannot answer: no token, a bad cursor, an unknown page, a write', async () => {
    const direct = await fetch(`${stack?.functionsUrl ?? ''}/dashboard`);
    expect(direct.status).toBe(401);
    expect(((await direct.json()) as { message: string }).message).toContain('missing Authorization header');

    const bad = await page().goto(`${proxyUrl}?after=not-a-cursor`);
    expect(bad?.status()).toBe(400);
    await expect.poll(() => page().getByText('is not a cursor of this dashboard').count()).toBe(1);

    const unknown = await page().goto(`${proxyUrl}nowhere`);
    expect(unknown?.status()).toBe(404);
    await expect.poll(() => page().getByText('no page /nowhere:').count()).toBe(1);

    const write = await fetch(proxyUrl, { method: 'POST', body: '{}' });
    expect(write.status).toBe(405);
    expect(await write.text()).toContain('the dashboard is read-only');
  });
});

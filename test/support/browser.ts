/**
 * A real browser for page tests: Debian's Chromium (`apt-get install chromium`; `.ci/run`
 * installs it), driven by playwright-core, which downloads no browser of its own. Tests that
 * need one skip, saying why, when it is absent. Screenshots are test artefacts, written under
 * the temporary folder (MI_TEST_ARTEFACTS overrides where), and also to MI_SCREENSHOTS_DIR when
 * set (`npm run screenshots` sets it to docs/screenshots).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Where Debian puts Chromium (MI_CHROMIUM overrides it). */
export const CHROMIUM = process.env.MI_CHROMIUM ?? '/usr/bin/chromium';

/** Whether a Chromium can be launched here; the reason to skip when not. */
export const chromiumPresent = existsSync(CHROMIUM);
export const NO_CHROMIUM = `no Chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium) to run the browser tests; .ci/run does`;

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Saves a screenshot of the whole page as `<name>.png` among the artefacts (and the docs' screenshots when asked); returns its path. */
  screenshot(name: string): Promise<string>;
  readonly artefacts: string;
  close(): Promise<void>;
}

/** Launches Chromium with a fresh profile; its artefacts go to `<tmp>/mi-test-artefacts/<suite>`. */
export async function launchBrowser(suite: string): Promise<TestBrowser> {
  if (!chromiumPresent) throw new Error(NO_CHROMIUM);
  const profile = mkdtempSync(join(tmpdir(), 'mi-chromium-'));
  const artefacts = resolve(process.env.MI_TEST_ARTEFACTS ?? join(tmpdir(), 'mi-test-artefacts'), suite);
  mkdirSync(artefacts, { recursive: true });
  const docs = process.env.MI_SCREENSHOTS_DIR === undefined || process.env.MI_SCREENSHOTS_DIR === '' ? undefined : resolve(process.env.MI_SCREENSHOTS_DIR);
  if (docs !== undefined) mkdirSync(docs, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1400, height: 900 } });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    artefacts,
    async screenshot(name) {
      const path = join(artefacts, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      if (docs !== undefined) await page.screenshot({ path: join(docs, `${name}.png`), fullPage: true });
      return path;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

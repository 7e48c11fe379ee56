/**
 * HTML to PDF through headless Chromium (`--print-to-pdf`), the browser Debian packages as
 * `chromium`: what prints the evidence folder's PDFs. Chromium is looked for where MI_CHROMIUM
 * says, else on PATH; absent, the error says how to install it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CliEnv } from './backend.js';
import { EXIT } from './config.js';
import { CliError } from './errors.js';

export const CHROMIUM_VARIABLE = 'MI_CHROMIUM';
const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/** The Chromium to print with, or undefined. */
export function findChromium(env: CliEnv): string | undefined {
  const said = env[CHROMIUM_VARIABLE]?.trim();
  if (said !== undefined && said !== '') return existsSync(said) ? said : undefined;
  const path = env.PATH ?? process.env.PATH ?? '';
  for (const dir of path.split(delimiter).filter((d) => d !== '')) {
    for (const name of CANDIDATES) if (existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The Chromium to print with; refuses, saying how to get one, when there is none. */
export function requireChromium(env: CliEnv): string {
  const chromium = findChromium(env);
  if (chromium === undefined) {
    throw new CliError(`no Chromium to print the PDFs with: install it (Debian: apt-get install chromium), or set ${CHROMIUM_VARIABLE} to its path, or pass --no-pdf`, EXIT.refused);
  }
  return chromium;
}

/** Prints `htmlPath` to `pdfPath` (no header or footer). */
export async function printPdf(env: CliEnv, htmlPath: string, pdfPath: string): Promise<void> {
  const chromium = requireChromium(env);
  const profile = await mkdtemp(join(tmpdir(), 'mi-pdf-'));
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(
        chromium,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--no-first-run',
          // Without these it reaches out to Google's hosts at every start.
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          `--user-data-dir=${profile}`,
          '--no-pdf-header-footer',
          `--print-to-pdf=${pdfPath}`,
          pathToFileURL(htmlPath).href,
        ],
        { timeout: 120_000 },
        (error, _stdout, stderr) => {
          if (error) reject(new CliError(`Chromium could not print ${htmlPath}: ${stderr.trim().split('\n').pop() ?? error.message}`, EXIT.failed, { cause: error }));
          else resolve();
        },
      );
    });
    if (!existsSync(pdfPath)) throw new CliError(`Chromium printed no PDF for ${htmlPath}`, EXIT.failed);
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

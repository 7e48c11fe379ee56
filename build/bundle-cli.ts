/**
 * `mi` as one bundle under dist/cli-bundle/ (bin/mi.js runs it): its entry, and a chunk per
 * lazily loaded command group, so a command parses its own code and zod once, not a hundred
 * files. The help manifest the build wrote beside the compiled CLI goes beside the bundle.
 */
import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS, ROOT } from './bundle-options.js';

export const CLI_BUNDLE_DIR = join(ROOT, 'dist', 'cli-bundle');

export async function bundleCli(): Promise<string[]> {
  await rm(CLI_BUNDLE_DIR, { recursive: true, force: true });
  const result = await build({ ...BUNDLE_OPTIONS, entryPoints: { start: join(ROOT, 'cli', 'start.ts') }, outdir: CLI_BUNDLE_DIR });
  await copyFile(join(ROOT, 'dist', 'cli', 'help-manifest.json'), join(CLI_BUNDLE_DIR, 'help-manifest.json'));
  const files = Object.keys(result.metafile.outputs).filter((out) => out.endsWith('.js'));
  const bytes = files.reduce((sum, out) => sum + (result.metafile.outputs[out]?.bytes ?? 0), 0);
  return [`bundled mi                   ${(bytes / 1024).toFixed(0).padStart(5)} KiB of JavaScript in ${files.length} files`];
}

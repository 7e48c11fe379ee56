/**
 * The checkout `mi` runs from: the folder of its package.json. The same whether `mi` runs from
 * the TypeScript sources (tests, tsx) or from the compiled JavaScript in dist/, which sits one
 * folder deeper.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function rootFrom(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${start}: mi runs from a checkout of the control plane`);
    dir = up;
  }
}

export const PROJECT_ROOT = rootFrom(dirname(fileURLToPath(import.meta.url)));

/** A path inside the checkout. */
export function inProject(...parts: string[]): string {
  return join(PROJECT_ROOT, ...parts);
}

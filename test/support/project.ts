import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { basename } from 'node:path';

/** A project id of its own for each test file, so files run in parallel without sharing data. */
export function projectIdFor(fileUrl: string, suffix = ''): string {
  const file = basename(fileURLToPath(fileUrl)).replace(/\.test\.ts$/, '');
  const hash = createHash('sha256').update(fileUrl + suffix).digest('hex').slice(0, 6);
  const slug = file.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 16);
  return `demo-${slug}-${hash}`.replace(/-+/g, '-');
}

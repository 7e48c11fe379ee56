/**
 * Who made a report, for its identity: this tool's version (package.json), the commit it was
 * built from (MI_COMMIT when the release says so, else the checkout's HEAD, else 'unknown'),
 * and the project it read.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { CliEnv } from './backend.js';
import { inProject } from './project-root.js';

export function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(inProject('package.json'), 'utf8'));
    return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function commitOf(env: CliEnv): string {
  const said = env.MI_COMMIT?.trim();
  if (said !== undefined && /^[0-9a-f]{7,40}$/i.test(said)) return said.toLowerCase();
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: inProject(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 }).trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

export function reportMaker(env: CliEnv, project: string): { version: string; commit: string; project: string } {
  return { version: packageVersion(), commit: commitOf(env), project };
}

import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../../bin/mi.js', import.meta.url));

describe('bin/mi.js', () => {
  it('runs the TypeScript CLI without a build, from any directory, and lists the commands', async () => {
    // Run from elsewhere: the entry must find tsx, the tsconfig and the sources by its own path.
    const { stdout } = await promisify(execFile)(process.execPath, [bin, '--help'], { cwd: tmpdir(), timeout: 20_000 });
    for (const command of ['instance', 'backup', 'upgrade', 'op', 'dev']) expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    expect(stdout).toContain('Exit codes:');
  });

  it('exits 2 on a usage error', async () => {
    const failure = await promisify(execFile)(process.execPath, [bin, 'upgrade', 'x1'], { cwd: tmpdir(), timeout: 20_000 }).then(
      () => undefined,
      (error: unknown) => error as { code: number; stderr: string },
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain('give --to <version> or --rollback (one of them)');
  });
});

import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../cli/main.js';

const bin = fileURLToPath(new URL('../../../bin/mi.js', import.meta.url));

describe('bin/mi.js', () => {
  it('runs the compiled CLI (npm ci builds it) from any directory, and its help is the live help of the sources', async () => {
    // Run from elsewhere: the entry finds dist/ and its help manifest by its own path.
    const { stdout } = await promisify(execFile)(process.execPath, [bin, '--help'], { cwd: tmpdir(), timeout: 20_000 });
    for (const command of ['instance', 'backup', 'check', 'upgrade', 'op', 'dev']) expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    expect(stdout).toContain('Exit codes:');
    let live = '';
    await runCli(['--help'], { stdout: { write: (t: string) => (live += t) }, stderr: { write: () => true }, env: {} });
    expect(stdout, 'dist/ is older than the sources: npm run build').toBe(live);
  });

  it('a command loads what it needs from dist and answers: the version, and a refusal naming the flag', async () => {
    const run = promisify(execFile);
    expect((await run(process.execPath, [bin, '-V'], { cwd: tmpdir(), timeout: 20_000 })).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const failure = await run(process.execPath, [bin, 'check', 'x1', '--only', 'disk'], { cwd: tmpdir(), timeout: 20_000 }).then(
      () => undefined,
      (error: unknown) => error as { code: number; stderr: string },
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain('expected a check: one of health, backup-policy');
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

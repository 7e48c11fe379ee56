/**
 * `mi dashboard` refuses up front what it cannot do, before anything listens: no dashboard URL
 * in the cloud, a bad port or URL, `--as` outside the local stack, no `mi dev` to sign for.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../cli/main.js';

async function mi(args: readonly string[], env: Record<string, string | undefined>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { stdout: { write: (t) => out.push(t) }, stderr: { write: (t) => err.push(t) }, env, interrupt: AbortSignal.abort() });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('mi dashboard refuses what it cannot do', () => {
  it('in the cloud without the dashboard\'s URL, saying where to find it (exit 2)', async () => {
    const run = await mi(['dashboard', '--no-open'], { GOOGLE_CLOUD_PROJECT: 'my-project' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no dashboard function: pass --url or set MI_DASHBOARD_URL');
  });

  it.each([
    [['--port', '70000'], '--port: expected a port between 1 and 65535'],
    [['--port', 'eight'], '--port: expected a port number'],
    [['--url', 'not a url'], "--url: expected the dashboard function's URL"],
  ])('%j (exit 2)', async (flags, message) => {
    const run = await mi(['dashboard', '--no-open', ...flags], { GOOGLE_CLOUD_PROJECT: 'my-project' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });

  it('--as outside the local stack (exit 2)', async () => {
    const run = await mi(['--as', 'bob@example.com', 'dashboard', '--no-open', '--url', 'https://example.com/dashboard'], { GOOGLE_CLOUD_PROJECT: 'my-project' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--as bob@example.com works on the local stack only');
  });

  it('on the local stack with no mi dev running (exit 3)', async () => {
    const run = await mi(['dashboard', '--no-open'], { FIRESTORE_EMULATOR_HOST: '127.0.0.1:9', MI_DEV_IDENTITY_FILE: '/nonexistent/identity.json' });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('no local identity at /nonexistent/identity.json: is `mi dev` running?');
  });
});

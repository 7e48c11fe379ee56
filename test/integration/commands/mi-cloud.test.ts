/**
 * `mi` in cloud mode: a person's token is what `gcloud auth print-identity-token` prints (for
 * gcloud's own client id; user accounts cannot ask for another audience), sent in both
 * headers to MI_COMMANDS_URL. `gcloud` here is a stand-in on the PATH mi is given: it records
 * its arguments and prints a token of the shape Google gives users, signed with a key the
 * function under test trusts.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../cli/main.js';
import { usesServiceAccount } from '../../../cli/commands-client.js';
import { EXIT } from '../../../cli/config.js';
import { GCLOUD_CLIENT_ID } from '../../../shared/identity/index.js';
import { serveCommands, type CommandsServer } from '../../support/commands-server.js';
import { createEngineFixture, TEST_TIMINGS, type EngineFixture } from '../../support/engine-fixture.js';

const PERSON = 'carol@example.com';
let f: EngineFixture;
let commands: CommandsServer;
let bin: string;

async function gcloudPrinting(script: string): Promise<void> {
  const path = join(bin, 'gcloud');
  await writeFile(path, `#!/bin/sh\necho "$@" >> "${join(bin, 'args')}"\n${script}\n`);
  await chmod(path, 0o755);
}

async function mi(args: readonly string[], env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, {
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    env: { GOOGLE_CLOUD_PROJECT: f.projectId, PATH: `${bin}:${process.env.PATH ?? ''}`, MI_COMMANDS_URL: commands.url, ...env },
  });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

beforeAll(async () => {
  f = await createEngineFixture(import.meta.url);
  // As deployed: the function's URL and gcloud's client id.
  commands = await serveCommands({ store: f.store, bus: f.bus, clock: f.clock, ...f.fleet.ports() }, { timings: TEST_TIMINGS, callers: { audiences: [GCLOUD_CLIENT_ID] } });
  bin = await mkdtemp(join(tmpdir(), 'mi-gcloud-'));
});

afterAll(async () => {
  await commands.close();
  await rm(bin, { recursive: true, force: true });
  await f.close();
});

describe('mi in the cloud', () => {
  it("sends the person's gcloud token (asked for without --audiences); the function verifies it and takes the caller from it", async () => {
    const token = await commands.signer.sign({ email: PERSON, audience: GCLOUD_CLIENT_ID });
    await gcloudPrinting(`echo ${token}`);
    const run = await mi(['approve', 'op-nothing']);
    // Verified as carol, then refused for what it asked: the operation does not exist.
    expect(run.code).toBe(EXIT.refused);
    expect(run.stderr).toMatch(/approving op-nothing refused: .*op-nothing/);
    expect((await readFile(join(bin, 'args'), 'utf8')).trim().split('\n').at(-1)).toBe('auth print-identity-token');
  });

  it('says to log in (exit 3) when gcloud has no account, and refuses --as (exit 2)', async () => {
    await gcloudPrinting('echo "ERROR: (gcloud.auth.print-identity-token) You do not currently have an active account selected." >&2; exit 1');
    const run = await mi(['approve', 'op-1']);
    expect(run.code).toBe(EXIT.unreachable);
    expect(run.stderr).toContain('cannot get a Google ID token from gcloud (ERROR: (gcloud.auth.print-identity-token) You do not currently have an active account selected.): run gcloud auth login');
    const as = await mi(['--as', 'boss@example.com', 'approve', 'op-1']);
    expect(as.code).toBe(EXIT.refused);
    expect(as.stderr).toContain('works on the local stack only');
  });

  it("sends the token in both headers, and says the account may not invoke the function when Cloud Run's own 403 page answers", async () => {
    const seen: Array<[string | undefined, string | undefined]> = [];
    const cloudRun = createServer((req, res) => {
      seen.push([req.headers.authorization, req.headers['x-serverless-authorization'] as string | undefined]);
      res.writeHead(403, { 'content-type': 'text/html' }).end('<html><body>Error: Forbidden</body></html>');
    });
    await new Promise<void>((resolve) => cloudRun.listen(0, '127.0.0.1', resolve));
    const address = cloudRun.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await gcloudPrinting('echo aaa.bbb.ccc');
    const run = await mi(['approve', 'op-1'], { MI_COMMANDS_URL: `http://127.0.0.1:${port}/commands` });
    cloudRun.close();
    expect(run.code).toBe(EXIT.unreachable);
    expect(run.stderr).toContain('your account may not invoke the commands function (it must be among mi:operators)');
    expect(seen).toEqual([['Bearer aaa.bbb.ccc', 'Bearer aaa.bbb.ccc']]);
  });
});

describe('which credentials mi uses', () => {
  it('a service account when MI_IDENTITY says so or the key file is one; a person otherwise', () => {
    const file = (content: string) => () => content;
    expect(usesServiceAccount({})).toBe(false);
    expect(usesServiceAccount({ MI_IDENTITY: 'service-account' })).toBe(true);
    expect(usesServiceAccount({ MI_IDENTITY: 'user', GOOGLE_APPLICATION_CREDENTIALS: '/k.json' }, file('{"type":"service_account"}'))).toBe(false);
    expect(usesServiceAccount({ GOOGLE_APPLICATION_CREDENTIALS: '/k.json' }, file('{"type":"service_account","client_email":"ci@p.iam.gserviceaccount.com"}'))).toBe(true);
    expect(usesServiceAccount({ GOOGLE_APPLICATION_CREDENTIALS: '/k.json' }, file('{"type":"authorized_user"}'))).toBe(false);
    expect(() => usesServiceAccount({ MI_IDENTITY: 'robot' })).toThrow('MI_IDENTITY is robot: expected user or service-account');
  });
});

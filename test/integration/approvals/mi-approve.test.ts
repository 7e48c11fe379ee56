import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Approver } from '../../../shared/engine/index.js';
import { servicesWith } from '../../support/services.js';
import { useServices } from '../../../functions/wiring.js';
import { runCli } from '../../../cli/main.js';
import { serveFunctions, type FunctionsServer } from '../../../cli/dev/functions-server.js';
import { readIdentityFile, removeIdentityFile, writeIdentityFile } from '../../../cli/dev/identity-file.js';
import { EXIT } from '../../../cli/config.js';
import { createLocalSigner, localIdentity, type LocalSigner } from '../../../shared/identity/index.js';
import type { VerifiedCaller } from '../../../shared/ports.js';
import '../../../functions/approvals.js';

const REQUESTER = 'requester@example.com';
const SECOND = 'second.person@example.com';

let dir: string;
let identityFile: string;
let server: FunctionsServer;
let signer: LocalSigner;
let approvedBy: Array<{ operationId: string; approver: VerifiedCaller }>;

/** The engine's rules in small: op-waiting waits for approval, requested by REQUESTER. */
const approver: Approver = {
  approve(operationId, caller) {
    if (operationId !== 'op-waiting') return Promise.resolve({ kind: 'refused', code: 'not-found', message: `no operation ${operationId}` });
    if (caller.email === REQUESTER) return Promise.resolve({ kind: 'refused', code: 'self-approval', message: `${REQUESTER} requested ${operationId} and cannot approve it` });
    approvedBy.push({ operationId, approver: caller });
    return Promise.resolve({ kind: 'approved', operationId });
  },
};

async function mi(args: readonly string[], env: Record<string, string | undefined>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, {
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    env: { FIRESTORE_EMULATOR_HOST: '127.0.0.1:1', MI_DEV_IDENTITY_FILE: identityFile, ...env },
  });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mi-approve-'));
  identityFile = join(dir, '.mi-dev', 'identity.json');
  signer = await createLocalSigner();
  server = await serveFunctions({ functionNames: ['approvals'] });
  const approvalsUrl = server.routes.approvals ?? '';
  // What `mi dev` does: the production verifier on a local key, the audience the function's URL.
  useServices(servicesWith({ approvals: { identity: localIdentity(signer), approver, audience: approvalsUrl } }));
  await writeIdentityFile(identityFile, {
    version: 1,
    functionsUrl: server.url,
    approvalsUrl,
    audience: approvalsUrl,
    issuer: signer.issuer,
    privateJwk: await signer.exportPrivateJwk(),
    projectId: 'demo-mi-local',
    pid: process.pid,
    writtenAt: new Date().toISOString(),
  });
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  approvedBy = [];
});

describe('mi approve in local mode', () => {
  it("leaves mi dev's key readable by its owner only", async () => {
    expect((await stat(identityFile)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, '.mi-dev'))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(identityFile, 'utf8'))).toMatchObject({ version: 1, privateJwk: { kid: signer.kid } });
  });

  it('approves as the local operator (MI_ACTOR), with a token signed by the key mi dev left', async () => {
    const run = await mi(['approve', 'op-waiting'], { MI_ACTOR: SECOND });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(EXIT.ok);
    expect(run.stdout).toContain(`approved op-waiting as ${SECOND}`);
    expect(approvedBy).toEqual([{ operationId: 'op-waiting', approver: { email: SECOND, subject: `local:${SECOND}` } }]);
  });

  it('prints the answer as JSON with --json', async () => {
    const run = await mi(['approve', 'op-waiting', '--json'], { MI_ACTOR: SECOND });
    expect(run.code).toBe(EXIT.ok);
    expect(JSON.parse(run.stdout)).toEqual({ approved: 'op-waiting', by: SECOND });
  });

  it('refuses, exit 2, when the requester approves their own operation', async () => {
    const run = await mi(['approve', 'op-waiting'], { MI_ACTOR: REQUESTER });
    expect(run.code).toBe(EXIT.refused);
    expect(run.stderr).toContain('cannot approve it');
    expect(approvedBy).toEqual([]);
  });

  it('refuses, exit 2, an unknown operation and an invalid id', async () => {
    const unknown = await mi(['approve', 'op-nope'], { MI_ACTOR: SECOND });
    expect(unknown.code).toBe(EXIT.refused);
    expect(unknown.stderr).toContain('no operation op-nope');
    const invalid = await mi(['approve', 'op/1'], { MI_ACTOR: SECOND });
    expect(invalid.code).toBe(EXIT.refused);
    expect(invalid.stderr).toContain('<operation>');
  });

  it('says mi dev is not running, exit 3, when there is no identity file', async () => {
    const run = await mi(['approve', 'op-waiting'], { MI_ACTOR: SECOND, MI_DEV_IDENTITY_FILE: join(dir, 'missing.json') });
    expect(run.code).toBe(EXIT.unreachable);
    expect(run.stderr).toMatch(/is `mi dev` running/);
  });

  it('says the function cannot be reached, exit 3, when nothing listens', async () => {
    const run = await mi(['approve', 'op-waiting'], { MI_ACTOR: SECOND, MI_APPROVALS_URL: 'http://127.0.0.1:1/approvals' });
    expect(run.code).toBe(EXIT.unreachable);
    expect(run.stderr).toContain('cannot reach the approvals function');
  });

  it('outside local mode, asks for MI_APPROVALS_URL (exit 2)', async () => {
    const run = await mi(['approve', 'op-waiting'], { FIRESTORE_EMULATOR_HOST: undefined, MI_ACTOR: SECOND });
    expect(run.code).toBe(EXIT.refused);
    expect(run.stderr).toContain('MI_APPROVALS_URL');
  });

  it('removes the identity file only while it still holds the same key', async () => {
    const copy = join(dir, 'other', 'identity.json');
    const content = await readIdentityFile(identityFile);
    if (content === undefined) throw new Error('the identity file is gone');
    await writeIdentityFile(copy, content);
    await removeIdentityFile(copy, 'some-other-kid');
    expect(await readIdentityFile(copy)).toBeDefined();
    await removeIdentityFile(copy, signer.kid);
    expect(await readIdentityFile(copy)).toBeUndefined();
  });
});

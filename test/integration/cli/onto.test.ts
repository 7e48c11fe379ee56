/**
 * `mi instance workon` and `mi instance db proxy` against stand-in executables on PATH (each
 * records its arguments and the KUBECONFIG it was given), with prod access through the simulated
 * PAM as `mi dev` serves it.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceRecord } from '../../../shared/events/index.js';
import { createEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { serveLocalAccess } from '../../support/local-access.js';
import type { PamServer } from '../../../shared/sim/pam-http.js';
import type { SimulatedPam } from '../../../shared/sim/pam.js';
import { cliEnv, mi } from './support.js';

let f: EngineFixture;
let pam: SimulatedPam;
let server: PamServer;
let dir: string;
let bin: string;
let identityFile: string;
let dev: InstanceRecord;
let prod: InstanceRecord;

async function standIn(name: string, script = 'exit 0'): Promise<void> {
  await writeFile(join(bin, name), `#!/bin/sh\necho "${name} $* KUBECONFIG=$KUBECONFIG" >> "${join(dir, 'calls')}"\n${script}\n`);
  await chmod(join(bin, name), 0o755);
}
const calls = async () => (await readFile(join(dir, 'calls'), 'utf8').catch(() => '')).trim().split('\n').filter((l) => l !== '');
const run = (args: readonly string[], as = 'alice@example.com', env: Record<string, string | undefined> = {}) =>
  mi(f.projectId, ['--as', as, 'instance', ...args], { env: cliEnv({ PATH: `${bin}:/usr/bin:/bin`, MI_DEV_IDENTITY_FILE: identityFile, ...env }) });

beforeAll(async () => {
  f = await createEngineFixture(import.meta.url);
  dev = await f.seedInstance({ environment: 'dev', tier: 'internal', expiresAt: '2026-12-30T00:00:00Z' });
  prod = await f.seedInstance();
  dir = await mkdtemp(join(tmpdir(), 'mi-onto-'));
  bin = join(dir, 'bin');
  await mkdir(bin);
  ({ pam, server, identityFile } = await serveLocalAccess(f.clock, dir, ['bob@example.com']));
  await standIn('gcloud');
  await standIn('kubectl', 'echo "pods of $MI_INSTANCE"');
  await standIn('cloud-sql-proxy');
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
  await f.close();
});

describe('mi instance workon', () => {
  it("gets the cluster's credentials into a kubeconfig of its own and says how to use it; --exec runs with it", async () => {
    const said = await run(['workon', dev.id]);
    expect(said.stderr).toBe('');
    const kubeconfig = /export KUBECONFIG=(\S+)/.exec(said.stdout)?.[1] ?? '';
    expect(kubeconfig).toMatch(new RegExp(`mi-workon-${dev.id}-.*/kubeconfig$`));
    expect((await calls()).at(-1)).toBe(`gcloud container clusters get-credentials ${dev.id} --location=us-central1 --project=${dev.resources.project} KUBECONFIG=${kubeconfig}`);

    const exec = await run(['workon', dev.id, '--exec', 'kubectl', 'get', 'pods']);
    expect([exec.code, exec.stdout.trim()]).toEqual([0, `pods of ${dev.id}`]);
    expect((await calls()).at(-1)).toMatch(/^kubectl get pods KUBECONFIG=\S+\/kubeconfig$/);
  });

  it('on prod, needs an active grant of yours, and says how to get one', async () => {
    const refused = await run(['workon', prod.id]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${prod.id} is prod and you hold no active access grant: mi access request --env prod --role operator`);
    const prodOperator = pam.entitlementNames().find((e) => e.endsWith('/prod-operator')) ?? '';
    const grant = pam.create('alice@example.com', prodOperator, { requestedDuration: '3600s', justification: { unstructuredJustification: 'INC-7' } });
    pam.approve('bob@example.com', grant.name, 'on call');
    const allowed = await run(['workon', prod.id]);
    expect([allowed.code, allowed.stderr]).toEqual([0, '']);
    // bob holds no grant of his own: approving alice's gives him nothing.
    expect((await run(['workon', prod.id], 'bob@example.com')).code).toBe(2);
  });

  it('takes the instance folder mi stands in, and says how to install a missing tool', async () => {
    const here = await mi(f.projectId, ['instance', 'workon'], { env: cliEnv({ PATH: `${bin}:/usr/bin:/bin`, MI_DEV_IDENTITY_FILE: identityFile }), cwd: `/src/deployments/environments/dev/deployments/${dev.id}` });
    expect(here.stdout).toContain(`${dev.id}: export KUBECONFIG=`);
    const missing = await run(['workon', dev.id], 'alice@example.com', { PATH: '/nonexistent' });
    expect([missing.code, missing.stderr]).toEqual([2, 'mi: gcloud is not installed or not on PATH: install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install)\n']);
  });
});

describe('mi instance db proxy', () => {
  it("runs the Cloud SQL Auth Proxy for the instance's database with IAM database authentication", async () => {
    const proxied = await run(['db', 'proxy', dev.id, '--port', '6543']);
    expect(proxied.code).toBe(0);
    expect(proxied.stdout).toContain(`${dev.id}: Cloud SQL ${dev.resources.project}:${dev.region}:${dev.resources.sqlInstance} on 127.0.0.1:6543`);
    expect((await calls()).at(-1)).toBe(`cloud-sql-proxy --auto-iam-authn --port=6543 ${dev.resources.project}:${dev.region}:${dev.resources.sqlInstance} KUBECONFIG=`);
    const badPort = await run(['db', 'proxy', dev.id, '--port', '99999']);
    expect([badPort.code, badPort.stderr]).toEqual([2, expect.stringContaining('--port')]);
  });
});

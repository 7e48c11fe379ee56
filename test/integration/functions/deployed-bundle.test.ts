/**
 * A function as Cloud Functions builds and starts it: its archive (dist/bundles/<name>) copied
 * alone to an empty folder, installed with `npm ci` as the build does (no dev dependencies, no
 * scripts; offline, from the cache the project's own install filled), then served by the
 * functions framework from that folder's node_modules and sent one push. It installs only
 * what its bundle imports, and starts on that alone.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { SAMPLE_FUNCTION_ENV } from '../../../bench/starts.js';
import { TOPICS } from '../../../shared/topology.js';
import { createFirestore } from '../../../shared/gcp/firestore-store.js';
import { COLLECTIONS } from '../../../shared/store/collections.js';
import { messageLedgerKey } from '../../../shared/events/decode.js';

const run = promisify(execFile);
const BUNDLES = fileURLToPath(new URL('../../../dist/bundles/', import.meta.url));
const folders: string[] = [];
const servers: ChildProcess[] = [];

afterAll(async () => {
  for (const server of servers) server.kill('SIGKILL');
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The function's archive, alone in a fresh folder, installed as the Cloud Functions build installs it. */
async function installed(fn: string): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), `mi-${fn}-`));
  folders.push(folder);
  await cp(join(BUNDLES, fn), folder, { recursive: true });
  await run('npm', ['ci', '--offline', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: folder, env: { ...process.env, NODE_ENV: 'production' }, timeout: 120_000 });
  return folder;
}

async function topLevelPackages(folder: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(join(folder, 'node_modules'))) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) for (const scoped of await readdir(join(folder, 'node_modules', entry))) names.push(`${entry}/${scoped}`);
    else names.push(entry);
  }
  return names;
}

/** Starts the functions framework from the folder's own install, as the runtime does, and waits for it to listen. */
async function served(folder: string, fn: string): Promise<number> {
  const port = await freePort();
  const server = spawn(join(folder, 'node_modules', '.bin', 'functions-framework'), [`--target=${fn}`, '--signature-type=cloudevent'], {
    cwd: folder,
    env: { ...process.env, ...SAMPLE_FUNCTION_ENV, GOOGLE_CLOUD_PROJECT: 'demo-deployed-bundle', FUNCTION_TARGET: fn, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.push(server);
  let output = '';
  server.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  server.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  for (let waited = 0; !output.includes('URL: http://'); waited += 100) {
    if (server.exitCode !== null) throw new Error(`the functions framework exited ${server.exitCode}: ${output}`);
    if (waited > 30_000) throw new Error(`the functions framework did not listen within 30 s: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return port;
}

describe('a deployed function', () => {
  it('installs from its own archive only what its bundle imports: no build tool, no library it inlines, no client it holds no right to', async () => {
    const folder = await installed('rollout');
    const declared = Object.keys((JSON.parse(await readFile(join(folder, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
    expect(declared).toEqual(['@google-cloud/firestore', '@google-cloud/functions-framework', '@google-cloud/pubsub', 'google-auth-library']);
    const top = await topLevelPackages(folder);
    for (const absent of ['typescript', 'tsx', 'esbuild', 'vitest', 'zod', 'commander', '@google-cloud/sql', '@google-cloud/cloudbuild', 'googleapis']) expect(top, absent).not.toContain(absent);
    // What the root install holds at these names is what this one holds: the lockfile pinned them.
    const version = async (root: string, name: string) => (JSON.parse(await readFile(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    const project = fileURLToPath(new URL('../../../', import.meta.url));
    for (const name of declared) expect(await version(folder, name), name).toBe(await version(project, name));
  }, 180_000);

  it('starts from its own install and answers a push it cannot read by recording it, not by failing', async () => {
    const folder = await installed('rollout');
    const port = await served(folder, 'rollout');
    const push = {
      subscription: `projects/demo-deployed-bundle/subscriptions/${TOPICS.rollout}--rollout`,
      message: { data: Buffer.from('{"not": "an envelope"}').toString('base64'), messageId: `bundle-${Date.now()}`, publishTime: new Date().toISOString(), attributes: {} },
    };
    const response = await fetch(`http://127.0.0.1:${port}/projects/demo-deployed-bundle/topics/${TOPICS.rollout}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(push) });
    expect(response.status, await response.text()).toBeLessThan(300);
    // Recorded in the ledger of the function's project, as every message it cannot read is.
    const firestore = createFirestore('demo-deployed-bundle');
    const recorded = await firestore.doc(`${COLLECTIONS.ledger}/${messageLedgerKey(push.message.messageId)}`).get();
    await firestore.terminate();
    expect(recorded.data()).toMatchObject({ outcome: 'invalid' });
  }, 180_000);
});

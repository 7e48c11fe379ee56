/**
 * Start times, side by side in one run: the compiled `mi` against bare node scripts doing the
 * same (commander for --version and --help; the Firestore client and the same query for
 * `mi instance list`), and each deployed function's cold start (the functions framework, its
 * own bundle as deployed, its first message's wiring) against the floor of the functions
 * framework plus the Google clients every function builds at start (Firestore, Pub/Sub). Every
 * sample is a fresh process, timed from spawn to exit; the sides alternate. One traced start of
 * each function says which of our modules and which Google clients it loaded.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FUNCTIONS } from '../shared/topology.js';
import { BUNDLE_META_DIR, type BundleInputs } from '../build/bundle-functions.js';
import { compare, interleavedOrder, round, summarize, type Summary } from './stats.js';

const run = promisify(execFile);
const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const MI = fileURLToPath(new URL('../bin/mi.js', import.meta.url));

/** Every variable any function reads, with a valid value: each function takes what it needs. */
export const SAMPLE_FUNCTION_ENV: Readonly<Record<string, string>> = {
  MI_BUILD_LOCATION: 'us-central1',
  MI_BUILD_TOKEN_SECRET: 'projects/p/secrets/mi-github-token/versions/latest',
  MI_APP_IMAGE: 'us-docker.pkg.dev/p/app/server',
  MI_ONCALL_GROUP: 'oncall@example.com',
  MI_CENTRAL_BACKUP_PROJECT: 'mi-central-backups',
  MI_DEPLOYMENT_REPOSITORY: 'example/deployments',
  MI_SCHEDULER_LOCATION: 'us-central1',
  MI_COMMANDS_AUDIENCES: 'https://commands-abc-ew.a.run.app',
  MI_DASHBOARD_AUDIENCES: 'https://dashboard-abc-ew.a.run.app',
  MI_GITHUB_WEBHOOK_SECRET: 'a long random webhook secret',
  MI_GITHUB_TOKEN: 'github-token-stand-in',
  MI_NOTIFY_ROUTES: JSON.stringify({ channels: { oncall: 'https://hooks.slack.com/services/T0/B0/stand-in' }, fallback: 'oncall' }),
  MI_OPSGENIE_KEY: 'opsgenie-key-stand-in',
  METADATA_SERVER_DETECTION: 'none',
};

/** The Google clients (and GitHub's) a function could load; each loads only those it builds. */
export const CLIENT_PACKAGES = ['@google-cloud/firestore', '@google-cloud/pubsub', '@google-cloud/sql', '@google-cloud/cloudbuild', '@google-cloud/scheduler', 'googleapis', '@octokit/rest'] as const;

/** What a traced cold start loaded: our folders (from the bundle's chunks, by what each was built from), and the client packages. */
export interface StartTrace {
  ours: string[];
  clients: string[];
}

/** `shared/engine/lease.ts` is in shared/engine; `functions/lifecycle.ts` in functions/. */
function folderOf(source: string): string | undefined {
  const own = /^(shared|functions)\/(.+)\.ts$/.exec(source);
  if (own === null) return undefined;
  const folder = (own[2] ?? '').split('/').slice(0, -1)[0];
  return folder === undefined ? `${own[1]}/` : `${own[1]}/${folder}`;
}

/** The folders and clients behind the modules a start loaded; `inputs` says what each of the bundle's files holds. */
export function traceOf(modules: readonly string[], inputs: BundleInputs): StartTrace {
  const ours = new Set<string>();
  const clients = new Set<string>();
  for (const url of modules) {
    const bundled = /\/dist\/bundles\/[^/]+\/(.+\.js)$/.exec(url)?.[1];
    for (const source of bundled === undefined ? [] : (inputs[bundled] ?? [])) {
      const folder = folderOf(source);
      if (folder !== undefined) ours.add(folder);
    }
    const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
    if (pkg !== undefined && (CLIENT_PACKAGES as readonly string[]).includes(pkg)) clients.add(pkg);
  }
  return { ours: [...ours].sort(), clients: [...clients].sort() };
}

/** One traced cold start of a function (its bundle; `npm run build` first). */
export async function tracedStart(fn: string, env: NodeJS.ProcessEnv): Promise<StartTrace & { ms: number }> {
  const { stdout } = await run(process.execPath, ['--import', here('./start-scripts/trace-modules.mjs'), here('./start-scripts/function-entry.mjs')], { env: { ...env, FUNCTION_TARGET: fn }, timeout: 60_000 });
  const out = JSON.parse(stdout) as { ms: number; modules: string[] };
  const inputs = JSON.parse(await readFile(join(BUNDLE_META_DIR, `${fn}.json`), 'utf8')) as BundleInputs;
  return { ms: out.ms, ...traceOf(out.modules, inputs) };
}

async function timed(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const began = performance.now();
  await run(process.execPath, [file, ...args], { env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  return performance.now() - began;
}

export interface StartComparison {
  name: string;
  measures: string;
  target: number;
  a: Summary & { label: string };
  b: Summary & { label: string };
  ratio: { p50: number; mean: number };
  pass: boolean;
}

async function sideBySide(name: string, measures: string, target: number, a: { label: string; run: () => Promise<number> }, b: { label: string; run: () => Promise<number> }, samples: number): Promise<StartComparison> {
  const times = { a: [] as number[], b: [] as number[] };
  // One of each first, unmeasured: the file system cache warms for both.
  await a.run();
  await b.run();
  for (const side of interleavedOrder(samples)) times[side].push(await (side === 'a' ? a.run() : b.run()));
  const [sa, sb] = [summarize(times.a), summarize(times.b)];
  const { ratio, pass } = compare(sa, sb, target);
  const rounded = (s: Summary) => ({ n: s.n, p50: round(s.p50), p90: round(s.p90), mean: round(s.mean), min: round(s.min), max: round(s.max) });
  return { name, measures, target, a: { label: a.label, ...rounded(sa) }, b: { label: b.label, ...rounded(sb) }, ratio: { p50: round(ratio.p50), mean: round(ratio.mean) }, pass };
}

export interface StartsResult {
  cli: StartComparison[];
  functions: Array<StartComparison & { trace: StartTrace; clientsUsed: string[] }>;
}

/** The start benchmarks; `projectId` on the emulators named by the environment, holding `instances` instance documents. */
export async function benchStarts(options: { projectId: string; samples: number; log: (text: string) => void }): Promise<StartsResult> {
  const env = { ...process.env, GOOGLE_CLOUD_PROJECT: options.projectId, METADATA_SERVER_DETECTION: 'none' };
  const cli: StartComparison[] = [];
  const floor = here('./start-scripts/bare-commander.mjs');
  for (const args of [['--version'], ['--help']]) {
    options.log(`bench: mi ${args.join(' ')} against node loading commander, ${options.samples} samples per side...`);
    cli.push(await sideBySide(`mi ${args.join(' ')}`, `a fresh process, spawn to exit: bin/mi.js ${args.join(' ')} vs a bare node script loading commander`, 1.5, { label: `mi ${args.join(' ')}`, run: () => timed(MI, args, env) }, { label: 'node + commander', run: () => timed(floor, args, env) }, options.samples));
  }
  options.log(`bench: mi instance list against node loading the Firestore client and running the same query, ${options.samples} samples per side...`);
  cli.push(
    await sideBySide(
      'mi instance list',
      'a fresh process, spawn to exit: bin/mi.js instance list vs a bare node script loading @google-cloud/firestore and listing the instances by id',
      1.5,
      { label: 'mi instance list', run: () => timed(MI, ['--project', options.projectId, 'instance', 'list'], env) },
      { label: 'node + Firestore query', run: () => timed(here('./start-scripts/bare-instance-list.mjs'), [options.projectId], env) },
      options.samples,
    ),
  );

  const functions: StartsResult['functions'] = [];
  const fnEnv = { ...env, ...SAMPLE_FUNCTION_ENV };
  for (const fn of FUNCTIONS) {
    options.log(`bench: cold start of ${fn.name} against the functions framework + Firestore + Pub/Sub, ${options.samples} samples per side...`);
    const comparison = await sideBySide(
      `cold start: ${fn.name}`,
      'a fresh process, spawn to exit: the functions framework, the function\'s bundle (dist/bundles/<name>, as deployed), the first message\'s wiring; vs the functions framework with the Firestore and Pub/Sub clients built',
      1.25,
      { label: fn.name, run: () => timed(here('./start-scripts/function-entry.mjs'), [], { ...fnEnv, FUNCTION_TARGET: fn.name }) },
      { label: 'framework + Firestore + Pub/Sub', run: () => timed(here('./start-scripts/function-floor.mjs'), [], fnEnv) },
      options.samples,
    );
    const traced = await tracedStart(fn.name, fnEnv);
    functions.push({ ...comparison, trace: { ours: traced.ours, clients: traced.clients }, clientsUsed: ['@google-cloud/firestore', '@google-cloud/pubsub'] });
  }
  return { cli, functions };
}

/** The lines `npm run bench` prints for the starts. */
export function formatStarts(result: StartsResult): string[] {
  const row = (c: StartComparison) => `  ${c.name.padEnd(32)} p50 ${String(c.a.p50).padStart(7)} ms vs ${String(c.b.p50).padStart(7)} ms (${c.b.label}): ${c.ratio.p50}x (target <= ${c.target}x) ${c.pass ? 'PASS' : 'FAIL'}`;
  return [
    '',
    'starts (fresh processes, side by side):',
    ...result.cli.map(row),
    ...result.functions.map((f) => `${row(f)}; loads ${f.trace.ours.join(' ')}; clients ${f.trace.clients.join(', ') || 'none'}`),
  ];
}

/**
 * `npm run bench`: the control plane's benchmark figures, written to bench/results.json and
 * summarized on stdout. Starts the Firestore and Pub/Sub emulators (or reuses the ones named by
 * FIRESTORE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST when they answer), works in a project of its
 * own, and stops or cleans up what it started.
 *
 *   BENCH_PAIRS   timed samples per side of each comparison (default 220; the figures need 200)
 *   BENCH_WARMUP  samples per side run first and discarded (default 20)
 *   BENCH_START_SAMPLES  fresh processes per side of each start comparison (default 21)
 *   BENCH_ONLY=starts    only the start figures, merged into bench/results.json
 *
 * Samples run one at a time: the machine is small and shared, and a latency measured under
 * self-made load would say little. The bench is not a test: it asserts nothing about timings,
 * it reports them, with pass or fail against the targets.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { PubSub } from '@google-cloud/pubsub';
import { EMULATOR_HOST_VARIABLE, ensureEmulator, type RunningEmulator } from '../cli/dev/emulators.js';
import { describeError } from '../shared/errors.js';
import { benchAccept, benchAcceptPathOnly } from './accept.js';
import { benchPush } from './push.js';
import { benchRollout, benchTickScaling, formatRolloutSummary, formatTickScaling } from './rollout.js';
import { benchCompliance, formatCompliance } from './compliance.js';
import { benchWebhook } from './webhook.js';
import { benchStarts, formatStarts } from './starts.js';
import { formatSummary, type BenchResults } from './results.js';
import { createBenchWorld } from './world.js';

const RESULTS_FILE = fileURLToPath(new URL('./results.json', import.meta.url));
const MIN_SAMPLES = 200;

function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number, got ${JSON.stringify(raw)}`);
  return value;
}

/** Removes the benchmark's documents from an emulator that outlives it (one it did not start). */
async function wipeFirestoreProject(host: string, projectId: string): Promise<void> {
  await fetch(`http://${host}/emulator/v1/projects/${projectId}/databases/(default)/documents`, { method: 'DELETE', signal: AbortSignal.timeout(10_000) });
}

/** Removes the benchmark's topics from an emulator that outlives it. */
async function deleteTopics(projectId: string): Promise<void> {
  const pubsub = new PubSub({ projectId });
  try {
    const [topics] = await pubsub.getTopics();
    await Promise.allSettled(topics.map((topic) => topic.delete()));
  } finally {
    await pubsub.close();
  }
}

/** `count` instance documents in a project of their own, for `mi instance list` to list. */
async function seedInstances(projectId: string, count: number): Promise<void> {
  const { createFirestore, createFirestoreStore } = await import('../shared/gcp/firestore-store.js');
  const firestore = createFirestore(projectId);
  const store = createFirestoreStore({ firestore });
  const [{ customerInstance }, { resourceNamesFor }] = await Promise.all([import('../harness/instances.js'), import('../shared/domain/lifecycle/resource-names.js')]);
  const at = new Date().toISOString();
  for (let i = 0; i < count; i += 1) await store.set(`instances/cus-start-${i}`, customerInstance(`cus-start-${i}`, 'us-central1', resourceNamesFor(`cus-start-${i}`, 'us-central1'), at));
  await firestore.terminate();
}

async function main(): Promise<void> {
  const began = Date.now();
  const pairs = positiveInteger('BENCH_PAIRS', 220);
  const warmup = positiveInteger('BENCH_WARMUP', 20);
  if (pairs < MIN_SAMPLES) process.stderr.write(`bench: BENCH_PAIRS=${pairs} is below the ${MIN_SAMPLES} samples the figures call for\n`);
  // Otherwise the Google clients probe the GCE metadata server and print warnings.
  process.env.METADATA_SERVER_DETECTION ??= 'none';

  const emulators: RunningEmulator[] = [];
  const projectId = `demo-bench-${randomBytes(3).toString('hex')}`;
  let world: Awaited<ReturnType<typeof createBenchWorld>> | undefined;
  try {
    process.stdout.write('bench: starting (or reusing) the Firestore and Pub/Sub emulators...\n');
    const [firestore, pubsub] = await Promise.all([ensureEmulator('firestore'), ensureEmulator('pubsub')]);
    emulators.push(firestore, pubsub);
    process.env[EMULATOR_HOST_VARIABLE.firestore] = firestore.host;
    process.env[EMULATOR_HOST_VARIABLE.pubsub] = pubsub.host;

    if (process.env.BENCH_ONLY === 'starts') {
      // Only the start figures, merged into the results of the last full run.
      await seedInstances(`${projectId}-st`, 10);
      const starts = await benchStarts({ projectId: `${projectId}-st`, samples: positiveInteger('BENCH_START_SAMPLES', 21), log: (text) => process.stdout.write(`${text}\n`) });
      const previous = JSON.parse(await readFile(RESULTS_FILE, 'utf8').catch(() => '{}')) as Record<string, unknown>;
      await writeFile(RESULTS_FILE, `${JSON.stringify({ ...previous, starts, startsGeneratedAt: new Date().toISOString() }, null, 2)}\n`);
      process.stdout.write(`${formatStarts(starts).join('\n')}\n`);
      return;
    }
    world = await createBenchWorld(projectId);
    process.stdout.write(`bench: (a) and (b), ${pairs} + ${warmup} warm-up samples per side...\n`);
    const accept = await benchAccept(world, { pairs, warmup });
    process.stdout.write(`bench: (a') diagnostic, ${pairs} + ${warmup} warm-up samples per side...\n`);
    const acceptOnly = await benchAcceptPathOnly(world, { pairs, warmup });
    process.stdout.write(`bench: (c), ${pairs} + ${warmup} warm-up samples per side...\n`);
    const push = await benchPush(world, { pairs, warmup });
    process.stdout.write(`bench: githubWebhook, a signed push of 1,000 changed files, ${pairs} + ${warmup} warm-up samples...\n`);
    const webhook = await benchWebhook(world, { pairs, warmup });
    process.stdout.write(`bench: githubWebhook p50 ${webhook.a.p50} ms (p90 ${webhook.a.p90} ms) for a signed push listing 1,000 changed files\n`);

    process.stdout.write('bench: (d) a rollout of 2,000 simulated instances...\n');
    const rollout = await benchRollout(`${projectId}-ro`, (text) => process.stdout.write(`${text}\n`));
    const tickScaling = await benchTickScaling(`${projectId}-ts`, (text) => process.stdout.write(`${text}\n`));
    process.stdout.write('bench: (e) compliance fan-out of 10,000 instances vs the raw floor, and Firestore operations per check...\n');
    const compliance = await benchCompliance(projectId, { samples: 3 });
    // Last, in a project of their own with the seeded fleet's size: fresh processes, one at a time.
    const startsProject = `${projectId}-st`;
    await seedInstances(startsProject, 10);
    const starts = await benchStarts({ projectId: startsProject, samples: positiveInteger('BENCH_START_SAMPLES', 21), log: (text) => process.stdout.write(`${text}\n`) });

    const cpuList = cpus();
    const results: BenchResults = {
      generatedAt: new Date().toISOString(),
      machine: {
        cpus: cpuList.length,
        cpuModel: cpuList[0]?.model ?? 'unknown',
        node: process.versions.node,
        platform: `${process.platform}-${process.arch}`,
        loadAverage: loadavg().map((n) => Math.round(n * 100) / 100),
      },
      emulators: { firestore: firestore.host, pubsub: pubsub.host, reused: emulators.filter((e) => !e.owned).map((e) => e.kind) },
      durationSeconds: Math.round((Date.now() - began) / 1000),
      benchmarks: [accept.benchmark, push],
      diagnostics: [acceptOnly, webhook],
      counts: accept.counts,
      engineWarnings: world.engineWarnings,
    };
    await writeFile(RESULTS_FILE, `${JSON.stringify({ ...results, rollout, tickScaling, compliance, starts }, null, 2)}\n`);
    process.stdout.write(`\n${formatSummary(results, RESULTS_FILE).join('\n')}\n${formatRolloutSummary(rollout).join('\n')}\n${formatTickScaling(tickScaling).join('\n')}\n${formatCompliance(compliance).join('\n')}\n${formatStarts(starts).join('\n')}\n`);
  } finally {
    await world?.close().catch((error: unknown) => process.stderr.write(`bench: closing the clients: ${describeError(error)}\n`));
    for (const emulator of emulators) {
      if (emulator.owned) {
        await emulator.stop();
      } else if (emulator.kind === 'firestore') {
        await wipeFirestoreProject(emulator.host, projectId).catch(() => undefined);
        await wipeFirestoreProject(emulator.host, `${projectId}-ro`).catch(() => undefined);
        await wipeFirestoreProject(emulator.host, `${projectId}-c`).catch(() => undefined);
        await wipeFirestoreProject(emulator.host, `${projectId}-st`).catch(() => undefined);
      } else {
        await deleteTopics(projectId).catch(() => undefined);
        await deleteTopics(`${projectId}-ro`).catch(() => undefined);
        await deleteTopics(`${projectId}-c`).catch(() => undefined);
      }
    }
  }
}

main().then(
  () => {
    // Client libraries sometimes keep a timer alive after close; do not hang once done.
    setTimeout(() => process.exit(process.exitCode ?? 0), 2_000).unref();
  },
  (error: unknown) => {
    process.stderr.write(`bench: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);

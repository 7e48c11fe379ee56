/**
 * `npm run chaos -- --runs N [--seed S --path P] [--trace]`: runs N chaos schedules on the
 * emulators (started here unless FIRESTORE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST name running
 * ones) and writes the figures to bench/chaos.json (every 50 schedules marked partial, then the
 * whole). Exits 1 on a violation, after printing the shrunk schedule and how to replay it.
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { ensureEmulator, EMULATOR_HOST_VARIABLE } from '../../cli/dev/emulators.js';
import { createChaosContext } from './context.js';
import { checkChaos, describeFailure } from './property.js';

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

const program = new Command('chaos')
  .description('Run the engine chaos suite and write bench/chaos.json')
  .option('--runs <n>', 'how many schedules', positive, 200)
  .option('--seed <n>', 'fast-check seed (to replay a failure)', (v) => Number.parseInt(v, 10))
  .option('--path <path>', 'fast-check path (to replay a failure)')
  .option('--trace', 'print the trace of every schedule')
  .option('--shrink-seconds <n>', 'how long to shrink a failure', positive, 300)
  .option('--out <file>', 'where to write the figures (default bench/chaos.json; a replay with --path, a file in the temporary folder, so it never replaces the record)')
  .parse();
const options = program.opts<{ runs: number; seed?: number; path?: string; trace?: boolean; out?: string; shrinkSeconds: number }>();
const flags = {
  ...options,
  out: options.out ?? (options.path === undefined ? fileURLToPath(new URL('../../bench/chaos.json', import.meta.url)) : join(tmpdir(), `chaos-replay-${options.seed ?? 'any'}.json`)),
};

process.env.METADATA_SERVER_DETECTION = 'none';
const emulators = await Promise.all([ensureEmulator('firestore'), ensureEmulator('pubsub')]);
for (const e of emulators) process.env[EMULATOR_HOST_VARIABLE[e.kind]] = e.host;
const context = await createChaosContext('npm-run-chaos');
let code = 0;
let writes: Promise<void> = Promise.resolve();
try {
  const figures = await checkChaos(context, {
    runs: flags.runs,
    shrinkSeconds: flags.shrinkSeconds,
    ...(flags.seed === undefined ? {} : { seed: flags.seed }),
    ...(flags.path === undefined ? {} : { path: flags.path }),
    onSchedule(index, result, sofar) {
      if (flags.trace) console.log(`schedule ${index}\n${result.trace.join('\n')}\n`);
      if (index % 50 === 0) {
        process.stderr.write(`chaos: ${index} schedules\n`);
        // The figures so far, so a run that is stopped still leaves what it checked (one write at a time).
        const text = `${JSON.stringify({ ...sofar, partial: true, failure: undefined, at: new Date().toISOString() }, null, 2)}\n`;
        writes = writes.then(() => writeFile(flags.out, text)).catch(() => undefined);
      }
    },
  });
  const { failure, ...summary } = figures;
  // After the last partial write, never beside it.
  await writes;
  await writeFile(flags.out, `${JSON.stringify({ ...summary, machine: { cpus: (await import('node:os')).cpus().length, node: process.version }, at: new Date().toISOString(), ...(failure ? { failure: { seed: failure.seed, path: failure.path, violations: failure.violations } } : {}) }, null, 2)}\n`);
  console.log(JSON.stringify(summary, null, 2));
  if (failure) {
    console.error(describeFailure(failure));
    code = 1;
  }
} finally {
  await context.close();
  await Promise.all(emulators.map((e) => e.stop()));
}
process.exit(code);

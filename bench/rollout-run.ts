/**
 * `npx tsx bench/rollout-run.ts [ticks]`: only (d), the 2,000-instance rollout, and (d'), one
 * tick at 1,000 and 10,000 instances (with `ticks`, only (d')), on the emulators the environment
 * names (or new ones); prints their summaries and JSON.
 */
import { randomBytes } from 'node:crypto';
import { EMULATOR_HOST_VARIABLE, ensureEmulator } from '../cli/dev/emulators.js';
import { benchRollout, benchTickScaling, formatRolloutSummary, formatTickScaling } from './rollout.js';

process.env.METADATA_SERVER_DETECTION ??= 'none';
const [firestore, pubsub] = await Promise.all([ensureEmulator('firestore'), ensureEmulator('pubsub')]);
process.env[EMULATOR_HOST_VARIABLE.firestore] = firestore.host;
process.env[EMULATOR_HOST_VARIABLE.pubsub] = pubsub.host;
try {
  const id = randomBytes(3).toString('hex');
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const ticks = await benchTickScaling(`demo-bench-ts-${id}`, log);
  process.stdout.write(`${formatTickScaling(ticks).join('\n')}\n${JSON.stringify(ticks, null, 2)}\n`);
  if (process.argv[2] !== 'ticks') {
    const result = await benchRollout(`demo-bench-ro-${id}`, log);
    process.stdout.write(`${formatRolloutSummary(result).join('\n')}\n${JSON.stringify(result, null, 2)}\n`);
  }
} finally {
  await Promise.all([firestore, pubsub].filter((e) => e.owned).map((e) => e.stop()));
  setTimeout(() => process.exit(0), 1_000).unref();
}

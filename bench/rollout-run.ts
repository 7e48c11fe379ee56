/**
 * `npx tsx bench/rollout-run.ts`: only (d), the 1,000-instance rollout, on the emulators the
 * environment names (or new ones); prints its summary and JSON.
 */
import { randomBytes } from 'node:crypto';
import { EMULATOR_HOST_VARIABLE, ensureEmulator } from '../cli/dev/emulators.js';
import { benchRollout, formatRolloutSummary } from './rollout.js';

process.env.METADATA_SERVER_DETECTION ??= 'none';
const [firestore, pubsub] = await Promise.all([ensureEmulator('firestore'), ensureEmulator('pubsub')]);
process.env[EMULATOR_HOST_VARIABLE.firestore] = firestore.host;
process.env[EMULATOR_HOST_VARIABLE.pubsub] = pubsub.host;
try {
  const result = await benchRollout(`demo-bench-ro-${randomBytes(3).toString('hex')}`, (line) => process.stdout.write(`${line}\n`));
  process.stdout.write(`${formatRolloutSummary(result).join('\n')}\n${JSON.stringify(result, null, 2)}\n`);
} finally {
  await Promise.all([firestore, pubsub].filter((e) => e.owned).map((e) => e.stop()));
  setTimeout(() => process.exit(0), 1_000).unref();
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../cli/dev/emulators.js';
import { createEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { cliEnv, closeCommands, mi, openCommands } from './support.js';

// Nothing listens on the dead port: without the adapters' deadline a call there hangs for minutes.
const DEADLINE_MS = 1_000;
const QUICKLY_MS = 5_000;
let f: EngineFixture;
let dead: string;

beforeAll(async () => {
  f = await createEngineFixture(import.meta.url);
  dead = `127.0.0.1:${await freePort()}`;
  // Its identity file, so that mi gets as far as sending.
  await openCommands(f);
});

afterAll(async () => {
  await closeCommands();
  await f.close();
});

describe('an unreachable backend', () => {
  it('Firestore: exit 3, quickly, saying where it looked and what to do', async () => {
    const run = await mi(f.projectId, ['instance', 'list'], { env: cliEnv({ FIRESTORE_EMULATOR_HOST: dead }), deadlineMs: DEADLINE_MS });
    expect(run).toMatchObject({ code: 3, stdout: '' });
    expect(run.stderr).toBe(`mi: cannot reach Firestore at ${dead} (is \`mi dev\` running? set FIRESTORE_EMULATOR_HOST or GOOGLE_CLOUD_PROJECT)\n`);
    expect(run.elapsedMs).toBeLessThan(QUICKLY_MS);
  });

  it('the commands function: exit 3 after trying again, and the operator learns the same command again is answered once', async () => {
    const inst = await f.seedInstance();
    const run = await mi(f.projectId, ['upgrade', inst.id, '--to', '5.5.0'], { env: cliEnv({ MI_COMMANDS_URL: `http://${dead}/commands` }), deadlineMs: DEADLINE_MS });
    expect(run).toMatchObject({ code: 3, stdout: '' });
    expect(run.stderr).toMatch(
      new RegExp(`^mi: cannot reach the commands function at http://${dead}/commands: .* \\(is \`mi dev\` running\\?\\) — instance.upgrade for ${inst.id} .* may or may not have been recorded; the same command again is answered once\\n$`),
    );
  });

  it('without a project or emulators, says how to choose one (exit 2)', async () => {
    // Not through the helper, which always passes --project.
    const { runCli } = await import('../../../cli/main.js');
    const errors: string[] = [];
    const code = await runCli(['instance', 'list'], { stdout: { write: () => undefined }, stderr: { write: (t: string) => void errors.push(t) }, env: {} });
    expect(code).toBe(2);
    expect(errors.join('')).toContain('no project: pass --project <id> or set GOOGLE_CLOUD_PROJECT');
  });
});

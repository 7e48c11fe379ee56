import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** The two emulators the control plane needs locally, and the variable their clients read. */
export type EmulatorKind = 'firestore' | 'pubsub';

const SDK = process.env.CLOUDSDK_ROOT ?? '/usr/lib/google-cloud-sdk';

const COMMANDS: Record<EmulatorKind, (port: number) => [string, string[]]> = {
  firestore: (port) => [
    `${SDK}/platform/cloud-firestore-emulator/cloud_firestore_emulator`,
    ['start', '--host=127.0.0.1', `--port=${port}`],
  ],
  pubsub: (port) => [
    `${SDK}/platform/pubsub-emulator/bin/cloud-pubsub-emulator`,
    ['--host=127.0.0.1', `--port=${port}`],
  ],
};

export const EMULATOR_HOST_VARIABLE: Record<EmulatorKind, string> = {
  firestore: 'FIRESTORE_EMULATOR_HOST',
  pubsub: 'PUBSUB_EMULATOR_HOST',
};

/** A running emulator: where it listens, and whether stopping it is ours to do. */
export interface RunningEmulator {
  kind: EmulatorKind;
  host: string;
  /** True when this process started it; false when an already running one is reused. */
  owned: boolean;
  stop(): Promise<void>;
}

/** Finds a free loopback port by binding port 0 and releasing it. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True when an emulator answers its root path with 200 `Ok`. */
export async function isEmulatorUp(host: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const response = await fetch(`http://${host}/`, { signal: AbortSignal.timeout(timeoutMs) });
    return response.ok;
  } catch {
    return false;
  }
}

const started = new Set<ChildProcess>();

// Killing only the launcher script would orphan the Java child, so each emulator runs in a
// process group of its own and the whole group is signalled.
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

process.once('exit', () => {
  for (const child of started) killGroup(child, 'SIGKILL');
});

/**
 * Uses the emulator named by its environment variable when one answers there; otherwise
 * starts one on a free loopback port, in its own process group, and waits until it is ready.
 */
export async function ensureEmulator(
  kind: EmulatorKind,
  options: { readyTimeoutMs?: number; reuse?: boolean } = {},
): Promise<RunningEmulator> {
  const configured = process.env[EMULATOR_HOST_VARIABLE[kind]];
  if ((options.reuse ?? true) && configured && (await isEmulatorUp(configured))) {
    return { kind, host: configured, owned: false, stop: async () => {} };
  }
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const [command, args] = COMMANDS[kind](port);
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  started.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      started.delete(child);
      resolve();
    });
    child.once('error', (error) => {
      stderr += String(error);
      exited = true;
      started.delete(child);
      resolve();
    });
  });

  const stop = async (): Promise<void> => {
    if (exited) return;
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5000);
    await exitedPromise;
    clearTimeout(timer);
    // The launcher may exit before its Java child: make sure the group is gone.
    killGroup(child, 'SIGKILL');
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (!(await isEmulatorUp(host, 500))) {
    if (exited) {
      throw new Error(`The ${kind} emulator (${command}) exited before it was ready: ${stderr.trim()}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`The ${kind} emulator did not answer on ${host} in time: ${stderr.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  child.stderr?.removeAllListeners('data');
  child.stderr?.resume();
  return { kind, host, owned: true, stop };
}

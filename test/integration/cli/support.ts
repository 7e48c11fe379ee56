/**
 * Runs `mi` commands in process against the emulators, capturing output and exit codes, with
 * the commands function served on the fixture's world, and plays the lifecycle function for the
 * commands it publishes: a pull subscription on `mi-lifecycle` feeds each message to the
 * fixture's engine while the clock and reconciler move the operation on.
 */
import { randomBytes } from 'node:crypto';
import type { Message, Subscription } from '@google-cloud/pubsub';
import { runCli, type CliIo } from '../../../cli/main.js';
import { parseEnvelope, LIFECYCLE_COMMANDS, type AnyEnvelope } from '../../../shared/events/index.js';
import { TOPICS } from '../../../shared/topology.js';
import { pubSubCloudEvent } from '../../../harness/cloud-event.js';
import { serveCommands, type CommandsServer } from '../../support/commands-server.js';
import { TEST_TIMINGS, type EngineFixture } from '../../support/engine-fixture.js';
import { deliver } from '../../../shared/edge.js';
import { lifecycleRoute } from '../../../shared/routes.js';

export const OPERATOR = 'operator@example.com';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/** A sink that keeps what is written. */
function buffer(): { write(text: string): void; text(): string } {
  const parts: string[] = [];
  return { write: (text) => void parts.push(text), text: () => parts.join('') };
}

let commands: CommandsServer | undefined;

/** Serves the commands function on the fixture's world (its store, bus, clock and fleet) for every `mi` of this file. */
export async function openCommands(f: EngineFixture): Promise<CommandsServer> {
  commands = await serveCommands({ store: f.store, bus: f.bus, clock: f.clock, ...f.fleet.ports() }, { timings: TEST_TIMINGS });
  return commands;
}

export async function closeCommands(): Promise<void> {
  await commands?.close();
  commands = undefined;
}

/** The environment the CLI sees by default: the emulators the harness started, the commands function's key. */
export function cliEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    FIRESTORE_EMULATOR_HOST: process.env.FIRESTORE_EMULATOR_HOST,
    PUBSUB_EMULATOR_HOST: process.env.PUBSUB_EMULATOR_HOST,
    ...(commands === undefined ? {} : { MI_DEV_IDENTITY_FILE: commands.identityFile }),
    ...overrides,
  };
}

/** Runs `mi --project <projectId> …args` in process. */
export async function mi(projectId: string, args: readonly string[], io: Partial<CliIo> = {}): Promise<CliRun> {
  const stdout = buffer();
  const stderr = buffer();
  const started = Date.now();
  const code = await runCli(['--project', projectId, ...args], {
    env: cliEnv(),
    localOperator: () => OPERATOR,
    pollIntervalMs: 25,
    ...io,
    stdout,
    stderr,
  });
  return { code, stdout: stdout.text(), stderr: stderr.text(), elapsedMs: Date.now() - started };
}

/** What the CLI published on mi-lifecycle, as the lifecycle function receives it. */
export interface Published {
  envelope: AnyEnvelope;
  message: Message;
}

/** A pull subscription on mi-lifecycle that keeps every message the CLI publishes. */
export class LifecycleTap {
  private readonly queue: Published[] = [];
  private readonly waiters: Array<() => void> = [];

  private constructor(private readonly subscription: Subscription) {
    subscription.on('message', (message: Message) => {
      message.ack();
      // Every message must be a valid lifecycle envelope: parseEnvelope throws otherwise.
      const envelope = parseEnvelope(JSON.parse(message.data.toString('utf8')), LIFECYCLE_COMMANDS);
      this.queue.push({ envelope, message });
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  /** Subscribes (from now on) to the fixture project's mi-lifecycle. */
  static async open(f: EngineFixture): Promise<LifecycleTap> {
    const [subscription] = await f.pubsub.topic(TOPICS.lifecycle).createSubscription(`cli-test-${randomBytes(4).toString('hex')}`);
    return new LifecycleTap(subscription);
  }

  /** Messages received and not yet taken. */
  take(): Published[] {
    return this.queue.splice(0);
  }

  /** The next message for this event id, waiting for it to arrive. */
  async next(eventId: string, timeoutMs = 10_000): Promise<Published> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.queue.findIndex((p) => p.envelope.eventId === eventId);
      const [found] = index >= 0 ? this.queue.splice(index, 1) : [];
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message for event ${eventId} on mi-lifecycle`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    await this.subscription.close();
    await this.subscription.delete();
  }
}

/** The CloudEvent the functions framework would hand the lifecycle function for a pulled message. */
export function deliveryOf(published: Published, projectId: string) {
  const { message } = published;
  return pubSubCloudEvent(
    { raw: message.data.toString('base64') },
    {
      project: projectId,
      topic: TOPICS.lifecycle,
      message: { messageId: message.id, attributes: message.attributes, publishTime: message.publishTime.toISOString() },
    },
  );
}

/**
 * Plays the rest of the system while `running` (a CLI command) is pending: hands each
 * published command to the engine (after `beforeHandling`, which may change the world first),
 * moves the clock, delivers executor results and reconciles.
 */
export async function driveWhile<T>(
  f: EngineFixture,
  tap: LifecycleTap,
  running: Promise<T>,
  options: { stepMs?: number; beforeHandling?: (published: Published) => Promise<void> } = {},
): Promise<T> {
  let settled = false;
  const watched = running.finally(() => {
    settled = true;
  });
  while (!settled) {
    for (const published of tap.take()) {
      await options.beforeHandling?.(published);
      await deliver(f.engine.deps, lifecycleRoute(f.engine), deliveryOf(published, f.projectId));
    }
    f.clock.advance(options.stepMs ?? 10_000);
    await f.deliverExecutorResults();
    await f.engine.reconcile({ outboxGraceMs: 0 });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return watched;
}

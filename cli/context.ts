/**
 * What every command is given: where to write, the environment, and the backend of this
 * invocation. Tests pass their own, so commands run in process with captured output.
 */
import type { Command } from 'commander';
import { createBackend, localOperator, resolveProjectId, type Backend, type CliEnv } from './backend.js';
import type { ExitCode } from './config.js';
import type { TextSink } from './output.js';
import { instanceHere } from './working-instance.js';

export interface CliIo {
  stdout: TextSink;
  stderr: TextSink;
  env: CliEnv;
  /** How often --wait reads the operation (default 500 ms); tests shorten it. */
  pollIntervalMs?: number;
  /** Deadline of each Firestore or Pub/Sub call (default: the adapters' 5 s). */
  deadlineMs?: number;
  /** Documents per page of `mi instance list` (tests shrink it to exercise paging). */
  pageSize?: number;
  /** Where mi runs (default the process's): inside an instance's folder, instance commands take that instance. */
  cwd?: string;
  /** The local stack's operator, when the test does not want git consulted. */
  localOperator?: () => string;
  /** Ends a command that runs until Ctrl-C (`mi dashboard`) as Ctrl-C would: tests abort it. */
  interrupt?: AbortSignal;
}

export interface CliContext {
  io: CliIo;
  /** The backend for the project the global flags and env name; built on first use. */
  backend(command: Command): Backend;
  /**
   * Who signs the local stack's tokens when `--as` is not given. Only local mode asks: in the
   * cloud the caller is whoever the Google credentials are, and nothing in mi says otherwise.
   */
  localOperator(): string;
  /** The instance whose folder of the deployment repository mi runs in, if any. */
  instanceHere(): string | undefined;
  /** The exit code the command's action chose. */
  exitCode: ExitCode;
  /** Closes what the invocation opened. */
  close(): Promise<void>;
}

/** The context of one invocation. */
export function createContext(io: CliIo): CliContext {
  let backend: Backend | undefined;
  return {
    io,
    exitCode: 0,
    backend(command) {
      if (backend === undefined) {
        const { project } = command.optsWithGlobals<{ project?: string }>();
        backend = createBackend({
          projectId: resolveProjectId(project, io.env),
          env: io.env,
          ...(io.deadlineMs === undefined ? {} : { deadlineMs: io.deadlineMs }),
        });
      }
      return backend;
    },
    localOperator: () => (io.localOperator ? io.localOperator() : localOperator(io.env)),
    instanceHere: () => instanceHere(io.cwd ?? process.cwd())?.instanceId,
    async close() {
      await backend?.close();
    },
  };
}

import { EXIT, type ExitCode } from './config.js';

/** A failure the CLI reports as one message and an exit code, without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
  }
}

/** The request was invalid or refused before anything was done (exit 2). */
export function refused(message: string, cause?: unknown): CliError {
  return new CliError(message, EXIT.refused, cause === undefined ? {} : { cause });
}

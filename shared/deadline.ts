import { ControlPlaneError } from './errors.js';

/** The deadline every adapter call gets unless it says otherwise. */
export const DEFAULT_DEADLINE_MS = 5_000;

/**
 * Settles with the call, or fails retryably once `ms` have passed: a call to a dead
 * emulator or service otherwise hangs for minutes instead of failing.
 */
export async function withDeadline<T>(
  what: string,
  call: () => Promise<T>,
  ms: number = DEFAULT_DEADLINE_MS,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ControlPlaneError('deadline-exceeded', `${what} did not answer within ${ms} ms`, {
            details: { deadlineMs: ms },
          }),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([call(), expired]);
  } finally {
    clearTimeout(timer);
  }
}

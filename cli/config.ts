/**
 * Settings the `mi` command and the local stack (`mi dev`) share, defined once.
 */

/** The project id of local mode: the emulators accept any id, and a `demo-` prefix never reaches Google. */
export const LOCAL_PROJECT_ID = 'demo-mi-local';

/** The reason recorded with a command when the operator gives none. */
export const DEFAULT_REASON = 'requested with mi';

/** How long `--wait` waits for an operation unless told otherwise. */
export const DEFAULT_WAIT_TIMEOUT = '30m';

/** How often `--wait` reads the operation. */
export const DEFAULT_POLL_INTERVAL_MS = 500;

/** Documents per page when `mi instance list` reads the fleet. */
export const DEFAULT_PAGE_SIZE = 300;

/**
 * Exit codes, so scripts can tell "it failed" from "you asked wrongly" from "nothing answered".
 * 0: done (with --wait: the operation succeeded).
 */
export const EXIT = {
  ok: 0,
  /** The operation did not succeed (failed, abandoned, rejected), or an unexpected error. */
  failed: 1,
  /** Nothing was done: invalid flags or arguments, or refused up front (unknown instance, not-newer version, busy). */
  refused: 2,
  /** Firestore or Pub/Sub could not be reached, or refused the credentials. */
  unreachable: 3,
  /** --wait gave up: the operation was still going when --timeout passed. */
  timedOut: 4,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

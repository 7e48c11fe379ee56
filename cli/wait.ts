/**
 * `--wait`: follows an operation the CLI just asked for. The operation id is known up front
 * (`op-<eventId>`), so this polls `operations/<id>` until it appears — or until the ledger
 * entry of the event says the lifecycle function rejected it — then prints each step's status
 * changes as they happen, and ends with the operation's own outcome.
 */
import type { OperationRecord } from '../shared/domain/lifecycle/operations.js';
import { type LedgerEntry } from '../shared/engine/index.js';
import type { StateStore } from '../shared/ports.js';
import { EXIT, type ExitCode } from './config.js';
import { CliError } from './errors.js';
import { StepProgress, elapsedText, isFinal, line, operationOutcome, type TextSink } from './output.js';
import { paths } from '../shared/store/collections.js';

export interface WaitOptions {
  operationId: string;
  eventId: string;
  timeoutMs: number;
  pollIntervalMs: number;
  /** Where progress goes; nothing is printed when absent (--json). */
  progress?: TextSink;
}

export type WaitResult =
  | { kind: 'ended'; exitCode: ExitCode; operation: OperationRecord }
  | { kind: 'rejected'; exitCode: ExitCode; ledger: LedgerEntry }
  | { kind: 'timed-out'; exitCode: ExitCode; operation: OperationRecord | undefined };

/** Consecutive failed readings tolerated before giving up: one lost read should not end a long wait. */
const TOLERATED_FAILURES = 3;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Follows the operation until it ends, is rejected, or the timeout passes. */
export async function waitForOperation(store: StateStore, options: WaitOptions): Promise<WaitResult> {
  const { operationId, eventId, progress } = options;
  const started = Date.now();
  const tracker = new StepProgress();
  let last: OperationRecord | undefined;
  let failures = 0;
  for (;;) {
    try {
      const [operation, ledger] = await Promise.all([
        store.get<OperationRecord>(paths.operation(operationId)),
        // Only needed until the operation exists: a rejection leaves no operation behind.
        last === undefined ? store.get<LedgerEntry>(paths.ledger(eventId)) : Promise.resolve(undefined),
      ]);
      failures = 0;
      if (operation !== undefined) {
        last = operation;
        if (progress) for (const text of tracker.observe(operation)) line(progress, text);
        if (isFinal(operation.status)) {
          if (progress) line(progress, operationOutcome(operation));
          return { kind: 'ended', exitCode: operation.status === 'succeeded' ? EXIT.ok : EXIT.failed, operation };
        }
      } else if (ledger !== undefined && ledger.outcome !== 'accepted') {
        if (progress) line(progress, `rejected (${ledger.code ?? ledger.outcome}): ${ledger.reason ?? 'no reason recorded'}`);
        return { kind: 'rejected', exitCode: EXIT.failed, ledger };
      }
    } catch (error) {
      failures += 1;
      if (failures >= TOLERATED_FAILURES || !(error instanceof CliError)) throw error;
    }
    if (Date.now() - started >= options.timeoutMs) {
      if (progress) {
        const waited = elapsedText(new Date(started).toISOString(), new Date().toISOString());
        line(
          progress,
          last === undefined
            ? `gave up after ${waited}: operation ${operationId} has not appeared (is the lifecycle function running? mi op get ${operationId} tells later)`
            : `gave up after ${waited}: operation ${operationId} is still ${last.status} (it goes on; follow it with mi op get ${operationId})`,
        );
      }
      return { kind: 'timed-out', exitCode: EXIT.timedOut, operation: last };
    }
    await sleep(options.pollIntervalMs);
  }
}

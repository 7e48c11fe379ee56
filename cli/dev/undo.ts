/**
 * What a start of the local stack did, undone in reverse order: by `stop()`, and by a start
 * that fails part-way, so nothing it started is left behind.
 */
import { describeError } from '../../shared/errors.js';

export interface UndoStack {
  /** Records how to undo one thing just done. */
  push(what: string, run: () => Promise<void>): void;
  /** Undoes everything, last first; a step that fails is logged and the rest still run. Safe to call twice. */
  stop(): Promise<void>;
}

/** An empty undo stack; `log` hears of the steps that could not be undone. */
export function createUndoStack(log: (line: string) => void): UndoStack {
  const steps: Array<{ what: string; run: () => Promise<void> }> = [];
  let stopping: Promise<void> | undefined;
  const undoAll = async (): Promise<void> => {
    const errors: string[] = [];
    for (const step of steps.reverse()) {
      try {
        await step.run();
      } catch (error) {
        errors.push(`${step.what}: ${describeError(error)}`);
      }
    }
    steps.length = 0;
    if (errors.length > 0) log(`stop: could not cleanly ${errors.join('; ')}`);
  };
  return {
    push: (what, run) => void steps.push({ what, run }),
    stop: () => (stopping ??= undoAll()),
  };
}

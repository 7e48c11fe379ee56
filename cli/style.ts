/**
 * Colour and in-place redraw, only where a person watches: the sink is a terminal, NO_COLOR is
 * unset (https://no-color.org) and TERM is not dumb. Anywhere else (a pipe, a file, a test's
 * buffer) the same text, plain, one frame after another.
 */
import { createLogUpdate } from 'log-update';
import picocolors from 'picocolors';
import { PLAIN_VIEW, type ViewPaint } from '../shared/rollout/status.js';
import type { CliEnv } from './backend.js';
import type { TextSink } from './output.js';

/** What a rendering may paint (the views' own type): identity when colour is off. */
export type Paint = ViewPaint;

/** Whether the sink is a terminal a person reads. */
export function isTerminal(sink: TextSink): boolean {
  return sink.isTTY === true;
}

/** Whether to colour what goes to the sink. */
export function colourOn(sink: TextSink, env: CliEnv): boolean {
  const noColor = env.NO_COLOR;
  return isTerminal(sink) && (noColor === undefined || noColor === '') && env.TERM !== 'dumb';
}

export function paintFor(sink: TextSink, env: CliEnv): Paint {
  if (!colourOn(sink, env)) return PLAIN_VIEW;
  const c = picocolors.createColors(true);
  return { ok: c.green, warn: c.yellow, bad: c.red, dim: c.dim, strong: c.bold };
}

/** Shows successive frames of a view: redrawn in place on a terminal, else one after another. */
export interface Frames {
  show(lines: readonly string[]): void;
  /** Leaves the last frame on the screen. */
  done(): void;
}

export function framesFor(sink: TextSink): Frames {
  if (!isTerminal(sink)) {
    let first = true;
    return {
      show(lines) {
        sink.write(`${first ? '' : '\n'}${lines.join('\n')}\n`);
        first = false;
      },
      done: () => undefined,
    };
  }
  const update = createLogUpdate(sink as unknown as NodeJS.WriteStream, { showCursor: true });
  return { show: (lines) => update(lines.join('\n')), done: () => update.done() };
}

/**
 * Colour and redraw are for a person at a terminal only: a pipe, a file or NO_COLOR gets the
 * same words plain; on a terminal a watched view is redrawn in place, not printed again below.
 */
import { describe, expect, it } from 'vitest';
import { colourOn, framesFor, paintFor } from '../../../cli/style.js';
import { renderRolloutView, type RolloutView } from '../../../shared/rollout/status.js';
import type { RolloutRecord } from '../../../shared/domain/rollout/index.js';

const ESC = '\u001b[';
function sink(isTTY: boolean) {
  let text = '';
  return { write: (t: string) => ((text += t), true), isTTY, columns: 120, rows: 40, text: () => text };
}

const view: RolloutView = {
  rollout: {
    id: 'ro-1',
    targetVersion: '5.5.0',
    status: 'halted',
    actor: 'alice@example.com',
    reason: 'monthly',
    createdAt: '2026-12-01T10:00:00.000Z',
    lastTickAt: '2026-12-01T10:05:00.000Z',
    completedAt: null,
    waves: [{ name: 'dev', maxInFlight: 3, failureBudget: { percent: 0, min: 0 }, soakMs: 0, manualGate: false }],
    waveStates: [{ status: 'running' }],
    halt: { wave: 'dev', reason: 'dev-a failed', failed: ['dev-a'], at: '2026-12-01T10:05:00.000Z' },
  } as unknown as RolloutRecord,
  waves: [{ wave: 'dev', total: 10, succeeded: 4, failed: 1, inFlight: 3, skipped: 0, waiting: 2, budget: 0, status: 'running' }] as RolloutView['waves'],
  failures: [],
};

describe('colour', () => {
  it('is on only for a terminal, without NO_COLOR, and not for TERM=dumb', () => {
    expect(colourOn(sink(true), {})).toBe(true);
    expect(colourOn(sink(false), {})).toBe(false);
    expect(colourOn(sink(true), { NO_COLOR: '1' })).toBe(false);
    expect(colourOn(sink(true), { TERM: 'dumb' })).toBe(false);
  });

  it('paints the same words: stripped of colour, a painted view is the plain one', () => {
    const plain = renderRolloutView(view, new Date('2026-12-01T10:06:00Z'));
    const painted = renderRolloutView(view, new Date('2026-12-01T10:06:00Z'), paintFor(sink(true), {}));
    expect(plain.join('\n')).not.toContain(ESC);
    expect(painted.join('\n')).toContain(ESC);
    // eslint-disable-next-line no-control-regex
    expect(painted.map((l) => l.replace(/\u001b\[[0-9;]*m/g, ''))).toEqual(plain);
  });

  it('shows a wave with upgrades in flight apart from one that is done', () => {
    const [, , , , wave] = renderRolloutView(view, new Date('2026-12-01T10:06:00Z'));
    // 5 of 10 done (#), 3 in flight (>), 2 waiting (-), on 24 cells.
    expect(wave).toContain(`[${'#'.repeat(12)}${'>'.repeat(7)}${'-'.repeat(5)}]`);
    const oneFlying = renderRolloutView({ ...view, waves: [{ ...view.waves[0], total: 100, succeeded: 99, failed: 0, inFlight: 1, waiting: 0 }] }, new Date());
    expect(oneFlying[4]).toContain(`[${'#'.repeat(23)}>]`);
  });
});

describe('frames', () => {
  it('on a terminal, the next frame erases the last in place', () => {
    const out = sink(true);
    const frames = framesFor(out);
    frames.show(['a', 'b']);
    const first = out.text().length;
    frames.show(['a', 'c']);
    frames.done();
    const second = out.text().slice(first);
    expect(second).toContain(`${ESC}2K`);
    expect(second).toContain('c');
  });

  it('elsewhere, frames follow one another, a blank line apart, with no control sequence', () => {
    const out = sink(false);
    const frames = framesFor(out);
    frames.show(['a', 'b']);
    frames.show(['a', 'c']);
    frames.done();
    expect(out.text()).toBe('a\nb\n\na\nc\n');
  });
});

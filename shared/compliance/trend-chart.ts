/**
 * The report's trend as a picture: one stacked bar per day of the period (passed, failed, not
 * checked), a day without a run drawn as an empty crossed box, and a mark over a day whose
 * schedules control failed. Inline SVG, no script, patterns as well as colours so that it still
 * reads printed in black and white.
 */
import type { TrendRow } from './report.js';

export interface ChartDay {
  day: string;
  /** The run the day is drawn from; null for a day without one. */
  runId: string | null;
  passed: number;
  failed: number;
  notChecked: number;
  /** The day's schedules finding did not pass (or was missing). */
  scheduleMiss: boolean;
  /** No verify-backups run that day: a finding of its own. */
  noRun: boolean;
}

const DAY_MS = 86_400_000;

/** The days from `from` through `to`, each from its latest run (a scheduled run before a manual one of the same day). */
export function chartDays(trend: readonly TrendRow[], from: string, to: string): ChartDay[] {
  const byDay = new Map<string, TrendRow>();
  for (const row of [...trend].sort((a, b) => (a.slotStart < b.slotStart ? -1 : 1))) {
    const day = row.slotStart.slice(0, 10);
    const held = byDay.get(day);
    if (held === undefined || row.trigger === 'schedule' || held.trigger === 'manual') byDay.set(day, row);
  }
  const days: ChartDay[] = [];
  for (let t = Date.parse(`${from}T00:00:00.000Z`); t <= Date.parse(`${to}T00:00:00.000Z`); t += DAY_MS) {
    const day = new Date(t).toISOString().slice(0, 10);
    const row = byDay.get(day);
    days.push(
      row === undefined
        ? { day, runId: null, passed: 0, failed: 0, notChecked: 0, scheduleMiss: false, noRun: true }
        : { day, runId: row.runId, passed: row.summary.passed, failed: row.summary.failed, notChecked: row.summary.notChecked, scheduleMiss: row.summary.schedules !== 'pass', noRun: false },
    );
  }
  return days;
}

const PLOT = { left: 44, top: 16, height: 160, bottom: 44 };

/** The chart as an `<svg>` element; every number it shows is also in the table beside it. */
export function trendChartSvg(days: readonly ChartDay[]): string {
  const bar = Math.max(6, Math.min(28, Math.floor(720 / Math.max(1, days.length))));
  const width = PLOT.left + days.length * bar + 16;
  const legendY = PLOT.top + PLOT.height + PLOT.bottom;
  const height = legendY + 24;
  const max = Math.max(1, ...days.map((d) => d.passed + d.failed + d.notChecked));
  const scale = (n: number) => (n / max) * PLOT.height;
  const base = PLOT.top + PLOT.height;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="trend-chart" role="img" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" aria-label="Per day: instances passed, failed and not checked; days without a run; days whose schedules failed">`,
    '<defs>',
    '<pattern id="hatch-failed" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#c62828"/><line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2"/></pattern>',
    '<pattern id="dots-not-checked" width="5" height="5" patternUnits="userSpaceOnUse"><rect width="5" height="5" fill="#f9a825"/><circle cx="2.5" cy="2.5" r="1.2" fill="#000"/></pattern>',
    '</defs>',
    `<line x1="${PLOT.left}" y1="${base}" x2="${width - 8}" y2="${base}" stroke="#000"/>`,
    `<line x1="${PLOT.left}" y1="${PLOT.top}" x2="${PLOT.left}" y2="${base}" stroke="#000"/>`,
    `<text x="${PLOT.left - 4}" y="${PLOT.top + 4}" text-anchor="end" font-size="10">${max}</text>`,
    `<text x="${PLOT.left - 4}" y="${base}" text-anchor="end" font-size="10">0</text>`,
  ];
  const labelEvery = Math.max(1, Math.ceil(days.length / 10));
  days.forEach((d, i) => {
    const x = PLOT.left + i * bar + 1;
    const w = bar - 2;
    const title = d.noRun ? `${d.day}: no verify-backups run` : `${d.day}: ${d.passed} passed, ${d.failed} failed, ${d.notChecked} not checked${d.scheduleMiss ? '; schedules failed' : ''}`;
    parts.push(`<g class="day" data-day="${d.day}"><title>${title}</title>`);
    if (d.noRun) {
      parts.push(`<rect class="no-run" x="${x}" y="${PLOT.top}" width="${w}" height="${PLOT.height}" fill="none" stroke="#555" stroke-dasharray="3 2"/>`, `<path d="M${x} ${PLOT.top}L${x + w} ${base}M${x + w} ${PLOT.top}L${x} ${base}" stroke="#555"/>`);
    } else {
      let y = base;
      for (const [kind, n, fill] of [['passed', d.passed, '#2e7d32'], ['failed', d.failed, 'url(#hatch-failed)'], ['not-checked', d.notChecked, 'url(#dots-not-checked)']] as const) {
        const h = scale(n);
        if (h <= 0) continue;
        y -= h;
        parts.push(`<rect class="${kind}" x="${x}" y="${y.toFixed(1)}" width="${w}" height="${h.toFixed(1)}" fill="${fill}" stroke="#000" stroke-width="0.5"/>`);
      }
    }
    if (d.scheduleMiss) parts.push(`<path class="schedule-miss" d="M${x + w / 2} ${PLOT.top - 2}l-4 -8h8z" fill="#000"/>`);
    parts.push('</g>');
    if (i % labelEvery === 0) parts.push(`<text x="${x + w / 2}" y="${base + 12}" font-size="9" text-anchor="end" transform="rotate(-45 ${x + w / 2} ${base + 12})">${d.day.slice(5)}</text>`);
  });
  const legend: Array<[string, string]> = [
    ['#2e7d32', 'passed'],
    ['url(#hatch-failed)', 'failed'],
    ['url(#dots-not-checked)', 'not checked'],
  ];
  legend.forEach(([fill, label], i) => {
    const x = PLOT.left + i * 110;
    parts.push(`<rect x="${x}" y="${legendY}" width="12" height="12" fill="${fill}" stroke="#000" stroke-width="0.5"/><text x="${x + 16}" y="${legendY + 10}" font-size="11">${label}</text>`);
  });
  const x = PLOT.left + legend.length * 110;
  parts.push(
    `<rect x="${x}" y="${legendY}" width="12" height="12" fill="none" stroke="#555" stroke-dasharray="3 2"/><text x="${x + 16}" y="${legendY + 10}" font-size="11">no run</text>`,
    `<path d="M${x + 106} ${legendY + 12}l-4 -8h8z" fill="#000"/><text x="${x + 114}" y="${legendY + 10}" font-size="11">schedules failed</text>`,
    '</svg>',
  );
  return parts.join('');
}

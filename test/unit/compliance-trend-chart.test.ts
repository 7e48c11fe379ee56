import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../../shared/compliance/model.js';
import type { TrendRow } from '../../shared/compliance/report.js';
import { chartDays, trendChartSvg } from '../../shared/compliance/trend-chart.js';

function row(slotStart: string, counts: Partial<RunSummary>, trigger: TrendRow['trigger'] = 'schedule'): TrendRow {
  const summary: RunSummary = { planned: 10, checked: 10, passed: 10, failed: 0, skipped: 0, notChecked: 0, notPlanned: 0, notCheckedIds: [], notPlannedIds: [], complete: true, problems: [], schedules: 'pass', computedAt: slotStart, ...counts };
  return { runId: `verify-backups-${slotStart}`, trigger, slotStart, summary };
}

describe('the trend chart of the HTML report', () => {
  const trend = [
    row('2026-11-01T02:00:00.000Z', { passed: 9, failed: 1 }),
    row('2026-11-02T02:00:00.000Z', { passed: 7, failed: 1, notChecked: 2, schedules: 'fail' }),
    // A manual run later the same day does not replace the scheduled one.
    row('2026-11-02T15:00:00.000Z', { passed: 10 }, 'manual'),
    row('2026-11-04T02:00:00.000Z', { passed: 10 }),
  ];

  it('has one day per day of the period, each from its scheduled run, and a day without a run as such', () => {
    const days = chartDays(trend, '2026-11-01', '2026-11-05');
    expect(days.map((d) => d.day)).toEqual(['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04', '2026-11-05']);
    expect(days[1]).toEqual({ day: '2026-11-02', runId: 'verify-backups-2026-11-02T02:00:00.000Z', passed: 7, failed: 1, notChecked: 2, scheduleMiss: true, noRun: false });
    expect(days.filter((d) => d.noRun).map((d) => d.day)).toEqual(['2026-11-03', '2026-11-05']);
  });

  it('draws what the days hold: a bar segment per count, a crossed box per missed day, a mark per schedules failure', () => {
    const svg = trendChartSvg(chartDays(trend, '2026-11-01', '2026-11-05'));
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<g class="day"/g)).toHaveLength(5);
    expect(svg.match(/class="no-run"/g)).toHaveLength(2);
    expect(svg.match(/<path class="schedule-miss"/g)).toHaveLength(1);
    expect(svg.match(/<rect class="failed"/g)).toHaveLength(2);
    expect(svg.match(/<rect class="not-checked"/g)).toHaveLength(1);
    expect(svg).toContain('<title>2026-11-02: 7 passed, 1 failed, 2 not checked; schedules failed</title>');
    expect(svg).toContain('<title>2026-11-03: no verify-backups run</title>');
  });

  it('scales bars to the largest day: a day of 10 reaches the top, a day of 5 half of it', () => {
    const svg = trendChartSvg(chartDays([row('2026-11-01T02:00:00.000Z', { passed: 10 }), row('2026-11-02T02:00:00.000Z', { passed: 5 })], '2026-11-01', '2026-11-02'));
    const heights = [...svg.matchAll(/<rect class="passed" [^>]*height="([0-9.]+)"/g)].map((m) => Number(m[1]));
    expect(heights).toEqual([160, 80]);
  });
});

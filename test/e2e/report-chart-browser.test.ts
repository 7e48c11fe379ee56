/**
 * The report's trend chart as people see it: drawn by Chromium on screen and for print, each
 * day's bar where its counts put it, a missed day crossed. The screenshot is kept as an artefact
 * (and in docs/screenshots by `npm run screenshots`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../shared/compliance/model.js';
import type { TrendRow } from '../../shared/compliance/report.js';
import { chartDays, trendChartSvg } from '../../shared/compliance/trend-chart.js';
import { chromiumPresent, launchBrowser, NO_CHROMIUM, type TestBrowser } from '../support/browser.js';

if (!chromiumPresent) process.stderr.write(`report chart browser tests skipped: ${NO_CHROMIUM}\n`);

/** Thirty days of a 40-instance fleet: a few failures, a day with two instances not checked, a missed day, a paused schedule. */
function month(): TrendRow[] {
  const rows: TrendRow[] = [];
  for (let d = 1; d <= 30; d += 1) {
    if (d === 17) continue;
    const day = `2026-11-${String(d).padStart(2, '0')}`;
    const failed = d % 7 === 0 ? 3 : d % 5 === 0 ? 1 : 0;
    const notChecked = d === 23 ? 2 : 0;
    const summary: RunSummary = { planned: 40, checked: 40 - notChecked, passed: 40 - failed - notChecked, failed, skipped: 0, notChecked, notPlanned: 0, notCheckedIds: [], notPlannedIds: [], complete: notChecked === 0, problems: [], schedules: d === 9 ? 'fail' : 'pass', computedAt: `${day}T06:00:00.000Z` };
    rows.push({ runId: `verify-backups-${day.replace(/-/g, '')}t0200z`, trigger: 'schedule', slotStart: `${day}T02:00:00.000Z`, summary });
  }
  return rows;
}

describe.skipIf(!chromiumPresent)('the compliance report trend chart in Chromium', () => {
  let browser: TestBrowser;

  beforeAll(async () => {
    browser = await launchBrowser('report-chart');
    await browser.page.setViewportSize({ width: 880, height: 380 });
    const html = `<!doctype html><html><head><meta charset="utf-8"><title>trend</title></head><body style="font-family:sans-serif;margin:1em"><h2>Trend (30 days)</h2><figure>${trendChartSvg(chartDays(month(), '2026-11-01', '2026-11-30'))}</figure></body></html>`;
    await browser.page.setContent(html);
  });

  afterAll(async () => {
    await browser.close();
  });

  it('draws a bar per day, scaled to the fleet, and the missed day as a crossed box', async () => {
    const { page } = browser;
    expect(await page.locator('svg.trend-chart g.day').count()).toBe(30);
    const missed = page.locator('g.day[data-day="2026-11-17"] rect.no-run');
    expect(await missed.isVisible()).toBe(true);
    // A day of 40 passed fills the plot's height; a day with 3 failures shows a failed segment 3/40 of it.
    const full = await page.locator('g.day[data-day="2026-11-01"] rect.passed').boundingBox();
    const failed = await page.locator('g.day[data-day="2026-11-07"] rect.failed').boundingBox();
    // (within the half-point stroke drawn round each segment)
    expect(Math.abs((full?.height ?? 0) - 160)).toBeLessThanOrEqual(1);
    expect(Math.abs((failed?.height ?? 0) - 12)).toBeLessThanOrEqual(1);
    expect(await page.locator('g.day[data-day="2026-11-23"] rect.not-checked').isVisible()).toBe(true);
    expect(await page.locator('path.schedule-miss').count()).toBe(1);
    await browser.screenshot('report-trend');
  });

  it('still reads printed: the same bars in print media, and a PDF page holds the chart', async () => {
    const { page } = browser;
    await page.emulateMedia({ media: 'print' });
    // Days 5, 7, 10, 14, 15, 20, 21, 25, 28 and 30 had failures.
    expect(await page.locator('g.day rect.failed').count()).toBe(10);
    const pdf = await page.pdf({ format: 'A4' });
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    await page.emulateMedia({ media: 'screen' });
  });
});

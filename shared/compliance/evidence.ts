/**
 * `mi compliance evidence --from --to`: one folder an auditor can take away. The period's
 * summary (every day's verify-backups run, the days without one, the chart, the verification of
 * the records against their anchors) in Markdown, HTML and JSON; the full report of the
 * period's last run; every run's raw findings as JSON lines; a copy of each day's anchor; and a
 * manifest of every file's SHA-256 (with a SHA256SUMS that `sha256sum -c` reads). The CLI adds
 * the PDFs, printed from the HTML by headless Chromium, before the manifest is written.
 */
import { createHash } from 'node:crypto';
import { anchorObjectName, daysBetween } from '../domain/compliance/anchor.js';
import type { EvidenceBucketPort, StateStore } from '../ports.js';
import { compliancePaths } from '../store/collections.js';
import { indexedQuery } from '../topology.js';
import type { ComplianceRun } from './model.js';
import { renderReport } from './render.js';
import { buildReport, instanceFindings, summarizeRun, type ComplianceReport, type TrendRow } from './report.js';
import { chartDays, trendChartSvg } from './trend-chart.js';
import { verifyRecords, type Verification } from './verify.js';

export interface EvidenceFile {
  /** A path inside the folder, with forward slashes. */
  name: string;
  content: string | Buffer;
}

export interface PeriodDay {
  day: string;
  /** The day's run (the scheduled one, else the last manual one); null when there was none. */
  runId: string | null;
  trigger: ComplianceRun['trigger'] | null;
  planned: number | null;
  checked: number | null;
  passed: number | null;
  failed: number | null;
  notChecked: number | null;
  complete: boolean | null;
  schedules: 'pass' | 'fail' | 'missing' | null;
  /** The Merkle root of the day's anchor, as verified; null when the day has none. */
  anchorRoot: string | null;
}

export interface PeriodSummary {
  identity: { tool: 'mi'; version: string; commit: string; project: string; period: { from: string; to: string }; generatedAt: string };
  verdict: { outcome: 'pass' | 'fail'; reasons: string[] };
  days: PeriodDay[];
  daysWithoutRun: string[];
  runs: number;
  verification: Pick<Verification, 'ok' | 'firstBreak' | 'gaps'> & { breaks: number; bucket: string };
  /** The report of the period's last run, in report/. */
  latestReport: { runId: string; verdict: ComplianceReport['verdict']['outcome']; digest: string } | null;
}

export interface EvidenceInput {
  store: StateStore;
  bucket: EvidenceBucketPort;
  from: string;
  to: string;
  now: Date;
  maker: { version: string; commit: string; project: string };
  /** Builds the full report of a run (the CLI passes the repository reader CC8.1 needs). */
  report?: (run: ComplianceRun) => Promise<ComplianceReport>;
}

const nextDay = (day: string) => new Date(Date.parse(`${day}T00:00:00.000Z`) + 86_400_000).toISOString().slice(0, 10);

/** Every verify-backups run whose slot starts in the period, oldest first. */
export async function periodRuns(store: StateStore, from: string, to: string): Promise<ComplianceRun[]> {
  const query = indexedQuery('compliance-runs-by-schedule');
  const docs = await store.query<ComplianceRun>({
    collection: query.collection,
    where: [
      { field: 'schedule', op: '==', value: 'verify-backups' },
      { field: 'slotStart', op: '>=', value: `${from}T00:00:00.000Z` },
      { field: 'slotStart', op: '<', value: `${nextDay(to)}T00:00:00.000Z` },
    ],
    orderBy: [{ field: 'slotStart', direction: 'desc' }],
    limit: 2_000,
  });
  return docs.map((d) => d.data).reverse();
}

/** The folder's files, but for the PDFs and the manifest (see withManifest). */
export async function assembleEvidence(input: EvidenceInput): Promise<{ files: EvidenceFile[]; summary: PeriodSummary }> {
  const { store, from, to, now } = input;
  const runs = await periodRuns(store, from, to);
  const files: EvidenceFile[] = [];
  const trend: TrendRow[] = [];
  for (const run of runs) {
    const summary = run.summary ?? (await summarizeRun(store, run, now));
    trend.push({ runId: run.runId, trigger: run.trigger, slotStart: run.slotStart, summary });
    const findings = await instanceFindings(store, run.runId);
    const schedules = await store.get(compliancePaths.finding(run.runId, '_schedules'));
    files.push({ name: `findings/${run.runId}.jsonl`, content: [...findings, ...(schedules === undefined ? [] : [schedules])].map((f) => JSON.stringify(f)).join('\n') + '\n' });
  }
  const verification = await verifyRecords(store, input.bucket, from, to, now);
  files.push({ name: 'verification.json', content: `${JSON.stringify(verification, null, 2)}\n` });
  for (const day of verification.days.filter((d) => d.anchor !== null)) {
    const text = await input.bucket.read(anchorObjectName(day.day));
    if (text !== undefined) files.push({ name: `anchors/${day.day}.json`, content: text });
  }
  const chart = chartDays(trend, from, to);
  const days: PeriodDay[] = chart.map((c) => {
    const row = trend.find((t) => t.runId === c.runId);
    const anchorRoot = verification.days.find((d) => d.day === c.day)?.root ?? null;
    return row === undefined
      ? { day: c.day, runId: null, trigger: null, planned: null, checked: null, passed: null, failed: null, notChecked: null, complete: null, schedules: null, anchorRoot }
      : { day: c.day, runId: row.runId, trigger: row.trigger, planned: row.summary.planned, checked: row.summary.checked, passed: row.summary.passed, failed: row.summary.failed, notChecked: row.summary.notChecked, complete: row.summary.complete, schedules: row.summary.schedules, anchorRoot };
  });
  const missing = daysBetween(from, to).filter((day) => !runs.some((r) => r.slotStart.startsWith(day)));
  const latestRun = runs.at(-1);
  let latestReport: PeriodSummary['latestReport'] = null;
  if (latestRun !== undefined) {
    const report = input.report === undefined ? await buildReport(store, latestRun, now, input.maker) : await input.report(latestRun);
    for (const format of ['md', 'html', 'json'] as const) files.push({ name: `report/${latestRun.runId}.${format}`, content: renderReport(report, format) });
    latestReport = { runId: latestRun.runId, verdict: report.verdict.outcome, digest: report.identity.digest };
  }
  const reasons = [
    ...missing.map((day) => `${day}: no verify-backups run (Days)`),
    ...days.filter((d) => d.runId !== null && d.complete === false).map((d) => `${d.day}: run ${d.runId ?? ''} is incomplete, ${d.notChecked ?? 0} instances not checked (Days)`),
    ...days.filter((d) => (d.failed ?? 0) > 0).map((d) => `${d.day}: ${d.failed ?? 0} instances failed a control (Days; findings/${d.runId ?? ''}.jsonl)`),
    ...days.filter((d) => d.schedules !== null && d.schedules !== 'pass').map((d) => `${d.day}: the schedules control ${d.schedules === 'missing' ? 'has no finding' : 'failed'} (Days)`),
    ...(verification.firstBreak === null ? [] : [`the stored records do not match their anchors: first break ${verification.firstBreak.path} on ${verification.firstBreak.day} (Verification)`]),
    ...verification.gaps.filter((g) => g.kind === 'no-anchor' || g.kind === 'anchor-corrupt').map((g) => `${g.day}: ${g.detail} (Verification)`),
    ...(latestReport !== null && latestReport.verdict === 'fail' ? [`the report of the last run, ${latestReport.runId}, fails (report/${latestReport.runId}.md)`] : []),
  ];
  const summary: PeriodSummary = {
    identity: { tool: 'mi', version: input.maker.version, commit: input.maker.commit, project: input.maker.project, period: { from, to }, generatedAt: now.toISOString() },
    verdict: { outcome: reasons.length === 0 ? 'pass' : 'fail', reasons },
    days,
    daysWithoutRun: missing,
    runs: runs.length,
    verification: { ok: verification.ok, firstBreak: verification.firstBreak, gaps: verification.gaps, breaks: verification.breaks.length, bucket: verification.bucket },
    latestReport,
  };
  files.push(
    { name: 'summary.json', content: `${JSON.stringify(summary, null, 2)}\n` },
    { name: 'summary.md', content: summaryMarkdown(summary) },
    { name: 'summary.html', content: summaryHtml(summary, trendChartSvg(chart)) },
  );
  return { files, summary };
}

const sha256 = (content: string | Buffer) => createHash('sha256').update(content).digest('hex');

/** The files with manifest.json (each file's SHA-256 and size, and the summary's identity) and SHA256SUMS. */
export function withManifest(files: readonly EvidenceFile[], summary: PeriodSummary): EvidenceFile[] {
  const listed = [...files].sort((a, b) => (a.name < b.name ? -1 : 1)).map((f) => ({ name: f.name, sha256: sha256(f.content), bytes: Buffer.byteLength(f.content) }));
  const manifest = { identity: summary.identity, verdict: summary.verdict.outcome, files: listed };
  return [
    ...files,
    { name: 'manifest.json', content: `${JSON.stringify(manifest, null, 2)}\n` },
    { name: 'SHA256SUMS', content: listed.map((f) => `${f.sha256}  ${f.name}`).join('\n') + '\n' },
  ];
}

const cell = (value: string | number | boolean | null | undefined) => (value === null || value === undefined ? '—' : String(value));

function summaryMarkdown(s: PeriodSummary): string {
  const lines = [
    `# Compliance evidence ${s.identity.period.from} to ${s.identity.period.to}`,
    '',
    `**Verdict: ${s.verdict.outcome.toUpperCase()}**`,
    '',
    ...s.verdict.reasons.map((r) => `- ${r}`),
    '',
    `Made by ${s.identity.tool} ${s.identity.version} at commit ${s.identity.commit}, project ${s.identity.project}, ${s.identity.generatedAt}. Every file's SHA-256 is in manifest.json and SHA256SUMS.`,
    '',
    '## Verification',
    '',
    `The stored audit records and findings of every day against their hash chains and the day's anchor in gs://${s.verification.bucket}: ${s.verification.ok ? 'every record matches' : `${s.verification.breaks} breaks`}${s.verification.firstBreak === null ? '' : `; first break ${s.verification.firstBreak.path} (${s.verification.firstBreak.kind}: ${s.verification.firstBreak.detail})`}. verification.json holds every one; anchors/ a copy of each day's anchor.`,
    '',
    '## Days',
    '',
    `${s.runs} verify-backups runs; days without one (each a finding): ${s.daysWithoutRun.length === 0 ? 'none' : s.daysWithoutRun.join(', ')}.`,
    '',
    '| day | run | trigger | planned | checked | passed | failed | not checked | complete | schedules | anchor root |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...s.days.map((d) => `| ${d.day} | ${cell(d.runId)} | ${cell(d.trigger)} | ${cell(d.planned)} | ${cell(d.checked)} | ${cell(d.passed)} | ${cell(d.failed)} | ${cell(d.notChecked)} | ${cell(d.complete)} | ${cell(d.schedules)} | ${d.anchorRoot === null ? 'NONE' : `${d.anchorRoot.slice(0, 16)}…`} |`),
    '',
    s.latestReport === null ? 'No run in the period: no report.' : `The full report of the last run is report/${s.latestReport.runId}.md (verdict ${s.latestReport.verdict}, SHA-256 of its JSON form ${s.latestReport.digest}).`,
    '',
  ];
  return lines.join('\n');
}

function summaryHtml(s: PeriodSummary, chart: string): string {
  const e = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const row = (cells: Array<string | number | boolean | null>) => `<tr>${cells.map((c) => `<td>${e(cell(c))}</td>`).join('')}</tr>`;
  return [
    '<!doctype html><html><head><meta charset="utf-8">',
    `<title>Compliance evidence ${e(s.identity.period.from)} to ${e(s.identity.period.to)}</title>`,
    '<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:small}td,th{border:1px solid #ccc;padding:3px 6px}figcaption{font-size:small}@media print{figure{break-inside:avoid}tr{break-inside:avoid}}</style>',
    '</head><body>',
    `<h1>Compliance evidence ${e(s.identity.period.from)} to ${e(s.identity.period.to)}</h1>`,
    `<p class="verdict ${s.verdict.outcome}"><b>Verdict: ${s.verdict.outcome.toUpperCase()}</b></p>`,
    s.verdict.reasons.length === 0 ? '' : `<ul>${s.verdict.reasons.map((r) => `<li>${e(r)}</li>`).join('')}</ul>`,
    `<p><small>Made by ${e(s.identity.tool)} ${e(s.identity.version)} at commit ${e(s.identity.commit)}, project ${e(s.identity.project)}, ${e(s.identity.generatedAt)}. Every file's SHA-256 is in manifest.json and SHA256SUMS.</small></p>`,
    `<h2>Verification</h2><p>${s.verification.ok ? 'Every stored audit record and finding matches its hash chain and its day’s anchor' : `${s.verification.breaks} breaks`} (gs://${e(s.verification.bucket)})${s.verification.firstBreak === null ? '' : `; first break <code>${e(s.verification.firstBreak.path)}</code>: ${e(s.verification.firstBreak.kind)}: ${e(s.verification.firstBreak.detail)}`}.</p>`,
    `<h2>Days</h2><figure>${chart}<figcaption>Per day of the period, its verify-backups run: instances passed, failed and not checked; a crossed box is a day with no run, a triangle a day whose schedules control failed.</figcaption></figure>`,
    `<p>${s.runs} runs; days without one (each a finding): ${s.daysWithoutRun.length === 0 ? 'none' : e(s.daysWithoutRun.join(', '))}.</p>`,
    '<table><tr><th>day</th><th>run</th><th>trigger</th><th>planned</th><th>checked</th><th>passed</th><th>failed</th><th>not checked</th><th>complete</th><th>schedules</th><th>anchor root</th></tr>',
    ...s.days.map((d) => row([d.day, d.runId, d.trigger, d.planned, d.checked, d.passed, d.failed, d.notChecked, d.complete, d.schedules, d.anchorRoot === null ? 'NONE' : `${d.anchorRoot.slice(0, 16)}…`])),
    '</table>',
    s.latestReport === null ? '<p>No run in the period: no report.</p>' : `<p>The full report of the last run: <a href="report/${e(s.latestReport.runId)}.html">report/${e(s.latestReport.runId)}.html</a> (verdict ${e(s.latestReport.verdict)}).</p>`,
    '</body></html>',
    '',
  ].join('\n');
}

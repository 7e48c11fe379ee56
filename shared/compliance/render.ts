/**
 * A compliance report as an auditor reads it: Markdown, HTML or JSON, from one report object.
 * Pure functions from the report to text.
 */
import type { ControlResult } from '../domain/compliance/controls.js';
import { criteriaLabel, criteriaOf } from '../domain/compliance/criteria.js';
import { PASS_SAMPLE_SIZE, passSample, type ComplianceReport, type DatabaseDrillRow, type FailureRow } from './report.js';
import { chartDays, trendChartSvg } from './trend-chart.js';
import { changeExceptions, changeHtml, changeMarkdown } from './render-changes.js';

export type ReportFormat = 'md' | 'json' | 'html';

function evidenceText(c: ControlResult): string {
  const fields = Object.entries(c.evidence)
    .map(([k, v]) => `${k}=${v === null ? 'null' : String(v)}`)
    .join(', ');
  return `${fields} (${c.source})`;
}

function failureLines(f: FailureRow): string[] {
  if (f.notChecked === true) return [`- **${f.instanceId}**: NOT CHECKED — planned by the run, no finding was written (a failure of its own)`];
  const head = `- **${f.instanceId}** (${f.environment ?? '?'}, ${f.region ?? '?'})${f.remediation ? ` — remediation ${f.remediation.operationId} asked for ${f.remediation.controls.join(', ')}` : ''}`;
  return [head, ...f.controls.map((c) => `  - \`${c.control}\` ${c.status.toUpperCase()}: ${c.summary}. Evidence: ${evidenceText(c)}`)];
}

function coverageLines(report: ComplianceReport): string[] {
  const { plannedNotChecked, checkedNotPlanned } = report.coverage;
  if (plannedNotChecked.length === 0 && checkedNotPlanned.length === 0) return [`The planned and checked instances are the same ${report.summary.planned}.`];
  return [
    ...plannedNotChecked.map((id) => `- **${id}**: PLANNED BUT NOT CHECKED — no finding was written (listed under Failures)`),
    ...checkedNotPlanned.map((id) => `- **${id}**: CHECKED BUT NOT PLANNED — a finding for an instance the run's plan does not hold`),
  ];
}

/** Every exception the verdict counts, beyond the instances': failing schedule controls and the access control. */
function otherExceptions(report: ComplianceReport): string[] {
  const out: string[] = [];
  if (report.schedules.outcome === 'missing') out.push('the schedules were not checked in this run');
  for (const c of report.schedules.controls) if (c.status !== 'pass') out.push(`\`${c.control}\` ${c.status.toUpperCase()}: ${c.summary}. Evidence: ${evidenceText(c)}`);
  if (report.access.status === 'fail') out.push(`\`${report.access.control}\` FAIL: ${report.access.problems.join('; ')}`);
  for (const day of report.daysWithoutRun) out.push(`${day}: no verify-backups run that day (the controls were not checked)`);
  out.push(...changeExceptions(report.changes));
  for (const d of report.drills.database.drills) if (d.outcome?.result === 'fail') out.push(`\`${report.drills.control}\` FAIL: drill ${d.drillId} of the control plane's database: ${d.outcome.problems.join('; ')}`);
  for (const d of report.drills.sql) if (d.status === 'failed' || d.status === 'abandoned') out.push(`\`${report.drills.control}\` FAIL: drill ${d.operationId} of ${d.instanceId} ${d.status}${d.failure ? ` at ${d.failure.step}: ${d.failure.reason}` : ''}`);
  return out;
}

/** The database drill rows as table cells: drill, backup restored, outcome, what was compared, restore time, scratch database's end. */
function databaseDrillCells(d: DatabaseDrillRow): string[] {
  const counts = d.outcome?.compared === null || d.outcome?.compared === undefined ? '—' : Object.entries(d.outcome.compared.counts).map(([kind, c]) => `${kind} ${c.restored}/${c.live}`).join(', ');
  const window = d.outcome?.compared ? `${d.outcome.compared.from} to ${d.outcome.compared.to}` : '—';
  return [
    d.drillId,
    d.backup === null ? '—' : `${d.backup.name.slice(d.backup.name.lastIndexOf('/') + 1)} (snapshot ${d.backup.snapshotTime})`,
    d.outcome === null ? d.phase : `${d.outcome.result}${d.outcome.problems.length > 0 ? `: ${d.outcome.problems.join('; ')}` : ''}`,
    window,
    counts,
    d.outcome?.restoreSeconds === null || d.outcome?.restoreSeconds === undefined ? '—' : `${d.outcome.restoreSeconds} s`,
    d.deletedAt === null ? (d.phase === 'done' ? 'no scratch database' : `${d.databaseId} not deleted yet`) : `${d.databaseId} deleted ${d.deletedAt}`,
  ];
}

const DATABASE_DRILL_HEADERS = ['drill', 'backup restored', 'outcome', 'records compared', 'restored/live', 'restore', 'scratch database'];

function databaseDrillLead(report: ComplianceReport): string {
  const db = report.drills.database;
  return `The control plane's own database (backups: ${db.backups}): ${db.status === 'none' ? 'NO DRILL' : db.status.toUpperCase()}${db.finding === null ? '' : `. ${db.finding}`}`;
}

function identityLines(report: ComplianceReport): string[] {
  const i = report.identity;
  return [`- Made by: ${i.tool} ${i.version} at commit ${i.commit}, project ${i.project}, for the period ${i.period.from} to ${i.period.to}, at ${i.generatedAt}`, `- Digest: SHA-256 ${i.digest} of this report's JSON form (mi compliance report --format json) with identity.digest empty`];
}

function outcomeCounts(report: ComplianceReport): string {
  const counts = new Map<string, number>();
  for (const p of report.population) counts.set(p.outcome, (counts.get(p.outcome) ?? 0) + 1);
  return [...counts.entries()].map(([outcome, n]) => `${n} ${outcome}`).join(', ') || 'none';
}

function populationLines(report: ComplianceReport): string[] {
  const sample = passSample(report.run.runId, report.population);
  return [
    `${report.population.length} instance(s): ${outcomeCounts(report)}. The JSON form lists each with every control's evidence.`,
    '',
    `A sample of ${sample.length} pass(es) with their evidence (the passes ordered by SHA-256 of the run id and instance id, the first ${PASS_SAMPLE_SIZE}: anyone can draw the same sample from the JSON form):`,
    '',
    ...sample.flatMap((p) => [`- **${p.instanceId}** (${p.environment ?? '?'}, ${p.region ?? '?'}) checked ${p.checkedAt ?? '?'}`, ...p.controls.map((c) => `  - \`${c.control}\` ${c.status.toUpperCase()}: ${c.summary}. Evidence: ${evidenceText(c)}`)]),
  ];
}

/** The report in Markdown. */
export function renderMarkdown(report: ComplianceReport): string {
  const s = report.summary;
  const out: string[] = [
    `# Compliance report: ${report.run.runId}`,
    '',
    `**Verdict: ${report.verdict.outcome.toUpperCase()}**${report.verdict.reasons.length === 0 ? ': every planned instance was checked and passed every control, the schedules and the access control passed, and every applied commit passed CC8.1' : ''}`,
    ...report.verdict.reasons.map((r) => `- ${r}`),
    ...report.verdict.gaps.map((g) => `- Known gap, not judged by any control: ${g}`),
    '',
    ...identityLines(report),
    `- Run: ${report.run.schedule} (${report.run.trigger}, asked by ${report.run.requestedBy}), slot ${report.run.slotStart} to ${report.run.slotEnd}, judged as of ${report.run.asOf}`,
    `- Status: ${s.complete ? 'complete' : 'INCOMPLETE'} — ${s.planned} planned, ${s.checked} checked; ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped (deleted), ${s.notChecked} planned but not checked, ${s.notPlanned} checked but not planned`,
    ...s.problems.map((p) => `  - ${p}`),
    `- Schedules: ${report.schedules.outcome}`,
    `- Generated: ${report.generatedAt}`,
    '',
    '## Coverage',
    '',
    ...coverageLines(report),
    '',
    '## Population',
    '',
    ...populationLines(report),
    '',
    '## Controls',
    '',
    '| control | criteria | what it requires | checked | passed | failed | not judged |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: |',
    ...report.controls.map((c) => `| \`${c.control}\` | ${criteriaLabel(c.criteria)} | ${c.text} | ${c.checked} | ${c.passed} | ${c.failed} | ${c.blocked} |`),
    '',
    '## Schedules',
    '',
    ...(report.schedules.controls.length === 0
      ? ['- no finding: the schedules were not checked in this run (a failure of its own)']
      : report.schedules.controls.map((c) => `- \`${c.control}\` (${criteriaLabel(criteriaOf(c.control))}) ${c.status.toUpperCase()}: ${c.summary}. Evidence: ${evidenceText(c)}`)),
    '',
    '## Access',
    '',
    `- \`${report.access.control}\` (${criteriaLabel(report.access.criteria)}) ${report.access.status.toUpperCase()}: ${report.access.text}`,
    report.access.review === null ? '- Access review: none has run' : `- Access review: ${report.access.review.runId} at ${report.access.review.at}, ${report.access.review.findings.length} finding(s)`,
    ...report.access.problems.map((p) => `  - ${p}`),
    '',
    '| grant | entitlement | requester | why | approved by | state | start | end |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...report.access.grants.map((g) => `| ${g.grant.slice(g.grant.lastIndexOf('/') + 1)} | ${g.entitlement} | ${g.requester} | ${g.reason.replace(/\|/g, '\\|')} | ${g.approvedBy ?? (g.breakglass ? 'break-glass' : '—')} | ${g.state} | ${g.start ?? '—'} | ${g.end ?? '—'} |`),
    '',
    '## Restore drills',
    '',
    `- \`${report.drills.control}\` (${criteriaLabel(report.drills.criteria)}) ${report.drills.status === 'none' ? 'NO DRILL' : report.drills.status.toUpperCase()}: ${report.drills.text}`,
    `- ${report.drills.gke.finding}`,
    `- ${databaseDrillLead(report)}`,
    '',
    ...(report.drills.database.drills.length === 0
      ? []
      : [`| ${DATABASE_DRILL_HEADERS.join(' | ')} |`, `| ${DATABASE_DRILL_HEADERS.map(() => '---').join(' | ')} |`, ...report.drills.database.drills.map((d) => `| ${databaseDrillCells(d).map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`), '']),
    ...(report.drills.sql.length === 0
      ? [`No drill since ${report.drills.since}.`]
      : [
          '| drill | instance | outcome | asked | finished | steps |',
          '| --- | --- | --- | --- | --- | --- |',
          ...report.drills.sql.map((d) => `| ${d.operationId} | ${d.instanceId} | ${d.status}${d.failure ? ` at ${d.failure.step}` : ''} | ${d.requestedAt} | ${d.finishedAt ?? '—'} | ${d.steps.map((s) => `${s.name}: ${s.status}`).join(', ')} |`),
        ]),
    '',
    ...changeMarkdown(report.changes),
    '',
    '## Failures',
    '',
    ...(report.failures.length + otherExceptions(report).length === 0 ? ['None.'] : [...report.failures.flatMap(failureLines), ...otherExceptions(report).map((x) => `- ${x}`)]),
    '',
    '## Trend (30 days)',
    '',
    report.daysWithoutRun.length === 0 ? 'Every day from the first run of the period through this one had a run.' : `Days without a run (each a finding): ${report.daysWithoutRun.join(', ')}`,
    '',
    '| run | trigger | slot | complete | planned | checked | passed | failed | not checked | not planned | schedules |',
    '| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...report.trend.map(
      (t) =>
        `| ${t.runId} | ${t.trigger} | ${t.slotStart} | ${t.summary.complete ? 'yes' : 'NO'} | ${t.summary.planned} | ${t.summary.checked} | ${t.summary.passed} | ${t.summary.failed} | ${t.summary.notChecked} | ${t.summary.notPlanned} | ${t.summary.schedules} |`,
    ),
    '',
  ];
  return out.join('\n');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The report as one self-contained HTML page. */
export function renderHtml(report: ComplianceReport): string {
  const e = escapeHtml;
  const s = report.summary;
  const row = (cells: Array<string | number>) => `<tr>${cells.map((c) => `<td>${e(String(c))}</td>`).join('')}</tr>`;
  const failure = (f: FailureRow) =>
    f.notChecked === true
      ? `<li><b>${e(f.instanceId)}</b>: NOT CHECKED — planned by the run, no finding was written</li>`
      : `<li><b>${e(f.instanceId)}</b> (${e(f.environment ?? '?')}, ${e(f.region ?? '?')})${f.remediation ? ` — remediation ${e(f.remediation.operationId)}` : ''}<ul>${f.controls
          .map((c) => `<li><code>${e(c.control)}</code> ${e(c.status.toUpperCase())}: ${e(c.summary)}<br><small>${e(evidenceText(c))}</small></li>`)
          .join('')}</ul></li>`;
  return [
    '<!doctype html><html><head><meta charset="utf-8">',
    `<title>Compliance report ${e(report.run.runId)}</title>`,
    '<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}figure{margin:1em 0}figcaption{font-size:small}@media print{figure,table{break-inside:avoid}}</style>',
    '</head><body>',
    `<h1>Compliance report: ${e(report.run.runId)}</h1>`,
    `<p class="verdict ${report.verdict.outcome}"><b>Verdict: ${report.verdict.outcome.toUpperCase()}</b></p>`,
    report.verdict.reasons.length === 0 ? '' : `<ul>${report.verdict.reasons.map((r) => `<li>${e(r)}</li>`).join('')}</ul>`,
    ...report.verdict.gaps.map((g) => `<p>Known gap, not judged by any control: ${e(g)}</p>`),
    `<p><small>Made by ${e(report.identity.tool)} ${e(report.identity.version)} at commit ${e(report.identity.commit)}, project ${e(report.identity.project)}, period ${e(report.identity.period.from)} to ${e(report.identity.period.to)}; SHA-256 of its JSON form: <code>${e(report.identity.digest)}</code></small></p>`,
    `<p>${e(report.run.schedule)} (${e(report.run.trigger)}), slot ${e(report.run.slotStart)} to ${e(report.run.slotEnd)}, judged as of ${e(report.run.asOf)}.</p>`,
    `<p><b>${s.complete ? 'Complete' : 'INCOMPLETE'}</b>: ${s.planned} planned, ${s.checked} checked; ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped, ${s.notChecked} planned but not checked, ${s.notPlanned} checked but not planned. Schedules: ${e(report.schedules.outcome)}.</p>`,
    s.problems.length === 0 ? '' : `<ul>${s.problems.map((p) => `<li>${e(p)}</li>`).join('')}</ul>`,
    '<h2>Coverage</h2><ul>',
    ...report.coverage.plannedNotChecked.map((id) => `<li><b>${e(id)}</b>: PLANNED BUT NOT CHECKED</li>`),
    ...report.coverage.checkedNotPlanned.map((id) => `<li><b>${e(id)}</b>: CHECKED BUT NOT PLANNED</li>`),
    report.coverage.plannedNotChecked.length + report.coverage.checkedNotPlanned.length === 0 ? `<li>The planned and checked instances are the same ${s.planned}.</li>` : '',
    '</ul>',
    `<h2>Population</h2><p>${report.population.length} instance(s): ${e(outcomeCounts(report))}. The JSON form lists each with every control's evidence.</p>`,
    `<p>A sample of passes with their evidence (ordered by SHA-256 of the run id and instance id, the first ${PASS_SAMPLE_SIZE}):</p><ul>`,
    ...passSample(report.run.runId, report.population).map((p) => `<li><b>${e(p.instanceId)}</b> (${e(p.environment ?? '?')}, ${e(p.region ?? '?')}) checked ${e(p.checkedAt ?? '?')}<ul>${p.controls.map((c) => `<li><code>${e(c.control)}</code> ${e(c.status.toUpperCase())}: ${e(c.summary)}<br><small>${e(evidenceText(c))}</small></li>`).join('')}</ul></li>`),
    '</ul>',
    '<h2>Controls</h2><table><tr><th>control</th><th>criteria</th><th>what it requires</th><th>checked</th><th>passed</th><th>failed</th><th>not judged</th></tr>',
    ...report.controls.map((c) => row([c.control, criteriaLabel(c.criteria), c.text, c.checked, c.passed, c.failed, c.blocked])),
    '</table><h2>Schedules</h2><ul>',
    ...report.schedules.controls.map((c) => `<li><code>${e(c.control)}</code> (${e(criteriaLabel(criteriaOf(c.control)))}) ${e(c.status.toUpperCase())}: ${e(c.summary)}<br><small>${e(evidenceText(c))}</small></li>`),
    `</ul><h2>Access</h2><p><code>${e(report.access.control)}</code> (${e(criteriaLabel(report.access.criteria))}) <b>${e(report.access.status.toUpperCase())}</b>: ${e(report.access.text)}</p><ul>`,
    ...report.access.problems.map((p) => `<li>${e(p)}</li>`),
    '</ul><table><tr><th>grant</th><th>entitlement</th><th>requester</th><th>why</th><th>approved by</th><th>state</th><th>start</th><th>end</th></tr>',
    ...report.access.grants.map((g) => row([g.grant.slice(g.grant.lastIndexOf('/') + 1), g.entitlement, g.requester, g.reason, g.approvedBy ?? (g.breakglass ? 'break-glass' : '—'), g.state, g.start ?? '—', g.end ?? '—'])),
    `</table><h2>Restore drills</h2><p><code>${e(report.drills.control)}</code> (${e(criteriaLabel(report.drills.criteria))}) <b>${report.drills.status === 'none' ? 'NO DRILL' : e(report.drills.status.toUpperCase())}</b>: ${e(report.drills.text)}</p><p>${e(report.drills.gke.finding)}</p><p>${e(databaseDrillLead(report))}</p>`,
    ...(report.drills.database.drills.length === 0 ? [] : [`<table><tr>${DATABASE_DRILL_HEADERS.map((h) => `<th>${e(h)}</th>`).join('')}</tr>`, ...report.drills.database.drills.map((d) => row(databaseDrillCells(d))), '</table>']),
    '<table><tr><th>drill</th><th>instance</th><th>outcome</th><th>asked</th><th>finished</th><th>steps</th></tr>',
    ...report.drills.sql.map((d) => row([d.operationId, d.instanceId, `${d.status}${d.failure ? ` at ${d.failure.step}` : ''}`, d.requestedAt, d.finishedAt ?? '—', d.steps.map((s) => `${s.name}: ${s.status}`).join(', ')])),
    '</table>',
    changeHtml(report.changes),
    '<h2>Failures</h2><ul>',
    ...report.failures.map(failure),
    ...otherExceptions(report).map((x) => `<li>${e(x.replaceAll('`', ''))}</li>`),
    report.failures.length + otherExceptions(report).length === 0 ? '<li>None.</li>' : '',
    `</ul><h2>Trend (30 days)</h2><p>${report.daysWithoutRun.length === 0 ? 'Every day from the first run of the period through this one had a run.' : `Days without a run (each a finding): ${e(report.daysWithoutRun.join(', '))}`}</p>`,
    `<figure>${trendChartSvg(chartDays(report.trend, new Date(Date.parse(report.run.slotStart) - 29 * 86_400_000).toISOString().slice(0, 10), report.run.slotStart.slice(0, 10)))}<figcaption>Per day, the day's verify-backups run (a scheduled one before a manual one): instances passed, failed and not checked; a crossed box is a day with no run, a triangle a day whose schedules control failed.</figcaption></figure>`,
    `<table><tr><th>run</th><th>trigger</th><th>slot</th><th>planned</th><th>checked</th><th>passed</th><th>failed</th><th>not checked</th><th>schedules</th></tr>`,
    ...report.trend.map((t) => row([t.runId, t.trigger, t.slotStart, t.summary.planned, t.summary.checked, t.summary.passed, t.summary.failed, t.summary.notChecked, t.summary.schedules])),
    '</table>',
    `<p><small>Generated ${e(report.generatedAt)}</small></p>`,
    '</body></html>',
    '',
  ].join('\n');
}

/** The report in the asked format. */
export function renderReport(report: ComplianceReport, format: ReportFormat): string {
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'html') return renderHtml(report);
  return renderMarkdown(report);
}

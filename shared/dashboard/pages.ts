/**
 * The dashboard's pages: the view models of view.ts laid out as HTML (html.ts escapes every
 * value). No script: links and plain forms only, so the page works in any browser and prints.
 */
import type { ComplianceRun, Finding } from '../compliance/model.js';
import { controlText, type ControlResult } from '../domain/compliance/controls.js';
import { constant, html, type Markup } from './html.js';
import { linkTo, type BackupAge, type FleetRow, type MatrixRow, type OperationList, type OperationRow, type PageName, type RolloutRow } from './view.js';

const STYLE = constant(`
html{width:max-content;min-width:100%}body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:10px 20px;display:flex;gap:24px;align-items:baseline}
header h1{font-size:16px;margin:0}header a{color:#d0d7de;text-decoration:none;margin-right:16px}header a[aria-current]{color:#fff;font-weight:600;border-bottom:2px solid #fff}
main{padding:16px 20px}h2{font-size:15px;margin:20px 0 8px}
table{border-collapse:collapse;background:#fff;border:1px solid #d0d7de}
th,td{padding:4px 8px;border-bottom:1px solid #eaeef2;text-align:left;white-space:nowrap}th{background:#f0f3f6;font-weight:600}
td.num{text-align:right}.muted{color:#57606a}.pager{margin:10px 0;display:flex;gap:16px}
.st-pass{color:#1a7f37}.st-fail{color:#cf222e;font-weight:600}.st-blocked{color:#9a6700}.st-missing,.st-not-applicable{color:#8c959f}
.badge{display:inline-block;padding:0 6px;border-radius:10px;background:#eaeef2}.badge.running,.badge.active,.badge.soaking{background:#ddf4ff}
.badge.failed,.badge.halted,.badge.stuck,.badge.degraded{background:#ffebe9}.badge.succeeded,.badge.done,.badge.completed{background:#dafbe1}
.bar{display:inline-block;width:80px;height:8px;background:#eaeef2;vertical-align:middle}.bar span{display:block;height:8px;background:#2da44e}
pre{background:#fff;border:1px solid #d0d7de;padding:10px;overflow:auto}.matrix th.ctl{font-size:11px;font-weight:500}
`);

const NAV: Array<[PageName, string]> = [
  ['fleet', 'Fleet'],
  ['operations', 'Operations'],
  ['rollouts', 'Rollouts and workflows'],
  ['compliance', 'Compliance'],
];

/** A whole page: title, navigation, content; never cached (it shows live state). */
export function layout(current: PageName, title: string, content: Markup, generatedAt: Date): Markup {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} · mi dashboard</title><style>${STYLE}</style></head>
<body><header><h1>mi dashboard</h1><nav>${NAV.map(([page, label]) => html`<a href="${linkTo(page)}"${current === page ? html` aria-current="page"` : ''}>${label}</a> `)}</nav>
<span class="muted">read ${generatedAt.toISOString().slice(0, 19)}Z</span></header>
<main><h2>${title}</h2>${content}</main></body></html>`;
}

/** An age as said after a time: "just now", "5 min ago", "in 5 min". */
function ago(age: string | null): string {
  if (age === null) return '';
  return age === 'just now' || age.startsWith('in ') ? age : `${age} ago`;
}

function badge(text: string): Markup {
  return html`<span class="badge ${text}">${text}</span>`;
}

function pager(next: string | null, first: string | null): Markup {
  if (next === null && first === null) return html``;
  return html`<p class="pager">${first === null ? '' : html`<a href="${first}">First page</a>`}${next === null ? html`<span class="muted">last page</span>` : html`<a href="${next}" rel="next">Next page</a>`}</p>`;
}

function backupCell(age: BackupAge | null): Markup {
  if (age === null) return html`<td class="muted">unknown</td>`;
  return html`<td class="st-${age.status}" title="${age.at}">${age.age === null ? age.at : ago(age.age)}${age.state === null || age.state === 'SUCCESSFUL' || age.state === 'SUCCEEDED' ? '' : `, ${age.state}`}${age.status === 'fail' ? ' (fails policy)' : ''}</td>`;
}

/** The fleet table, one page of it. */
export function fleetPage(view: { rows: FleetRow[]; total: number; after: string | null; next: string | null; first: string | null; run: ComplianceRun | undefined }): Markup {
  const { rows, run } = view;
  const total = view.total.toLocaleString('en');
  const shown = rows.length === 0 ? 'No instances' : view.after === null ? `Instances 1–${rows.length} of ${total}` : `${rows.length} instances after ${view.after}, of ${total}`;
  return html`<p>${shown}.
<span class="muted">Backup ages from ${run === undefined ? 'no compliance run yet' : html`compliance run <a href="${linkTo('compliance', { run: run.runId })}">${run.runId}</a>`}.</span></p>
<table aria-label="Fleet"><thead><tr><th>Instance</th><th>Environment</th><th>Tier</th><th>Version</th><th>Status</th><th>Lease</th><th>Last automated Cloud SQL backup</th><th>Last GKE backup</th></tr></thead><tbody>
${rows.map(
  (r) => html`<tr><td>${r.id}</td><td>${r.environment}</td><td>${r.tier}</td><td>${r.version}</td><td>${badge(r.status)}</td>
<td>${r.lease === null ? html`<span class="muted">free</span>` : html`${r.lease.operationType} ${r.lease.operationId}${r.lease.age === null ? '' : html` <span class="muted">(${r.lease.age === 'just now' ? 'just now' : `for ${r.lease.age}`})</span>`}`}</td>${backupCell(r.sqlBackup)}${backupCell(r.gkeBackup)}</tr>`,
)}
</tbody></table>${pager(view.next, view.first)}`;
}

const LIST_TITLES: Record<OperationList, string> = { running: 'Running', stuck: 'Stuck', failed: 'Recently failed' };

/** One list of operations (running, stuck or failed), with its own paging. */
export function operationsSection(list: OperationList, view: { rows: OperationRow[]; next: string | null; first: string | null }): Markup {
  const failedList = list === 'failed';
  return html`<section id="${list}" aria-label="${LIST_TITLES[list]}"><h2>${LIST_TITLES[list]} <span class="muted">(${view.rows.length}${view.next === null ? '' : '+'})</span></h2>
${view.rows.length === 0
  ? html`<p class="muted">None.</p>`
  : html`<table aria-label="${LIST_TITLES[list]} operations"><thead><tr><th>Operation</th><th>Type</th><th>Instance</th><th>Status</th><th>Asked by</th><th>Started</th><th>Steps done</th><th>${failedList ? 'Failure' : 'Step'}</th></tr></thead><tbody>
${view.rows.map((r) => html`<tr><td>${r.id}</td><td>${r.type}</td><td>${r.instanceId}</td><td>${badge(r.status)}</td><td>${r.actor}</td><td>${ago(r.started)}</td><td class="num">${r.progress}</td><td>${failedList ? (r.failure ?? '') : (r.step ?? '')}</td></tr>`)}
</tbody></table>`}${pager(view.next, view.first)}</section>`;
}

/** Rollouts and workflows, each with its waves. */
export function rolloutsPage(view: { rows: RolloutRow[]; next: string | null; first: string | null }): Markup {
  if (view.rows.length === 0) return html`<p class="muted">No rollout or workflow yet (mi rollout start, mi workflow run).</p>`;
  return html`<table aria-label="Rollouts and workflows"><thead><tr><th>Id</th><th>Kind</th><th>What</th><th>Status</th><th>Started by</th><th>Started</th><th>Waves</th></tr></thead><tbody>
${view.rows.map(
  (r) => html`<tr><td>${r.id}</td><td>${r.kind}</td><td>${r.what}</td><td>${badge(r.status)}${r.halt === null ? '' : html`<div class="st-fail">halted at ${r.halt}</div>`}</td><td>${r.actor}</td><td>${ago(r.started)}</td>
<td><table aria-label="Waves of ${r.id}"><tbody>${r.waves.map(
    (w) => html`<tr><td>${w.wave}</td><td>${badge(w.status)}</td><td><span class="bar" title="${w.percent}%"><span style="width:${w.percent}%"></span></span></td><td class="num">${w.succeeded}/${w.total} done</td><td class="num${w.failed > 0 ? ' st-fail' : ''}">${w.failed} failed</td><td class="num">${w.inFlight} in flight</td><td class="num">${w.waiting} waiting</td></tr>`,
  )}</tbody></table></td></tr>`,
)}
</tbody></table>${pager(view.next, view.first)}`;
}

const CELL_TEXT: Record<MatrixRow['cells'][number]['status'], string> = { pass: '✓', fail: '✗ fail', 'not-applicable': 'n/a', blocked: 'blocked', missing: '—' };

/** The compliance matrix: instances × controls of one run, failed cells linking to their evidence. */
export function compliancePage(view: { run: ComplianceRun | undefined; controls: readonly string[]; rows: MatrixRow[]; failingOnly: boolean; next: string | null; first: string | null }): Markup {
  const { run } = view;
  if (run === undefined) return html`<p class="muted">No verify-backups run yet: mi compliance run starts one, or wait for the daily schedule.</p>`;
  const summary = run.summary;
  return html`<p>Run <strong>${run.runId}</strong> (${run.trigger}, ${run.status}, as of ${run.asOf})${summary === null ? '' : html`: ${summary.checked} checked, ${summary.passed} passed, <span class="${summary.failed > 0 ? 'st-fail' : ''}">${summary.failed} failed</span>, ${summary.notChecked} not checked`}.
${view.failingOnly ? html`<a href="${linkTo('compliance', { run: run.runId })}">Show every instance</a>` : html`<a href="${linkTo('compliance', { run: run.runId, failing: 1 })}">Show only instances with a failed control</a>`}</p>
${view.rows.length === 0
  ? html`<p class="muted">${view.failingOnly ? 'No instance has a failed control in this run.' : 'No finding yet in this run.'}</p>`
  : html`<table class="matrix" aria-label="Compliance matrix"><thead><tr><th>Instance</th><th>Env</th>${view.controls.map((c) => html`<th class="ctl" title="${controlText(c)}">${c}</th>`)}</tr></thead><tbody>
${view.rows.map(
  (r) => html`<tr><td>${r.instanceId}</td><td>${r.environment ?? ''}</td>${r.cells.map((cell) =>
    cell.evidence === null
      ? html`<td class="st-${cell.status}" title="${cell.summary ?? 'not judged in this finding'}">${CELL_TEXT[cell.status]}</td>`
      : html`<td class="st-fail"><a href="${cell.evidence}" title="${cell.summary ?? ''}" aria-label="${cell.control} failed on ${r.instanceId}: evidence">${CELL_TEXT.fail}</a></td>`,
  )}</tr>`,
)}
</tbody></table>`}${pager(view.next, view.first)}`;
}

/** One control of one finding: what was found, where it was read, and the evidence as recorded. */
export function evidencePage(finding: Finding, result: ControlResult): Markup {
  return html`<p><a href="${linkTo('compliance', { run: finding.runId })}">← the matrix of run ${finding.runId}</a></p>
<table aria-label="Finding"><tbody>
<tr><th>Instance</th><td>${finding.instanceId ?? ''} (${finding.environment ?? ''}, ${finding.tier ?? ''}, ${finding.region ?? ''})</td></tr>
<tr><th>Control</th><td>${result.control}: ${controlText(result.control)}</td></tr>
<tr><th>Verdict</th><td class="st-${result.status}">${result.status}</td></tr>
<tr><th>Found</th><td>${result.summary}</td></tr>
<tr><th>Read from</th><td>${result.source}</td></tr>
<tr><th>Checked</th><td>${finding.checkedAt} (as of ${finding.asOf})</td></tr>
${finding.remediation === null ? '' : html`<tr><th>Remediation</th><td>${finding.remediation.operationId} (${finding.remediation.controls.join(', ')})</td></tr>`}
</tbody></table>
<h2>Evidence</h2><pre aria-label="Evidence JSON">${JSON.stringify(result.evidence, null, 2)}</pre>
<details><summary>The whole finding</summary><pre>${JSON.stringify(finding, null, 2)}</pre></details>`;
}

/** A refusal as a page: the status and what to do. */
export function problemPage(status: number, message: string): Markup {
  return html`<p class="st-fail">${status === 404 ? 'Not found' : status === 400 ? 'Bad request' : 'Error'} (HTTP ${status})</p><p>${message}</p><p><a href="${linkTo('fleet')}">Back to the fleet</a></p>`;
}

/**
 * The change trail (CC8.1) of a report in Markdown and HTML: operations by type with who asked
 * and who approved, and every applied commit with its pull request, author, approver, the
 * protection in force and the outcome. The JSON form carries each commit's API evidence.
 */
import { criteriaLabel } from '../domain/compliance/criteria.js';
import type { RepoBranchProtection } from '../ports.js';
import type { ChangeSection, CommitRow } from './changes.js';

/** One line for the protection read: `1 approval, stale dismissed, admins, checks strict: ci`. */
export function protectionText(protection: RepoBranchProtection | null): string {
  if (protection === null) return 'not protected';
  const checks = protection.requiredStatusChecks;
  return [
    `${protection.requiredApprovingReviewCount ?? 0} approving review(s) required`,
    protection.dismissStaleReviews ? 'stale reviews dismissed' : 'stale reviews kept',
    protection.enforceAdmins ? 'admins included' : 'admins exempt',
    checks === null ? 'no status checks' : `status checks${checks.strict ? ' (strict)' : ''}: ${checks.contexts.join(', ') || 'none named'}`,
  ].join('; ');
}

const short = (commit: string) => commit.slice(0, 12);
const pullText = (c: CommitRow) => (c.pull === null ? 'none' : `#${c.pull.number}`);

/** What the Failures section says of each commit that failed CC8.1. */
export function changeExceptions(changes: ChangeSection): string[] {
  return changes.commits.filter((c) => c.outcome === 'fail').map((c) => `\`${changes.control}\` (CC8.1) FAIL: commit ${c.commit} (${pullText(c)}): ${c.reasons.join('; ')}`);
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

/** The Markdown section. */
export function changeMarkdown(changes: ChangeSection): string[] {
  const failed = changes.commits.filter((c) => c.outcome === 'fail').length;
  return [
    '## Changes',
    '',
    `- \`${changes.control}\` (${criteriaLabel(changes.criteria)}) ${changes.status.toUpperCase()}: ${changes.text}`,
    `- Period ${changes.period.from} to ${changes.period.to}: ${changes.operations.list.length} operation(s), ${changes.commits.length} applied commit(s), ${failed} failing CC8.1. The JSON form lists every operation and each commit's GitHub evidence (call, fields read, values, time read).`,
    '',
    '| operation | count | asked by | needed approval | approved by another | approvers | outcomes |',
    '| --- | ---: | --- | ---: | ---: | --- | --- |',
    ...changes.operations.byType.map(
      (t) =>
        `| ${t.type} | ${t.count} | ${t.askers.length} (${cell(t.askers.slice(0, 5).join(', '))}${t.askers.length > 5 ? ', …' : ''}) | ${t.neededApproval} | ${t.approved} | ${cell(t.approvers.join(', ') || '—')} | ${Object.entries(t.byStatus)
          .map(([s, n]) => `${n} ${s}`)
          .join(', ')} |`,
    ),
    '',
    ...(changes.commits.length === 0
      ? ['No commit of the deployment repository was applied in the period.']
      : [
          '| commit | pull request | author | approved by | protection of the base branch | outcome |',
          '| --- | --- | --- | --- | --- | --- |',
          ...changes.commits.map(
            (c) =>
              `| ${short(c.commit)} | ${c.pull === null ? 'none' : `[#${c.pull.number}](${c.pull.url})`} | ${c.author ?? '—'} | ${cell(c.approvers.join(', ') || '—')} | ${c.branch}: ${cell(protectionText(c.protection))} | ${c.outcome.toUpperCase()}${c.reasons.length === 0 ? '' : `: ${cell(c.reasons.join('; '))}`} |`,
          ),
        ]),
  ];
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The HTML section. */
export function changeHtml(changes: ChangeSection): string {
  const e = escapeHtml;
  const row = (cells: string[]) => `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  return [
    `<h2>Changes</h2><p><code>${e(changes.control)}</code> (${e(criteriaLabel(changes.criteria))}) <b>${e(changes.status.toUpperCase())}</b>: ${e(changes.text)}</p>`,
    `<p>Period ${e(changes.period.from)} to ${e(changes.period.to)}: ${changes.operations.list.length} operation(s), ${changes.commits.length} applied commit(s). The JSON form lists every operation and each commit's GitHub evidence.</p>`,
    '<table><tr><th>operation</th><th>count</th><th>asked by</th><th>needed approval</th><th>approved by another</th><th>approvers</th><th>outcomes</th></tr>',
    ...changes.operations.byType.map((t) =>
      row([
        e(t.type),
        String(t.count),
        `${t.askers.length} (${e(t.askers.slice(0, 5).join(', '))}${t.askers.length > 5 ? ', …' : ''})`,
        String(t.neededApproval),
        String(t.approved),
        e(t.approvers.join(', ') || '—'),
        e(
          Object.entries(t.byStatus)
            .map(([s, n]) => `${n} ${s}`)
            .join(', '),
        ),
      ]),
    ),
    '</table>',
    changes.commits.length === 0
      ? '<p>No commit of the deployment repository was applied in the period.</p>'
      : [
          '<table><tr><th>commit</th><th>pull request</th><th>author</th><th>approved by</th><th>protection of the base branch</th><th>outcome</th></tr>',
          ...changes.commits.map((c) =>
            row([
              `<code>${e(short(c.commit))}</code>`,
              c.pull === null ? 'none' : `<a href="${e(c.pull.url)}">#${c.pull.number}</a>`,
              e(c.author ?? '—'),
              e(c.approvers.join(', ') || '—'),
              `${e(c.branch)}: ${e(protectionText(c.protection))}`,
              `<b>${e(c.outcome.toUpperCase())}</b>${c.reasons.length === 0 ? '' : `: ${e(c.reasons.join('; '))}`}`,
            ]),
          ),
          '</table>',
        ].join('\n'),
  ].join('\n');
}

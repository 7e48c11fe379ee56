/**
 * An upgrade in flight whose outcome never came back (its command or its fact dead-lettered,
 * lost, or never accepted): what the ledger and the operation say it became, so its slot is
 * freed. Pure: the feature reads the member's ledger entry and operation and writes this.
 */
import type { InstanceProgress, ProgressState } from './types.js';
import type { UpgradeOutcome } from './facts.js';

/** An in-flight member older than this is checked against its ledger entry and operation. */
export const LEAK_CHECK_AFTER_MS = 15 * 60_000;
/**
 * With neither, its command was never accepted: after this long (longer than Pub/Sub's
 * redeliveries before a dead letter) it is recorded failed, and its slot freed.
 */
export const NEVER_ACCEPTED_AFTER_MS = 2 * 60 * 60_000;

/** What the ledger entry of the member's upgrade command says, if it has one. */
export interface LedgerView {
  outcome: string;
  code: string | null;
  reason: string | null;
}

/** What the member's upgrade operation says, if it exists. */
export interface OperationView {
  status: string;
  failure: { step: string; reason: string } | null;
}

const SKIPPED_CODES = new Set(['not-newer', 'unknown-instance', 'not-active']);

/**
 * The outcome a leaked in-flight member is recorded with, or undefined while it is not leaked
 * (its operation still runs, or its command may still be delivered).
 */
export function leakedOutcome(member: InstanceProgress, found: { ledger: LedgerView | undefined; operation: OperationView | undefined }, now: Date): UpgradeOutcome | undefined {
  if (member.state !== 'in-flight' || member.eventId === null) return undefined;
  const base = { kind: 'outcome' as const, instanceId: member.instanceId, eventId: member.eventId };
  const { ledger, operation } = found;
  if (operation !== undefined) {
    if (operation.status === 'running') return undefined;
    const state: ProgressState = operation.status === 'succeeded' ? 'succeeded' : 'failed';
    const detail = operation.failure !== null ? `step ${operation.failure.step}: ${operation.failure.reason}` : operation.status === 'succeeded' ? null : `operation ${operation.status}`;
    return { ...base, state, detail: `${detail === null ? '' : `${detail}; `}recorded from its operation: its outcome never reached the rollout`, retry: null };
  }
  if (ledger !== undefined && ledger.outcome === 'rejected') {
    const code = ledger.code ?? 'invalid';
    if (code === 'busy') return { ...base, state: 'waiting', detail: `busy: ${ledger.reason ?? ''} (recorded from the ledger)`, retry: 'busy' };
    if (code === 'rollout-halted') return { ...base, state: 'waiting', detail: `${code}: ${ledger.reason ?? ''} (recorded from the ledger)`, retry: 'after-resume' };
    return { ...base, state: SKIPPED_CODES.has(code) ? 'skipped' : 'failed', detail: `${code}: ${ledger.reason ?? ''} (recorded from the ledger: its rejection never reached the rollout)`, retry: null };
  }
  const since = now.getTime() - Date.parse(member.startedAt ?? member.updatedAt);
  if (ledger === undefined && since >= NEVER_ACCEPTED_AFTER_MS) {
    return { ...base, state: 'failed', detail: `its upgrade command was never accepted within ${Math.round(NEVER_ACCEPTED_AFTER_MS / 60_000)} min of the start (lost or dead-lettered): nothing ran`, retry: null };
  }
  return undefined;
}

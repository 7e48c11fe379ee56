/**
 * What each control serves, in the words an auditor maps evidence to: the seed's SOC2 control
 * ids (CI-79 backups, CI-100 environments) and the Trust Services Criteria (A1.2 backups and
 * recovery infrastructure, A1.3 recovery testing, CC6.1–CC6.3 logical access, CC7.1 detection
 * of configuration changes and control failures, CC8.1 change management).
 */
import { ACCESS_CONTROL, DRILL_CONTROL, INSTANCE_CONTROL_IDS, type InstanceControl } from './controls.js';
import { CHANGE_CONTROL } from './changes.js';

export interface Criteria {
  /** The seed's SOC2 control ids. */
  soc2: readonly string[];
  /** The Trust Services Criteria (2017, revised points of focus 2022). */
  tsc: readonly string[];
}

const BACKUPS: Criteria = { soc2: ['CI-79'], tsc: ['A1.2'] };

export const INSTANCE_CONTROL_CRITERIA: Readonly<Record<InstanceControl, Criteria>> = {
  'sql.automated-backups': BACKUPS,
  'sql.point-in-time-recovery': BACKUPS,
  'sql.log-retention': BACKUPS,
  'sql.retained-backups': BACKUPS,
  'sql.recent-backup': BACKUPS,
  'gke.plan-active': BACKUPS,
  'gke.daily-schedule': BACKUPS,
  'gke.retention': BACKUPS,
  'gke.scope': BACKUPS,
  'gke.offsite': BACKUPS,
  'gke.recent-backup': BACKUPS,
  // A dev environment lives only as long as it was asked for: no forgotten copy of the product.
  'dev.expiry': { soc2: ['CI-100'], tsc: ['CC6.1'] },
};

/** The criteria a control serves: instance controls by the table, the schedules by what they drive, access by CC6. */
export function criteriaOf(control: string): Criteria {
  if ((INSTANCE_CONTROL_IDS as readonly string[]).includes(control)) return INSTANCE_CONTROL_CRITERIA[control as InstanceControl];
  if (control === DRILL_CONTROL) return { soc2: ['CI-79'], tsc: ['A1.3'] };
  if (control === ACCESS_CONTROL) return { soc2: [], tsc: ['CC6.1', 'CC6.2', 'CC6.3'] };
  // Changes are authorized, reviewed by a second person and merged under protection before they are applied.
  if (control === CHANGE_CONTROL) return { soc2: [], tsc: ['CC8.1'] };
  // The schedules run the controls: the drill is the recovery test, the others detect failures of controls.
  if (control === 'schedule.restore-drill') return { soc2: ['CI-79'], tsc: ['A1.3'] };
  if (control.startsWith('schedule.')) return { soc2: [], tsc: ['CC7.1'] };
  return { soc2: [], tsc: [] };
}

/** One line for a table: `CI-79 · A1.2`. */
export function criteriaLabel(criteria: Criteria): string {
  return [...criteria.soc2, ...criteria.tsc].join(' · ') || '—';
}

/**
 * What each kind of step does in the world, one file per service: Cloud SQL (cloud-sql.ts),
 * Backup for GKE (gke-backup.ts), the executor (executor.ts), the approval wait (approval.ts), the health gates (health.ts),
 * the backup policy check (policy.ts) and the restore drill (drill.ts); the runner's shape and
 * the helpers they share live in kit.ts. Every side effect carries a key derived from the
 * operation and the step, or is found again by what it created, so a retry after a crash finds
 * what the first attempt started instead of starting it again.
 */
import type { StepKind } from '../../domain/lifecycle/operations.js';
import { approvalRunner } from './approval.js';
import { sqlBackupRunner, sqlCloneRunner, sqlConfigureBackupsRunner, sqlDeletionProtectionRunner, sqlFinalBackupDeleteRunner, sqlRestoreBackupRunner } from './cloud-sql.js';
import { createDrillStepRunners } from './drill.js';
import { executorRunner } from './executor.js';
import { healthCheckRunner } from './health.js';
import { gkeBackupRunner, gkeEnsureBackupChannelRunner, gkeEnsureBackupPlanRunner, gkeRestoreRunner } from './gke-backup.js';
import type { StepDeps, StepRunner } from './kit.js';
import { verifyBackupPolicyRunner } from './policy.js';

export type { PollResult, Runners, StartResult, StepDeps, StepRunner } from './kit.js';
export { executorIdle, executorOutcome, refuseAfterOf, sqlIdle, sqlOperationOutcome } from './kit.js';
export { sqlBackupDescription } from './cloud-sql.js';
export { gkeBackupIdFor } from './gke-backup.js';

/** The runner of each step kind, wired to the ports. */
export function createStepRunners(deps: StepDeps): Record<StepKind, StepRunner> {
  return {
    'sql-backup': sqlBackupRunner(deps),
    'gke-backup': gkeBackupRunner(deps),
    'executor-run': executorRunner(deps),
    approval: approvalRunner,
    'sql-configure-backups': sqlConfigureBackupsRunner(deps),
    'gke-ensure-backup-plan': gkeEnsureBackupPlanRunner(deps),
    'gke-ensure-backup-channel': gkeEnsureBackupChannelRunner(deps),
    'verify-backup-policy': verifyBackupPolicyRunner(deps),
    'sql-restore-backup': sqlRestoreBackupRunner(deps),
    'sql-clone': sqlCloneRunner(deps),
    'gke-restore': gkeRestoreRunner(deps),
    'sql-final-backup-delete': sqlFinalBackupDeleteRunner(deps),
    'sql-deletion-protection': sqlDeletionProtectionRunner(deps),
    'health-check': healthCheckRunner(deps),
    ...createDrillStepRunners(deps),
  };
}

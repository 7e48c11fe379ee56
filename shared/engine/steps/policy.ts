/** The step that checks an instance's Cloud SQL and GKE backup configuration against the policy. */
import { gkePolicyMismatches, sqlPolicyMismatches } from '../../domain/lifecycle/backup-policy.js';
import { param, type StepDeps as Deps, type StepRunner } from './kit.js';

export function verifyBackupPolicyRunner(deps: Deps): StepRunner {
  return {
    start: () => Promise.resolve({ kind: 'running', handles: {} }),
    async poll(op, step) {
      const [sql, plan] = await Promise.all([
        deps.cloudSql.getInstance(param(op, step, 'project'), param(op, step, 'sqlInstance')),
        deps.gkeBackup.getBackupPlan(param(op, step, 'backupPlan')),
      ]);
      const problems = [...sqlPolicyMismatches(sql), ...gkePolicyMismatches(plan, param(op, step, 'region'))];
      if (problems.length > 0) return { kind: 'failed', error: `the backup configuration does not meet the policy: ${problems.join('; ')}` };
      return { kind: 'succeeded', handles: { verified: 'sql and gke backup policy' } };
    },
    isIdle: () => Promise.resolve(true),
  };
}

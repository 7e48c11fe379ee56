/**
 * Facts the acceptance needs from the backup services, read before the accepting transaction
 * (which makes no other round trip): a restore's recovery window or named backups, a disaster
 * recovery's latest backups. Read-only, so a redelivery may read them again harmlessly.
 */
import type { PreflightFacts } from '../domain/lifecycle/acceptance.js';
import type { AnyEnvelope, InstanceRecord } from '../events/index.js';
import type { GkeBackup, SqlBackupRun } from '../ports.js';
import type { EngineDeps } from './deps.js';

const PAGES = 5;

async function latestSqlRun(deps: Pick<EngineDeps, 'cloudSql'>, project: string, instance: string): Promise<SqlBackupRun | undefined> {
  let best: SqlBackupRun | undefined;
  let pageToken: string | undefined;
  for (let page = 0; page < PAGES; page += 1) {
    const result = await deps.cloudSql.listBackupRuns(project, instance, pageToken ? { pageToken } : {});
    for (const run of result.items) {
      if (run.status === 'SUCCESSFUL' && run.endTime && (!best?.endTime || run.endTime > best.endTime)) best = run;
    }
    pageToken = result.nextPageToken;
    if (!pageToken) break;
  }
  return best;
}

async function latestGkeBackup(deps: Pick<EngineDeps, 'gkeBackup'>, plan: string): Promise<GkeBackup | undefined> {
  let best: GkeBackup | undefined;
  let pageToken: string | undefined;
  for (let page = 0; page < PAGES; page += 1) {
    const result = await deps.gkeBackup.listBackups(plan, pageToken ? { pageToken } : {});
    for (const backup of result.items) {
      if (backup.state === 'SUCCEEDED' && backup.completeTime && (!best?.completeTime || backup.completeTime > best.completeTime)) best = backup;
    }
    pageToken = result.nextPageToken;
    if (!pageToken) break;
  }
  return best;
}

/** Gathers what deciding this command needs; nothing for commands that need nothing. */
export async function gatherFacts(
  deps: Pick<EngineDeps, 'cloudSql' | 'gkeBackup' | 'clock'>,
  envelope: AnyEnvelope,
  instance: InstanceRecord | undefined,
): Promise<PreflightFacts> {
  // A command that will be refused anyway (unknown, busy) needs no facts.
  if (instance === undefined || instance.lease !== null || instance.status === 'deleted') return {};
  const { project, sqlInstance, backupPlan } = instance.resources;
  if (envelope.type === 'instance.restore') {
    const source = envelope.payload.source;
    if (source.kind === 'point-in-time') {
      const sql = await deps.cloudSql.getInstance(project, sqlInstance);
      const config = sql?.settings.backupConfiguration;
      if (!sql || !config?.pointInTimeRecoveryEnabled) return { recoveryWindow: null };
      const latest = await deps.cloudSql.getLatestRecoveryTime(project, sqlInstance);
      if (latest === undefined) return { recoveryWindow: null };
      const logsFrom = deps.clock.now().getTime() - config.transactionLogRetentionDays * 86_400_000;
      const earliest = Math.max(logsFrom, sql.createTime ? Date.parse(sql.createTime) : logsFrom);
      return { recoveryWindow: { earliest: new Date(earliest).toISOString(), latest } };
    }
    const facts: PreflightFacts = {};
    if (source.cloudSqlBackupRunId !== undefined) {
      const run = await deps.cloudSql.getBackupRun(project, sqlInstance, source.cloudSqlBackupRunId);
      facts.namedSqlRun = run ? { id: run.id, status: run.status, instance: run.instance, ...(run.endTime ? { endTime: run.endTime } : {}) } : null;
    }
    if (source.gkeBackup !== undefined) {
      // Only this instance's backups may be restored into it.
      const ours = source.gkeBackup.startsWith(`${backupPlan}/backups/`);
      const backup = ours ? await deps.gkeBackup.getBackup(source.gkeBackup) : undefined;
      facts.namedGkeBackup = backup ? { name: backup.name, state: backup.state, ...(backup.completeTime ? { completeTime: backup.completeTime } : {}) } : null;
    }
    return facts;
  }
  if (envelope.type === 'instance.disaster-recovery') {
    const [sql, gke] = await Promise.all([latestSqlRun(deps, project, sqlInstance), latestGkeBackup(deps, backupPlan)]);
    return {
      latestSqlRun: sql?.endTime ? { id: sql.id, endTime: sql.endTime, ...(sql.location ? { location: sql.location } : {}) } : null,
      latestGkeBackup: gke?.completeTime ? { name: gke.name, completeTime: gke.completeTime } : null,
    };
  }
  return {};
}

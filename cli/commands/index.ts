/**
 * The `mi` commands, one file (or folder) per command group, registered here in the order
 * `mi --help` lists them: instance.ts (`mi instance list|get`), lifecycle/ (the table of
 * lifecycle commands that publish on mi-lifecycle: backup, check, upgrade, create, restore,
 * delete, dr, and the one submit-and-follow helper), op.ts (`mi op list|get|abandon`), audit.ts
 * (`mi audit`), approve.ts and apply.ts (decisions posted to authenticated functions),
 * rollout.ts, workflow.ts (an executor action across a filtered set, on the rollout's waves),
 * dev.ts (`mi dev`, the local stack of cli/dev/), compliance.ts (runs, reports and `mi instance
 * extend`), access.ts (time-bound access through Privileged Access Manager) and dashboard.ts
 * (the fleet dashboard through a loopback proxy that adds your ID token).
 *
 * Each group is loaded only when an invocation needs it: `mi instance list` loads the groups
 * that add to `instance`, not the rollout's or the local stack's (cli/help-manifest.ts says
 * which, from the tree itself).
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';

type Register = (program: Command, ctx: CliContext) => void;

/** The groups, in registration order (a group may add to a command an earlier one made). */
export const REGISTRATIONS = [
  { key: 'instance', load: async (): Promise<Register> => (await import('./instance.js')).registerInstanceCommands },
  { key: 'lifecycle', load: async (): Promise<Register> => (await import('./lifecycle/index.js')).registerLifecycleCommands },
  { key: 'backups', load: async (): Promise<Register> => (await import('./backups.js')).registerBackupListCommand },
  { key: 'op', load: async (): Promise<Register> => (await import('./op.js')).registerOpCommands },
  { key: 'audit', load: async (): Promise<Register> => (await import('./audit.js')).registerAuditCommand },
  { key: 'approve', load: async (): Promise<Register> => (await import('./approve.js')).registerApproveCommand },
  { key: 'apply', load: async (): Promise<Register> => (await import('./apply.js')).registerApplyCommands },
  { key: 'rollout', load: async (): Promise<Register> => (await import('./rollout.js')).registerRolloutCommands },
  { key: 'workflow', load: async (): Promise<Register> => (await import('./workflow.js')).registerWorkflowCommands },
  { key: 'dev', load: async (): Promise<Register> => (await import('./dev.js')).registerDevCommand },
  { key: 'compliance', load: async (): Promise<Register> => (await import('./compliance.js')).registerComplianceCommands },
  { key: 'access', load: async (): Promise<Register> => (await import('./access.js')).registerAccessCommands },
  { key: 'dashboard', load: async (): Promise<Register> => (await import('./dashboard.js')).registerDashboardCommand },
  // Last: it completes the commands registered before it, so it needs them all.
  { key: 'completion', load: async (): Promise<Register> => (await import('./completion.js')).registerCompletionCommand },
] as const;

export type RegistrationKey = (typeof REGISTRATIONS)[number]['key'];

/** Registers the groups named (default: every one) on the program, in registration order. */
export async function registerCommands(program: Command, ctx: CliContext, only?: ReadonlySet<string>): Promise<void> {
  const chosen = REGISTRATIONS.filter((r) => only === undefined || only.has(r.key));
  const registers = await Promise.all(chosen.map((r) => r.load()));
  for (const register of registers) register(program, ctx);
}

/**
 * The `mi` commands, one file (or folder) per command group, registered here in the order
 * `mi --help` lists them: instance.ts (`mi instance list|get`), lifecycle/ (the table of
 * lifecycle commands that publish on mi-lifecycle: backup, upgrade, create, restore, delete,
 * dr, and the one submit-and-follow helper), op.ts (`mi op list|get|abandon`), audit.ts (`mi audit`), approve.ts and
 * apply.ts (decisions posted to authenticated functions), rollout.ts, workflow.ts (an executor action across a filtered set, on the rollout's waves), dev.ts (`mi dev`, the
 * local stack of cli/dev/), compliance.ts (runs, reports and `mi instance extend`) and
 * access.ts (time-bound access through Privileged Access Manager).
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { registerAccessCommands } from './access.js';
import { registerAuditCommand } from './audit.js';
import { registerBackupListCommand } from './backups.js';
import { registerCompletionCommand } from './completion.js';
import { registerApplyCommands } from './apply.js';
import { registerApproveCommand } from './approve.js';
import { registerComplianceCommands } from './compliance.js';
import { registerDevCommand } from './dev.js';
import { registerInstanceCommands } from './instance.js';
import { registerLifecycleCommands } from './lifecycle/index.js';
import { registerOpCommands } from './op.js';
import { registerRolloutCommands } from './rollout.js';
import { registerWorkflowCommands } from './workflow.js';

/** Registers every command on the program. */
export function registerCommands(program: Command, ctx: CliContext): void {
  registerInstanceCommands(program, ctx);
  registerLifecycleCommands(program, ctx);
  registerBackupListCommand(program, ctx);
  registerOpCommands(program, ctx);
  registerAuditCommand(program, ctx);
  registerApproveCommand(program, ctx);
  registerApplyCommands(program, ctx);
  registerRolloutCommands(program, ctx);
  registerWorkflowCommands(program, ctx);
  registerDevCommand(program, ctx);
  registerComplianceCommands(program, ctx);
  registerAccessCommands(program, ctx);
  // Last: it completes the commands registered before it.
  registerCompletionCommand(program, ctx);
}

/**
 * `mi apply list` and `mi apply confirm`: the module applies the deployment repository's merges
 * asked for. The list reads `moduleApplies` and groups what waits by module and commit, with the
 * plan summaries. A confirmation goes to the authenticated applyConfirmations function, which
 * records who confirmed from the caller's Google ID token (gcloud's in the cloud, one signed with
 * `mi dev`'s local key in local mode).
 */
import { execFile } from 'node:child_process';
import type { Command } from 'commander';
import { z } from 'zod';
import { ACTIVE_APPLY_STATUSES, WAVES, type ModuleApplyRecord } from '../../shared/domain/deployments/applies.js';
import { describeError } from '../../shared/errors.js';
import { createLocalSigner } from '../../shared/identity/index.js';
import { FIRESTORE_EMULATOR_VARIABLE, PUBSUB_EMULATOR_VARIABLE, type CliEnv } from '../backend.js';
import { EXIT } from '../config.js';
import type { CliContext } from '../context.js';
import { identityFilePath, readIdentityFile } from '../dev/identity-file.js';
import { CliError, refused } from '../errors.js';
import { parseFlags } from '../flags.js';
import { line, printJson, table } from '../output.js';
import { COLLECTIONS } from '../../shared/store/collections.js';
import type { VariableName } from '../../shared/environment.js';

/** The applyConfirmations function's URL in the cloud (a stack output of the infrastructure). */
export const CONFIRMATIONS_URL_VARIABLE = 'MI_APPLY_CONFIRMATIONS_URL';
/** The audience its ID tokens must carry, when not its URL: the same variable the function itself reads. */
export const CONFIRMATIONS_AUDIENCE_VARIABLE = 'MI_APPLY_CONFIRMATIONS_AUDIENCE' satisfies VariableName;
const REQUEST_TIMEOUT_MS = 15_000;

const listFlags = z.object({ all: z.boolean().optional(), json: z.boolean().optional() });
const confirmFlags = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._()-]{0,200}$/, { error: 'expected a module apply id (mi apply list shows them)' }).optional(),
    module: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { error: 'expected a module name' }).optional(),
    commit: z.string().regex(/^[0-9a-f]{7,64}$/, { error: 'expected a commit id (at least 7 hex digits)' }).optional(),
    json: z.boolean().optional(),
  })
  .refine((f) => (f.id !== undefined) !== (f.module !== undefined || f.commit !== undefined), { error: 'give an apply id, or --module and --commit (not both)' })
  .refine((f) => f.id !== undefined || (f.module !== undefined && f.commit !== undefined), { error: '--module and --commit go together' });

function setting(env: CliEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** Groups applies by module and commit, newest commit first. */
export function groupApplies(applies: readonly ModuleApplyRecord[]): Array<{ module: string; commit: string; applies: ModuleApplyRecord[] }> {
  const groups = new Map<string, { module: string; commit: string; committedAt: string; applies: ModuleApplyRecord[] }>();
  for (const apply of applies) {
    const key = `${apply.module}\n${apply.commit}`;
    const group = groups.get(key) ?? { module: apply.module, commit: apply.commit, committedAt: apply.committedAt, applies: [] };
    group.applies.push(apply);
    groups.set(key, group);
  }
  return [...groups.values()]
    .sort((a, b) => b.committedAt.localeCompare(a.committedAt) || a.module.localeCompare(b.module))
    .map(({ module, commit, applies: list }) => ({ module, commit, applies: list.sort((x, y) => x.wave - y.wave || x.instanceId.localeCompare(y.instanceId)) }));
}

async function confirmationTarget(ctx: CliContext): Promise<{ url: string; token: string; local: boolean }> {
  const env = ctx.io.env;
  if (setting(env, FIRESTORE_EMULATOR_VARIABLE) !== undefined || setting(env, PUBSUB_EMULATOR_VARIABLE) !== undefined) {
    const path = identityFilePath(env);
    const file = await readIdentityFile(path).catch((error: unknown) => {
      throw new CliError(`cannot read the local identity of mi dev (${describeError(error)}): restart \`mi dev\``, EXIT.unreachable, { cause: error });
    });
    if (file === undefined) throw new CliError(`no local identity at ${path}: is \`mi dev\` running?`, EXIT.unreachable);
    const url = setting(env, CONFIRMATIONS_URL_VARIABLE) ?? `${file.functionsUrl}/applyConfirmations`;
    const signer = await createLocalSigner({ privateJwk: file.privateJwk, issuer: file.issuer });
    return { url, token: await signer.sign({ email: ctx.actor(), audience: url, expiresInSeconds: 300 }), local: true };
  }
  const url = setting(env, CONFIRMATIONS_URL_VARIABLE);
  if (url === undefined) throw refused(`no applyConfirmations function: set ${CONFIRMATIONS_URL_VARIABLE} to its URL`);
  const audience = setting(env, CONFIRMATIONS_AUDIENCE_VARIABLE) ?? url;
  const token = await new Promise<string>((resolve, reject) => {
    execFile('gcloud', ['auth', 'print-identity-token', `--audiences=${audience}`], { timeout: 30_000, encoding: 'utf8' }, (error, stdout) => {
      if (error || stdout.trim() === '') reject(new CliError('cannot get a Google ID token from gcloud: run gcloud auth login, then mi apply confirm again', EXIT.unreachable, { cause: error }));
      else resolve(stdout.trim());
    });
  });
  return { url, token, local: false };
}

/** Registers `mi apply list` and `mi apply confirm`. */
export function registerApplyCommands(program: Command, ctx: CliContext): void {
  const apply = program.command('apply').description('module applies asked for by merges on the deployment repository');

  apply
    .command('list')
    .description('what waits (plans to confirm, applies waiting for their wave), grouped by module and commit with the plan summaries')
    .option('--all', 'also applied, failed, halted and superseded ones')
    .option('--json', 'print the applies as JSON')
    .action(async (_options: unknown, command: Command) => {
      const flags = parseFlags(listFlags, command.opts(), {});
      const { store } = ctx.backend(command);
      const docs = await store.query<ModuleApplyRecord>({
        collection: COLLECTIONS.moduleApplies,
        ...(flags.all ? { limit: 1000 } : { where: [{ field: 'status', op: 'in', value: ACTIVE_APPLY_STATUSES }], limit: 1000 }),
      });
      const groups = groupApplies(docs.map((d) => d.data));
      if (flags.json) {
        printJson(ctx.io.stdout, groups);
        return;
      }
      if (groups.length === 0) {
        line(ctx.io.stdout, 'nothing waits: no module apply is pending');
        return;
      }
      for (const group of groups) {
        line(ctx.io.stdout, `${group.module} at ${group.commit.slice(0, 12)} (${group.applies.length} instance${group.applies.length === 1 ? '' : 's'}; mi apply confirm --module ${group.module} --commit ${group.commit.slice(0, 12)})`);
        const rows = group.applies.map((a) => [a.id, a.instanceId, WAVES[a.wave] ?? String(a.wave), a.mode, a.status, a.planSummary ?? a.failure ?? '', a.confirmedBy ?? '']);
        for (const text of table(['APPLY', 'INSTANCE', 'WAVE', 'MODE', 'STATUS', 'PLAN / FAILURE', 'CONFIRMED BY'], rows)) line(ctx.io.stdout, `  ${text}`);
        line(ctx.io.stdout);
      }
    });

  apply
    .command('confirm')
    .description('confirm a plan (or an instance delete from the repository); you are identified by your Google ID token')
    .argument('[id]', 'the apply id (mi apply list shows it)')
    .option('--module <module>', 'confirm this module for every instance at --commit')
    .option('--commit <commit>', 'the merge commit (12 digits or more)')
    .option('--json', "print the function's answer as JSON")
    .action(async (id: string | undefined, _options: unknown, command: Command) => {
      const flags = parseFlags(confirmFlags, { ...command.opts(), ...(id === undefined ? {} : { id }) }, { id: '<id>', module: '--module', commit: '--commit' });
      const target = await confirmationTarget(ctx);
      let response: Response;
      try {
        response = await fetch(target.url, {
          method: 'POST',
          headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(flags.id !== undefined ? { applyId: flags.id } : { module: flags.module, commit: flags.commit }),
          signal: AbortSignal.timeout(ctx.io.deadlineMs ?? REQUEST_TIMEOUT_MS),
        });
      } catch (error) {
        throw new CliError(`cannot reach the applyConfirmations function at ${target.url}: ${describeError(error)}${target.local ? ' (is `mi dev` running?)' : ''}`, EXIT.unreachable, { cause: error });
      }
      const body = (await response.json().catch(() => ({}))) as { confirmed?: string[]; by?: string; message?: string; error?: string };
      if (response.status === 200) {
        if (flags.json) printJson(ctx.io.stdout, body);
        else line(ctx.io.stdout, `confirmed ${(body.confirmed ?? []).join(', ')} as ${body.by ?? 'you'}; they apply in waves (mi apply list)`);
        return;
      }
      const said = body.message ?? body.error ?? `HTTP ${response.status}`;
      if (response.status === 401) throw new CliError(`the applyConfirmations function refused your identity: ${said}`, EXIT.unreachable);
      if (response.status >= 400 && response.status < 500) throw refused(`not confirmed: ${said}`);
      throw new CliError(`the applyConfirmations function failed (HTTP ${response.status}): ${said}`, response.status >= 500 ? EXIT.unreachable : EXIT.failed);
    });
}

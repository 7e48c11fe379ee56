/**
 * `mi approve <operation>`: the second person's approval of an operation that waits for one (a
 * prod delete). It goes to the authenticated approvals function, which takes the approver from
 * the caller's Google ID token: in the cloud one that gcloud prints for the operator, in local
 * mode one signed with the key `mi dev` left in `.mi-dev/identity.json` for the local operator.
 */
import { execFile } from 'node:child_process';
import type { Command } from 'commander';
import { z } from 'zod';
import { describeError } from '../../shared/errors.js';
import { createLocalSigner } from '../../shared/identity/index.js';
import { FIRESTORE_EMULATOR_VARIABLE, PUBSUB_EMULATOR_VARIABLE, type CliEnv } from '../backend.js';
import { EXIT } from '../config.js';
import type { CliContext } from '../context.js';
import { identityFilePath, readIdentityFile } from '../dev/identity-file.js';
import type { VariableName } from '../../shared/environment.js';
import { CliError, refused } from '../errors.js';
import { operationIdSchema, parseFlags } from '../flags.js';
import { line, printJson } from '../output.js';

/** The approvals function's URL in the cloud (a stack output of the infrastructure). */
export const APPROVALS_URL_VARIABLE = 'MI_APPROVALS_URL';
/** The audience its ID tokens must carry, when not its URL: the same variable the function itself reads. */
export const APPROVALS_AUDIENCE_VARIABLE = 'MI_APPROVALS_AUDIENCE' satisfies VariableName;

/** Local tokens are short-lived: each `mi approve` signs a new one. */
const LOCAL_TOKEN_SECONDS = 300;
const REQUEST_TIMEOUT_MS = 15_000;
const GCLOUD_TIMEOUT_MS = 30_000;

const approveFlags = z.object({ operation: operationIdSchema, json: z.boolean().optional() });

interface Approval {
  url: string;
  token: string;
  local: boolean;
}

function setting(env: CliEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** Local mode: an emulator variable is set, as for every other command. */
function isLocal(env: CliEnv): boolean {
  return setting(env, FIRESTORE_EMULATOR_VARIABLE) !== undefined || setting(env, PUBSUB_EMULATOR_VARIABLE) !== undefined;
}

/** A token signed with `mi dev`'s local key for the local operator (MI_ACTOR, git's email, or $USER@local). */
async function localApproval(ctx: CliContext): Promise<Approval> {
  const path = identityFilePath(ctx.io.env);
  let file;
  try {
    file = await readIdentityFile(path);
  } catch (error) {
    throw new CliError(`cannot read the local identity of mi dev (${describeError(error)}): restart \`mi dev\``, EXIT.unreachable, { cause: error });
  }
  if (file === undefined) {
    throw new CliError(`no local identity at ${path}: is \`mi dev\` running? (it writes this file when it starts and removes it when it stops)`, EXIT.unreachable);
  }
  const signer = await createLocalSigner({ privateJwk: file.privateJwk, issuer: file.issuer });
  const token = await signer.sign({ email: ctx.actor(), audience: file.audience, expiresInSeconds: LOCAL_TOKEN_SECONDS });
  return { url: setting(ctx.io.env, APPROVALS_URL_VARIABLE) ?? file.approvalsUrl, token, local: true };
}

/** The operator's Google ID token for `audience`, as gcloud prints it. */
function gcloudIdentityToken(audience: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('gcloud', ['auth', 'print-identity-token', `--audiences=${audience}`], { timeout: GCLOUD_TIMEOUT_MS, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) {
        const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'gcloud is not installed or not on PATH' : (stderr.trim().split('\n').pop() ?? error.message);
        reject(new CliError(`cannot get a Google ID token from gcloud (${why}): run gcloud auth login, then mi approve again`, EXIT.unreachable, { cause: error }));
        return;
      }
      const token = stdout.trim();
      if (token === '') reject(new CliError('gcloud printed no ID token: run gcloud auth login, then mi approve again', EXIT.unreachable));
      else resolve(token);
    });
  });
}

async function cloudApproval(env: CliEnv): Promise<Approval> {
  const url = setting(env, APPROVALS_URL_VARIABLE);
  if (url === undefined) {
    throw refused(`no approvals function: set ${APPROVALS_URL_VARIABLE} to its URL (for the local stack, run \`mi dev\` and set FIRESTORE_EMULATOR_HOST as it prints)`);
  }
  return { url, token: await gcloudIdentityToken(setting(env, APPROVALS_AUDIENCE_VARIABLE) ?? url), local: false };
}

const answerSchema = z.looseObject({
  approved: z.string().optional(),
  by: z.string().optional(),
  error: z.string().optional(),
  message: z.string().optional(),
});

/** Posts the approval; what the function answered, status and body. */
async function post(approval: Approval, operationId: string, timeoutMs: number): Promise<{ status: number; body: z.infer<typeof answerSchema> }> {
  let response: Response;
  try {
    response = await fetch(approval.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${approval.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ operationId }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const hint = approval.local ? ' (is `mi dev` running?)' : ` (check ${APPROVALS_URL_VARIABLE} and your network)`;
    throw new CliError(`cannot reach the approvals function at ${approval.url}: ${describeError(error)}${hint}`, EXIT.unreachable, { cause: error });
  }
  const text = await response.text();
  let json: unknown = {};
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  const parsed = answerSchema.safeParse(json);
  return { status: response.status, body: parsed.success ? parsed.data : {} };
}

/** Registers `mi approve`. */
export function registerApproveCommand(program: Command, ctx: CliContext): void {
  program
    .command('approve')
    .description('approve an operation that waits for a second person (a prod delete); you are identified by your Google ID token, and cannot approve your own')
    .argument('<operation>', 'the operation id (op-<event id>)')
    .option('--json', "print the function's answer as JSON")
    .action(async (id: string, _options: unknown, command: Command) => {
      const flags = parseFlags(approveFlags, { ...command.opts(), operation: id }, { operation: '<operation>' });
      const approval = isLocal(ctx.io.env) ? await localApproval(ctx) : await cloudApproval(ctx.io.env);
      const { status, body } = await post(approval, flags.operation, ctx.io.deadlineMs ?? REQUEST_TIMEOUT_MS);
      const said = body.message ?? body.error ?? `HTTP ${status}`;
      if (status === 200) {
        if (flags.json) printJson(ctx.io.stdout, body);
        else line(ctx.io.stdout, `approved ${body.approved ?? flags.operation} as ${body.by ?? 'you'}; it goes on (mi op get ${flags.operation})`);
        return;
      }
      if (status === 401) throw new CliError(`the approvals function refused your identity: ${said}`, EXIT.unreachable);
      // Refused before anything was recorded: unknown operation, not waiting, your own, a bad request.
      if (status >= 400 && status < 500) throw refused(`not approved: ${said}`);
      throw new CliError(`the approvals function at ${approval.url} failed (HTTP ${status}): ${said}`, status >= 500 ? EXIT.unreachable : EXIT.failed);
    });
}

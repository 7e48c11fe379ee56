/**
 * How `mi` asks the control plane to change something: a POST to the `commands` function
 * carrying the caller's Google ID token. Who asks is the token's, never a flag or a variable:
 *
 * - in the cloud, a person's token comes from `gcloud auth print-identity-token` (for user
 *   accounts gcloud mints tokens for its own client id only, which the function accepts), a
 *   service account's from its credentials (google-auth-library, audience the function's URL);
 * - on the local stack, mi signs one with the key `mi dev` left in `.mi-dev/identity.json`, for
 *   the local operator (`--as`, else git's email, else $USER@local): that key is this machine's,
 *   so local mode proves nothing, and `--as` is refused in the cloud.
 *
 * The token goes in both X-Serverless-Authorization (which Cloud Run checks for the invoker
 * role, then strips of its signature) and Authorization (which reaches the function whole, for
 * it to verify again and take the caller from).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import * as z from 'zod';
import type { CommandRequest } from '../shared/commands/index.js';
import { describeError } from '../shared/errors.js';
import { FIRESTORE_EMULATOR_VARIABLE, PUBSUB_EMULATOR_VARIABLE, type CliEnv } from './backend.js';
import { EXIT } from './config.js';
import type { CliContext } from './context.js';
import { identityFilePath, readIdentityFile, type LocalIdentityFile } from './dev/identity-file.js';
import { CliError, refused } from './errors.js';

/** The commands function's URL in the cloud (the stack output `functionUrls.commands`). */
export const COMMANDS_URL_VARIABLE = 'MI_COMMANDS_URL';
/** `user` (gcloud's token, the default) or `service-account` (the credentials' own); a service-account key file implies the latter. */
export const IDENTITY_KIND_VARIABLE = 'MI_IDENTITY';

/** Local tokens are short-lived: each command signs a new one. */
const LOCAL_TOKEN_SECONDS = 300;
const REQUEST_TIMEOUT_MS = 15_000;
const GCLOUD_TIMEOUT_MS = 30_000;

/** Where a command goes and with which token. */
export interface CommandsTarget {
  url: string;
  token: string;
  local: boolean;
}

function setting(env: CliEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** Local mode: an emulator variable is set, as for every other command. */
export function isLocalMode(env: CliEnv): boolean {
  return setting(env, FIRESTORE_EMULATOR_VARIABLE) !== undefined || setting(env, PUBSUB_EMULATOR_VARIABLE) !== undefined;
}

/** `--as`, given on the command line before the command. */
function claimedAs(command: Command): string | undefined {
  return command.optsWithGlobals<{ as?: string }>().as;
}

/** A token for the local operator (`--as`, else git's email), signed with the key `mi dev` left, and the file it came from. */
export async function localToken(ctx: CliContext, command: Command): Promise<{ file: LocalIdentityFile; token: string }> {
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
  // Loaded here: a command that only reads never pays for the token libraries.
  const { createLocalSigner } = await import('../shared/identity/index.js');
  const signer = await createLocalSigner({ privateJwk: file.privateJwk, issuer: file.issuer });
  const email = claimedAs(command) ?? ctx.localOperator();
  const token = await signer.sign({ email, audience: file.audience, expiresInSeconds: LOCAL_TOKEN_SECONDS });
  return { file, token };
}

async function localTarget(ctx: CliContext, command: Command): Promise<CommandsTarget> {
  const { file, token } = await localToken(ctx, command);
  return { url: setting(ctx.io.env, COMMANDS_URL_VARIABLE) ?? file.commandsUrl, token, local: true };
}

/** The running `mi dev`'s clock as its identity file says: how much shorter a soak, and the calendar windows are read on (the real ones when none runs). */
export async function localClock(env: CliEnv): Promise<{ soakScale: number; windowClock?: { speedup: number; epochMs: number } }> {
  const file = await readIdentityFile(identityFilePath(env)).catch(() => undefined);
  return { soakScale: file?.soakScale ?? 1, ...(file?.windowClock === undefined ? {} : { windowClock: file.windowClock }) };
}

/** A person's Google ID token, as gcloud prints it (for gcloud's own client id: user accounts cannot ask for another audience). */
function gcloudIdentityToken(env: CliEnv): Promise<string> {
  // gcloud found on the PATH mi was given (a test's own), with the rest of this process's environment.
  const path = setting(env, 'PATH') ?? process.env.PATH;
  return new Promise((resolve, reject) => {
    execFile('gcloud', ['auth', 'print-identity-token'], { timeout: GCLOUD_TIMEOUT_MS, encoding: 'utf8', env: { ...process.env, ...(path === undefined ? {} : { PATH: path }) } }, (error, stdout, stderr) => {
      if (error) {
        const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'gcloud is not installed or not on PATH' : (stderr.trim().split('\n').pop() ?? error.message);
        reject(new CliError(`cannot get a Google ID token from gcloud (${why}): run gcloud auth login, then try again`, EXIT.unreachable, { cause: error }));
        return;
      }
      const token = stdout.trim();
      if (token === '') reject(new CliError('gcloud printed no ID token: run gcloud auth login, then try again', EXIT.unreachable));
      else resolve(token);
    });
  });
}

/** Whether the credentials are a service account's: said by MI_IDENTITY, or by the key file GOOGLE_APPLICATION_CREDENTIALS names. */
export function usesServiceAccount(env: CliEnv, readKeyFile: (path: string) => string = (path) => readFileSync(path, 'utf8')): boolean {
  const kind = setting(env, IDENTITY_KIND_VARIABLE);
  if (kind !== undefined) {
    if (kind !== 'user' && kind !== 'service-account') throw refused(`${IDENTITY_KIND_VARIABLE} is ${kind}: expected user or service-account`);
    return kind === 'service-account';
  }
  const keyFile = setting(env, 'GOOGLE_APPLICATION_CREDENTIALS');
  if (keyFile === undefined) return false;
  try {
    const parsed = z.looseObject({ type: z.string() }).safeParse(JSON.parse(readKeyFile(keyFile)));
    return parsed.success && parsed.data.type === 'service_account';
  } catch {
    // Unreadable: gcloud's own credentials then, and its error if those fail too.
    return false;
  }
}

/** A service account's ID token for the function's URL, from its credentials (key file, metadata server). */
async function serviceAccountToken(url: string): Promise<string> {
  try {
    const { GoogleAuth } = await import('google-auth-library');
    const client = await new GoogleAuth().getIdTokenClient(url);
    const token = await client.idTokenProvider.fetchIdToken(url);
    if (token === '') throw new Error('no token');
    return token;
  } catch (error) {
    throw new CliError(`cannot get an ID token for ${url} from the service account's credentials (${describeError(error)}): check GOOGLE_APPLICATION_CREDENTIALS, or unset ${IDENTITY_KIND_VARIABLE} to use gcloud's`, EXIT.unreachable, { cause: error });
  }
}

/** `--as` outside local mode: refused, whatever the command. */
export function refuseAsOutsideLocalMode(command: Command, env: CliEnv): void {
  const as = claimedAs(command);
  if (as !== undefined && !isLocalMode(env)) {
    throw refused(`--as ${as} works on the local stack only: in the cloud you are who your Google credentials say (gcloud auth login as that account)`);
  }
}

/** The caller's Google ID token in the cloud for a function at `url`: gcloud's for a person, the credentials' own for a service account. */
export function cloudIdentityToken(env: CliEnv, url: string): Promise<string> {
  return usesServiceAccount(env) ? serviceAccountToken(url) : gcloudIdentityToken(env);
}

async function cloudTarget(ctx: CliContext, command: Command): Promise<CommandsTarget> {
  refuseAsOutsideLocalMode(command, ctx.io.env);
  const url = setting(ctx.io.env, COMMANDS_URL_VARIABLE);
  if (url === undefined) {
    throw refused(`no commands function: set ${COMMANDS_URL_VARIABLE} to its URL (pulumi stack output functionUrls; for the local stack, run \`mi dev\` and set FIRESTORE_EMULATOR_HOST as it prints)`);
  }
  return { url, token: await cloudIdentityToken(ctx.io.env, url), local: false };
}

/** Where this invocation's commands go, with a token for the caller. */
export function commandsTarget(ctx: CliContext, command: Command): Promise<CommandsTarget> {
  return isLocalMode(ctx.io.env) ? localTarget(ctx, command) : cloudTarget(ctx, command);
}

const answerSchema = z.looseObject({
  accepted: z.string().optional(),
  by: z.string().optional(),
  error: z.string().optional(),
  message: z.string().optional(),
  field: z.string().optional(),
});
export type CommandAnswer = z.infer<typeof answerSchema> & Record<string, unknown>;

/** A fault worth sending the same request again for: nothing was decided. */
class Transient extends Error {}

async function post(target: CommandsTarget, request: CommandRequest, timeoutMs: number): Promise<{ status: number; body: CommandAnswer; json: boolean }> {
  let response: Response;
  try {
    response = await fetch(target.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${target.token}`, 'x-serverless-authorization': `Bearer ${target.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const hint = target.local ? ' (is `mi dev` running?)' : ` (check ${COMMANDS_URL_VARIABLE} and your network)`;
    throw new Transient(`cannot reach the commands function at ${target.url}: ${describeError(error)}${hint}`, { cause: error });
  }
  const text = await response.text();
  let parsedJson: unknown;
  try {
    parsedJson = JSON.parse(text);
  } catch {
    // Not JSON: Cloud Run's own refusal page, or a proxy's; the status says enough.
  }
  const parsed = answerSchema.safeParse(parsedJson);
  return { status: response.status, body: (parsed.success ? parsed.data : {}), json: parsed.success };
}

export interface SendOptions {
  /** What the operator asked, for messages: "approve op-…". */
  what: string;
  /**
   * Whether sending again after a fault is the same command: true for those carrying an event
   * id (lifecycle commands, compliance runs), which the function records once.
   */
  idempotent: boolean;
}

/**
 * Sends one command as the caller and returns the function's answer; a refusal becomes a
 * CliError saying what was refused and why (exit 2), an identity or reachability problem exit 3.
 */
export async function sendCommand(ctx: CliContext, command: Command, request: CommandRequest, options: SendOptions): Promise<CommandAnswer> {
  const target = await commandsTarget(ctx, command);
  const timeoutMs = ctx.io.deadlineMs ?? REQUEST_TIMEOUT_MS;
  const attempt = async () => {
    const answer = await post(target, request, timeoutMs);
    if (answer.status === 503 || answer.status === 502 || answer.status === 504 || answer.status === 429) {
      throw new Transient(`the commands function could not record it now (HTTP ${answer.status}): ${answer.body.message ?? answer.body.error ?? 'try again'}`);
    }
    return answer;
  };
  const { default: pRetry, AbortError } = await import('p-retry');
  let answer;
  try {
    answer = await pRetry(
      async () => {
        try {
          return await attempt();
        } catch (error) {
          if (error instanceof Transient && options.idempotent) throw error;
          throw new AbortError(error as Error);
        }
      },
      { retries: options.idempotent ? 3 : 0, minTimeout: 500, factor: 2 },
    );
  } catch (error) {
    if (error instanceof Transient) {
      const again = options.idempotent ? 'the same command again is answered once' : 'look before sending it again (mi op get, mi apply list, mi rollout status)';
      throw new CliError(`${error.message} — ${options.what} may or may not have been recorded; ${again}`, EXIT.unreachable, { cause: error });
    }
    throw error;
  }
  const { status, body } = answer;
  if (status === 200) return body;
  const said = body.message ?? body.error ?? `HTTP ${status}`;
  if (status === 401) throw new CliError(`the commands function refused your identity: ${said}`, EXIT.unreachable);
  if (status === 403 && !answer.json) {
    throw new CliError(`Cloud Run refused the call to ${target.url} (HTTP 403): your account may not invoke the commands function (it must be among mi:operators)`, EXIT.unreachable);
  }
  if (status >= 400 && status < 500) throw refused(`${options.what} refused: ${said}`);
  throw new CliError(`the commands function at ${target.url} failed (HTTP ${status}): ${said}`, EXIT.unreachable);
}

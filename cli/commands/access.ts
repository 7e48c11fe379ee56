/**
 * `mi access request|list|approve|deny|revoke|sweep`: time-bound access to the fleet's projects
 * through Privileged Access Manager. Every call goes to PAM with the caller's own credentials
 * (PAM decides who may approve and refuses a requester's own approval); on the local stack to
 * the simulated PAM `mi dev` serves, with a token signed by its key.
 */
import type { Command } from 'commander';
import { GoogleAuth } from 'google-auth-library';
import * as z from 'zod';
import { ACCESS_ENVIRONMENTS } from '../../shared/domain/access/entitlements.js';
import { GRANT_HOLDS_ACCESS, grantIdOf, summarizeGrant, sweepFindings, type Grant } from '../../shared/domain/access/grants.js';
import { ControlPlaneError, describeError } from '../../shared/errors.js';
import { createIamPolicyReader } from '../../shared/gcp/iam-policies.js';
import { createPamClient } from '../../shared/gcp/pam.js';
import { createLocalSigner } from '../../shared/identity/index.js';
import type { AccessPort } from '../../shared/ports.js';
import { isLocalMode, sendCommand } from '../commands-client.js';
import { EXIT } from '../config.js';
import type { CliContext } from '../context.js';
import { identityFilePath, readIdentityFile } from '../dev/identity-file.js';
import { CliError, refused } from '../errors.js';
import { durationSchema, parseFlags, reasonSchema } from '../flags.js';
import { line, printJson, table } from '../output.js';

/** The entitlements' full names, comma-separated (stack output `entitlements`). */
export const ENTITLEMENTS_VARIABLE = 'MI_ACCESS_ENTITLEMENTS';

const LABELS = { env: '--env', role: '--role', for: '--for', why: '--why', reason: '--reason', grant: '<grant>' };
const requestFlags = z.object({
  env: z.enum(ACCESS_ENVIRONMENTS, { error: 'expected dev or prod' }),
  role: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, { error: 'expected a role such as operator' }),
  for: durationSchema,
  why: reasonSchema,
  json: z.boolean().optional(),
});
const decideFlags = z.object({ grant: z.string().regex(/^[A-Za-z0-9._/-]{1,400}$/, { error: 'expected a grant id or name (mi access list shows them)' }), reason: reasonSchema, json: z.boolean().optional() });
const listFlags = z.object({ env: z.enum(ACCESS_ENVIRONMENTS).optional(), json: z.boolean().optional() });

interface AccessClients {
  pam: AccessPort;
  entitlements: string[];
  /** Where IAM policies are read (Resource Manager, or the simulator). */
  policies: ReturnType<typeof createIamPolicyReader>;
}

async function accessClients(ctx: CliContext, command: Command): Promise<AccessClients> {
  const env = ctx.io.env;
  if (isLocalMode(env)) {
    const file = await readIdentityFile(identityFilePath(env)).catch((error: unknown) => {
      throw new CliError(`cannot read the local identity of mi dev (${describeError(error)})`, EXIT.unreachable, { cause: error });
    });
    if (file?.access === undefined) throw new CliError('no simulated access manager: is `mi dev` running?', EXIT.unreachable);
    const { url, entitlements } = file.access;
    const signer = await createLocalSigner({ privateJwk: file.privateJwk, issuer: file.issuer });
    const email = command.optsWithGlobals<{ as?: string }>().as ?? ctx.localOperator();
    const token = () => signer.sign({ email, audience: url, expiresInSeconds: 300 });
    return { pam: createPamClient({ endpoint: url, token }), entitlements, policies: createIamPolicyReader({ endpoint: url, token }) };
  }
  const entitlements = (env[ENTITLEMENTS_VARIABLE] ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (entitlements.length === 0) throw refused(`no entitlements: set ${ENTITLEMENTS_VARIABLE} to their names (pulumi stack output entitlements)`);
  const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
  const token = async () => {
    const got = await auth.getAccessToken().catch((error: unknown) => {
      throw new CliError(`no Google credentials for PAM (${describeError(error)}): run gcloud auth application-default login`, EXIT.unreachable, { cause: error });
    });
    if (got === null || got === undefined || got === '') throw new CliError('no Google access token: run gcloud auth application-default login', EXIT.unreachable);
    return got;
  };
  return { pam: createPamClient({ token }), entitlements, policies: createIamPolicyReader({ token }) };
}

/** A PAM refusal as the operator reads it (exit 2), its unavailability as exit 3. */
async function pamCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ControlPlaneError) {
      const said = error.message.replace(/^PAM [\w.]+ failed with \d+ [A-Z_]+: /, '');
      if (error.retryable || error.code === 'unavailable') throw new CliError(`PAM did not answer ${what}: ${said}`, EXIT.unreachable, { cause: error });
      throw refused(`${what} refused: ${said}`, error);
    }
    throw error;
  }
}

/** The grant's full name: as given, or found by its id among the entitlements' grants. */
async function grantNamed(clients: AccessClients, grant: string): Promise<string> {
  if (grant.includes('/grants/')) return grant;
  for (const entitlement of clients.entitlements) {
    const found = (await pamCall('finding the grant', () => clients.pam.grants(entitlement))).find((g) => grantIdOf(g.name) === grant);
    if (found !== undefined) return found.name;
  }
  throw refused(`no grant ${grant} (mi access list shows them)`);
}

function describeGrant(grant: Grant): string {
  const s = summarizeGrant(grant);
  return `${grantIdOf(s.grant)} on ${s.entitlement} for ${s.requester}: ${s.state}${s.approvedBy === null ? '' : `, approved by ${s.approvedBy}`}${s.start === null ? '' : `, from ${s.start}`}${s.end === null ? '' : ` to ${s.end}`}`;
}

/** The caller's active grant on an environment, if any (any role): what workon and db proxy need on prod. */
export async function activeGrantOf(ctx: CliContext, command: Command, environment: string): Promise<Grant | undefined> {
  const clients = await accessClients(ctx, command);
  const mine = clients.entitlements.filter((e) => e.includes(`/entitlements/${environment}-`));
  const grants = (await Promise.all(mine.map((e) => pamCall('your grants', () => clients.pam.grants(e, 'HAD_CREATED'))))).flat();
  return grants.find((g) => g.state === 'ACTIVE');
}

export function registerAccessCommands(program: Command, ctx: CliContext): void {
  const access = program.command('access').description('time-bound access to the fleet through Privileged Access Manager: requested with a reason, approved by someone else on prod, removed when it ends');

  access
    .command('request')
    .description('ask for a role on an environment for a while, saying why')
    .requiredOption('--env <env>', 'dev or prod')
    .requiredOption('--role <role>', 'the role, e.g. operator or breakglass')
    .requiredOption('--for <duration>', 'how long, e.g. 1h (at most what the entitlement allows)')
    .requiredOption('--why <text>', 'the justification, recorded with the grant')
    .option('--json', 'print the grant')
    .action(async (_options: unknown, command: Command) => {
      const flags = parseFlags(requestFlags, command.opts(), LABELS);
      const clients = await accessClients(ctx, command);
      const entitlement = clients.entitlements.find((e) => e.endsWith(`/entitlements/${flags.env}-${flags.role}`));
      if (entitlement === undefined) throw refused(`no entitlement ${flags.env}-${flags.role} (there are: ${clients.entitlements.map((e) => e.slice(e.lastIndexOf('/') + 1)).join(', ')})`);
      const grant = await pamCall(`the request for ${flags.env}-${flags.role}`, () => clients.pam.request(entitlement, flags.for / 3_600_000, flags.why));
      if (flags.json) {
        printJson(ctx.io.stdout, grant);
        return;
      }
      line(ctx.io.stdout, `requested ${describeGrant(grant)}`);
      if (grant.state === 'APPROVAL_AWAITED') line(ctx.io.stdout, `waiting for someone else to approve: mi access approve ${grantIdOf(grant.name)} --reason "…"`);
    });

  access
    .command('list')
    .description('grants of every entitlement: who asked, why, who approved, when access began and ends')
    .option('--env <env>', 'only dev or prod')
    .option('--json', 'print the grants')
    .action(async (_options: unknown, command: Command) => {
      const flags = parseFlags(listFlags, command.opts(), LABELS);
      const clients = await accessClients(ctx, command);
      const chosen = clients.entitlements.filter((e) => flags.env === undefined || e.includes(`/entitlements/${flags.env}-`));
      const grants = (await Promise.all(chosen.map((e) => pamCall('the list of grants', () => clients.pam.grants(e))))).flat();
      if (flags.json) {
        printJson(ctx.io.stdout, grants.map(summarizeGrant));
        return;
      }
      const rows = grants.map(summarizeGrant).map((s) => [grantIdOf(s.grant), s.entitlement, s.requester, s.state, `${s.hours}h`, s.reason, s.approvedBy ?? '', s.start ?? '', s.end ?? '']);
      for (const text of table(['GRANT', 'ENTITLEMENT', 'REQUESTER', 'STATE', 'FOR', 'WHY', 'APPROVED BY', 'START', 'END'], rows)) line(ctx.io.stdout, text);
    });

  const decision = (verb: 'approve' | 'deny' | 'revoke', description: string) =>
    access
      .command(verb)
      .description(description)
      .argument('<grant>', 'the grant id (mi access list) or its full name')
      .requiredOption('--reason <text>', 'why (recorded with the grant)')
      .option('--json', 'print the grant')
      .action(async (grant: string, _options: unknown, command: Command) => {
        const flags = parseFlags(decideFlags, { ...command.opts(), grant }, LABELS);
        const clients = await accessClients(ctx, command);
        const name = await grantNamed(clients, flags.grant);
        const pam = clients.pam;
        if (verb === 'revoke') await pamCall(`revoking ${grantIdOf(name)}`, () => pam.revoke(name, flags.reason));
        else await pamCall(`${verb === 'approve' ? 'approving' : 'denying'} ${grantIdOf(name)}`, () => (verb === 'approve' ? pam.approve(name, flags.reason) : pam.deny(name, flags.reason)));
        const after = await pamCall('reading the grant', () => pam.get(name));
        if (flags.json) printJson(ctx.io.stdout, after);
        else line(ctx.io.stdout, describeGrant(after));
      });
  decision('approve', "approve someone else's request (PAM refuses your own)");
  decision('deny', "deny someone else's request");
  decision('revoke', 'end an active grant now');

  access
    .command('review')
    .description('record the after-the-fact review of a break-glass grant (someone other than its requester); the sweep stops reporting it')
    .argument('<grant>', 'the grant id (mi access list) or its full name')
    .requiredOption('--reason <text>', 'what the review found')
    .action(async (grant: string, _options: unknown, command: Command) => {
      const flags = parseFlags(decideFlags, { ...command.opts(), grant }, LABELS);
      const answer = await sendCommand(ctx, command, { command: 'access.review', grant: grantIdOf(flags.grant), reason: flags.reason }, { what: `reviewing ${grantIdOf(flags.grant)}`, idempotent: false });
      line(ctx.io.stdout, `reviewed ${grantIdOf(flags.grant)} as ${answer.by ?? 'you'}`);
    });

  access
    .command('sweep')
    .description('every human binding on prod that no active grant explains, and every break-glass grant not yet reviewed; exit 1 when there is any')
    .option('--json', 'print the findings')
    .action(async (options: { json?: boolean }, command: Command) => {
      const clients = await accessClients(ctx, command);
      const prod = clients.entitlements.filter((e) => e.includes('/entitlements/prod-'));
      const resources = [...new Set(prod.map((e) => e.slice(0, e.indexOf('/locations/'))))];
      const bindings = (await Promise.all(resources.map((r) => pamCall('reading the IAM policy', () => clients.policies.bindings(r))))).flat();
      const grants = (await Promise.all(prod.map((e) => pamCall('the list of grants', () => clients.pam.grants(e))))).flat();
      const findings = sweepFindings({ bindings, grants, breakglassEntitlements: ['prod-breakglass'], reviewedGrants: new Set() });
      if (options.json) printJson(ctx.io.stdout, { findings, activeGrants: grants.filter((g) => GRANT_HOLDS_ACCESS.includes(g.state)).map(summarizeGrant) });
      else if (findings.length === 0) line(ctx.io.stdout, 'no standing human access on prod: every human binding is an active grant');
      else for (const finding of findings) line(ctx.io.stdout, `${finding.kind}: ${finding.detail}`);
      ctx.exitCode = findings.length === 0 ? EXIT.ok : EXIT.failed;
    });
}

/**
 * `mi instance workon` and `mi instance db proxy`: a way onto an instance, through the standard
 * tools. workon fetches the GKE cluster's credentials into a kubeconfig of its own (gcloud) and
 * either says how to use it or runs `--exec` with it; db proxy runs the Cloud SQL Auth Proxy for
 * the instance's database on a local port with IAM database authentication. On prod both need
 * an active access grant of yours (mi access request), and say so when there is none.
 */
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import * as z from 'zod';
import type { InstanceRecord } from '../../shared/events/index.js';
import { instanceIdSchema } from '../../shared/events/index.js';
import { paths } from '../../shared/store/collections.js';
import { EXIT } from '../config.js';
import type { CliContext } from '../context.js';
import { CliError, refused } from '../errors.js';
import { parseFlags } from '../flags.js';
import { line } from '../output.js';
import { NO_INSTANCE_HERE } from '../working-instance.js';

const INSTALL: Record<string, string> = {
  gcloud: 'install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install)',
  kubectl: 'gcloud components install kubectl (or your package manager)',
  'cloud-sql-proxy': 'install the Cloud SQL Auth Proxy v2 (https://cloud.google.com/sql/docs/postgres/sql-proxy#install)',
};

/** Runs a tool with the environment mi was given; its output is the operator's. */
function run(ctx: CliContext, tool: string, args: readonly string[], extraEnv: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...Object.fromEntries(Object.entries(ctx.io.env).filter((e): e is [string, string] => e[1] !== undefined)), ...extraEnv };
    const child = spawn(tool, args, { env, stdio: ['inherit', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => ctx.io.stdout.write(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => ctx.io.stderr.write(chunk.toString()));
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') reject(refused(`${tool} is not installed or not on PATH: ${INSTALL[tool] ?? `install ${tool}`}`));
      else reject(new CliError(`${tool} could not be started: ${error.message}`, EXIT.failed, { cause: error }));
    });
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

async function instanceFor(ctx: CliContext, command: Command, id: string | undefined): Promise<InstanceRecord> {
  const chosen = parseFlags(z.object({ instance: instanceIdSchema.optional() }), { instance: id ?? ctx.instanceHere() }, { instance: '[instance]' }).instance;
  if (chosen === undefined) throw refused(NO_INSTANCE_HERE);
  const found = await ctx.backend(command).store.get<InstanceRecord>(paths.instance(chosen));
  if (found === undefined) throw refused(`no instance ${chosen} (mi instance list shows the fleet)`);
  return found;
}

/** On prod, an active grant of the caller's; elsewhere nothing is needed. */
async function requireAccess(ctx: CliContext, command: Command, instance: InstanceRecord): Promise<void> {
  if (instance.environment !== 'prod') return;
  // The access group (its token and signing libraries) loads only when a prod grant is to be checked.
  const { activeGrantOf } = await import('./access.js');
  const grant = await activeGrantOf(ctx, command, 'prod');
  if (grant === undefined) {
    throw refused(`${instance.id} is prod and you hold no active access grant: mi access request --env prod --role operator --for 1h --why "…", then ask someone to approve it`);
  }
}

/** `projects/P/locations/L/clusters/C` → its parts. */
function clusterOf(instance: InstanceRecord): { project: string; location: string; name: string } {
  const match = /^projects\/([^/]+)\/locations\/([^/]+)\/clusters\/([^/]+)$/.exec(instance.resources.gkeCluster);
  if (match === null) throw new CliError(`${instance.id}'s cluster is not a GKE cluster name: ${instance.resources.gkeCluster}`, EXIT.failed);
  return { project: match[1] ?? '', location: match[2] ?? '', name: match[3] ?? '' };
}

export function registerOntoCommands(instanceCommand: Command, ctx: CliContext): void {
  instanceCommand
    .command('workon')
    .description("the instance's GKE cluster as a kubectl context (its own kubeconfig); with --exec, run a command or a shell with it")
    .argument('[instance]', 'the instance id (default: the instance folder you stand in)')
    .option('--exec <command...>', 'run this with KUBECONFIG set (e.g. --exec kubectl get pods, or --exec bash)')
    .action(async (id: string | undefined, options: { exec?: string[] }, command: Command) => {
      const instance = await instanceFor(ctx, command, id);
      await requireAccess(ctx, command, instance);
      const cluster = clusterOf(instance);
      const kubeconfig = join(await mkdtemp(join(tmpdir(), `mi-workon-${instance.id}-`)), 'kubeconfig');
      const got = await run(ctx, 'gcloud', ['container', 'clusters', 'get-credentials', cluster.name, `--location=${cluster.location}`, `--project=${cluster.project}`], { KUBECONFIG: kubeconfig });
      if (got !== 0) throw new CliError(`gcloud could not get ${instance.id}'s cluster credentials (exit ${got}): see its message above`, EXIT.unreachable);
      const [tool, ...args] = options.exec ?? [];
      if (tool === undefined) {
        line(ctx.io.stdout, `${instance.id}: export KUBECONFIG=${kubeconfig}   # then kubectl as usual (or: mi instance workon ${instance.id} --exec bash)`);
        return;
      }
      ctx.exitCode = (await run(ctx, tool, args, { KUBECONFIG: kubeconfig, MI_INSTANCE: instance.id })) === 0 ? EXIT.ok : EXIT.failed;
    });

  const db = instanceCommand.command('db').description("the instance's Cloud SQL database");
  db.command('proxy')
    .description('the Cloud SQL Auth Proxy for the instance\'s database on a local port, with IAM database authentication (Ctrl-C stops it)')
    .argument('[instance]', 'the instance id (default: the instance folder you stand in)')
    .option('--port <port>', 'the local port', '5432')
    .action(async (id: string | undefined, options: { port: string }, command: Command) => {
      const port = parseFlags(z.object({ port: z.coerce.number().int().min(1).max(65535) }), options, { port: '--port' }).port;
      const instance = await instanceFor(ctx, command, id);
      await requireAccess(ctx, command, instance);
      const connection = `${instance.resources.project}:${instance.region}:${instance.resources.sqlInstance}`;
      line(ctx.io.stdout, `${instance.id}: Cloud SQL ${connection} on 127.0.0.1:${port} (IAM database authentication: psql "host=127.0.0.1 port=${port} dbname=postgres user=<your email>")`);
      const code = await run(ctx, 'cloud-sql-proxy', ['--auto-iam-authn', `--port=${port}`, connection]);
      ctx.exitCode = code === 0 ? EXIT.ok : EXIT.failed;
    });
}

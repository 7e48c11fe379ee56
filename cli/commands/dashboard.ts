/**
 * `mi dashboard`: the fleet dashboard in your browser. The dashboard function is private, and a
 * browser cannot attach a Google ID token, so mi runs a proxy on 127.0.0.1 that adds yours to
 * every request (as `gcloud run services proxy` does), prints its URL and opens it. On the local
 * stack the dashboard is `mi dev`'s functions server and the token is signed with its local key;
 * in the cloud it is MI_DASHBOARD_URL (or --url) and the token gcloud's (or the service
 * account's). Runs until Ctrl-C.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import * as z from 'zod';
import { describeError } from '../../shared/errors.js';
import { cloudIdentityToken, isLocalMode, localToken, refuseAsOutsideLocalMode } from '../commands-client.js';
import type { CliContext } from '../context.js';
import { CliError, refused } from '../errors.js';
import { EXIT } from '../config.js';
import { parseFlags, portSchema } from '../flags.js';
import { line } from '../output.js';
import { cachedToken, startDashboardProxy, type DashboardTarget } from '../dashboard-proxy.js';

/** The dashboard function's URL in the cloud (the stack output `functionUrls.dashboard`). */
export const DASHBOARD_URL_VARIABLE = 'MI_DASHBOARD_URL';

const flagsSchema = z.object({
  port: portSchema.optional(),
  open: z.boolean(),
  url: z.url({ error: 'expected the dashboard function\'s URL, such as https://us-central1-my-project.cloudfunctions.net/dashboard' }).optional(),
});

/** Where the dashboard is for this invocation, and where its tokens come from. */
async function targetOf(ctx: CliContext, command: Command, urlFlag: string | undefined): Promise<DashboardTarget> {
  const env = ctx.io.env;
  if (isLocalMode(env)) {
    const { file } = await localToken(ctx, command);
    const url = urlFlag ?? env[DASHBOARD_URL_VARIABLE]?.trim() ?? `${file.functionsUrl}/dashboard`;
    // Local tokens last five minutes: the cache asks for a new one before that.
    return { url, token: cachedToken(async () => (await localToken(ctx, command)).token), hint: 'is `mi dev` running?' };
  }
  refuseAsOutsideLocalMode(command, env);
  const url = urlFlag ?? (env[DASHBOARD_URL_VARIABLE]?.trim() || undefined);
  if (url === undefined) {
    throw refused(`no dashboard function: pass --url or set ${DASHBOARD_URL_VARIABLE} to its URL (pulumi stack output functionUrls; for the local stack, run \`mi dev\` and set FIRESTORE_EMULATOR_HOST as it prints)`);
  }
  return { url, token: cachedToken(() => cloudIdentityToken(env, url)), hint: `check ${DASHBOARD_URL_VARIABLE} and your network` };
}

/** Opens a URL in the person's browser ($BROWSER, else the system's opener); says so when it cannot. */
function openInBrowser(url: string, env: CliContext['io']['env'], warn: (text: string) => void): void {
  const browser = env.BROWSER?.trim();
  const [program, args] = browser ? [browser, [url]] : process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]];
  try {
    const child = spawn(program, args, { stdio: 'ignore', detached: true });
    child.once('error', (error) => warn(`could not open a browser (${program}: ${describeError(error)}): open ${url} yourself`));
    child.unref();
  } catch (error) {
    warn(`could not open a browser (${describeError(error)}): open ${url} yourself`);
  }
}

/** Resolves on Ctrl-C (SIGINT or SIGTERM), or when the invocation's interrupt is aborted. */
function untilInterrupted(interrupt: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      interrupt?.removeEventListener('abort', done);
      resolve();
    };
    if (interrupt?.aborted === true) return done();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    interrupt?.addEventListener('abort', done, { once: true });
  });
}

/** Registers `mi dashboard`. */
export function registerDashboardCommand(program: Command, ctx: CliContext): void {
  program
    .command('dashboard')
    .description('open the fleet dashboard in your browser: a proxy on 127.0.0.1 adds your ID token to each request to the (private) dashboard function; runs until Ctrl-C')
    .option('--port <port>', 'the local port to listen on (default: a free one)')
    .option('--no-open', 'print the URL without opening a browser')
    .option('--url <url>', `the dashboard function's URL (default ${DASHBOARD_URL_VARIABLE}; on the local stack, mi dev's functions server)`)
    .action(async (_options: unknown, command: Command) => {
      const flags = parseFlags(flagsSchema, command.opts(), { port: '--port', url: '--url' });
      const target = await targetOf(ctx, command, flags.url);
      // One token up front: a missing login is said now, before anything listens.
      await target.token();
      let proxy;
      try {
        proxy = await startDashboardProxy(target, flags.port ?? 0);
      } catch (error) {
        throw new CliError(describeError(error), EXIT.refused, { cause: error });
      }
      line(ctx.io.stdout, `the dashboard (${target.url}) is at ${proxy.url}`);
      line(ctx.io.stdout, 'each request carries your ID token; Ctrl-C stops the proxy');
      if (flags.open) openInBrowser(proxy.url, ctx.io.env, (text) => line(ctx.io.stderr, text));
      await untilInterrupted(ctx.io.interrupt);
      await proxy.close();
      line(ctx.io.stdout, 'mi dashboard: stopped');
    });
}

/**
 * What bin/mi.js runs: a help or version request is answered from the help manifest written at
 * build time (no commander, no Google client loaded); any other invocation loads the CLI with
 * only the command groups its command is made of.
 */
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { groupsOf, replyKeyOf, type HelpManifest } from './invocation.js';

/** The manifest beside the compiled CLI; absent when running from the sources, then everything is loaded. */
function readManifest(): HelpManifest | undefined {
  try {
    return JSON.parse(readFileSync(new URL('./help-manifest.json', import.meta.url), 'utf8')) as HelpManifest;
  } catch {
    return undefined;
  }
}

export async function start(argv: readonly string[] = process.argv): Promise<number> {
  const args = argv.slice(2);
  const manifest = readManifest();
  const key = manifest === undefined ? undefined : replyKeyOf(args, manifest);
  const reply = key === undefined ? undefined : manifest?.replies[key];
  if (reply !== undefined) {
    process.stdout.write(reply.stdout);
    process.stderr.write(reply.stderr);
    return reply.code;
  }
  const { main } = await import('./main.js');
  return main(argv, manifest === undefined ? undefined : groupsOf(args, manifest));
}

#!/usr/bin/env node
// The `mi` command, from its bundle in dist/cli-bundle/ (npm ci builds it; after changing the
// sources, npm run build). No TypeScript loader at run time: it starts as fast as node does.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli-bundle/start.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('mi: the bundled CLI is missing (dist/cli-bundle/start.js): run npm run build in the checkout (npm ci does it)\n');
  process.exit(1);
}
const { start } = await import(entry.href);
const code = await start(process.argv);
// Exit now: a client of an unreachable service may hold the event loop open for minutes.
// (Writes to pipes and files are synchronous on Linux, so nothing printed is lost.)
process.exit(code);

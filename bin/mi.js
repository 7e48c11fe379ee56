#!/usr/bin/env node
// The `mi` command. It runs the TypeScript sources directly through tsx (no build step), with
// the project's own tsconfig, so it works from any working directory.
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
const { main } = await import('../cli/main.ts');
const code = await main(process.argv);
// Exit now: a client of an unreachable service may hold the event loop open for minutes.
// (Writes to pipes and files are synchronous on Linux, so nothing printed is lost.)
process.exit(code);

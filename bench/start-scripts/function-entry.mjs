// One cold start of a deployed function, as Cloud Functions does it: the functions framework,
// then the function's own bundle (dist/bundles/<FUNCTION_TARGET>/index.js, its archive's main),
// then the first message's wiring (the services of that function, with their Google clients).
// Prints how long since the process began, and (under trace-modules.mjs) the modules it loaded.
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { setTimeout } from 'node:timers';
import { URL } from 'node:url';

await import('@google-cloud/functions-framework');
const { services } = await import(new URL(`../../dist/bundles/${process.env.FUNCTION_TARGET}/index.js`, import.meta.url).href);
await services();
const ms = performance.now();
// Under trace-modules.mjs only: the loader hooks' last messages arrive. An untimed wait in the
// timed starts would count 50 ms against the function that its floor does not pay.
if (globalThis.__modules !== undefined) await new Promise((resolve) => setTimeout(resolve, 50));
process.stdout.write(`${JSON.stringify({ ms, modules: globalThis.__modules === undefined ? [] : [...globalThis.__modules] })}\n`);
process.exit(0);

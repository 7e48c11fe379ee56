/**
 * How the deployed functions and `mi` are bundled: ES modules for Node, split where the code
 * loads lazily, our code and small libraries inlined, the Google clients left to node_modules.
 */
import { fileURLToPath } from 'node:url';
import type { BuildOptions } from 'esbuild';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Left to node_modules: clients that load files beside their code at run time, and the functions framework. */
export const EXTERNAL = ['@google-cloud/*', '@grpc/*', 'google-auth-library', 'googleapis', 'googleapis-common', 'google-gax', 'gaxios', 'gcp-metadata'];

export const BUNDLE_OPTIONS = {
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  metafile: true,
  // Whitespace and syntax only: names stay readable in a stack trace (identifiers cost no measurable start time).
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'linked',
  logLevel: 'warning',
  // A CommonJS library inlined into an ES module still calls require() for Node's own modules.
  banner: { js: "import { createRequire as __miCreateRequire } from 'node:module'; const require = __miCreateRequire(import.meta.url);" },
} as const satisfies BuildOptions;

/**
 * One bundle per deployed function under dist/bundles/<name>/, each
 * its own source archive (infra/functions.ts). A bundle holds the function's trigger, the
 * production wiring and our code and small libraries inlined, split where the code loads lazily
 * (a port's adapter, a service's part) so a cold start parses only what it runs. The Google
 * clients and the functions framework stay in node_modules (they read their protos and JSON
 * from disk), and the bundle's package.json and lockfile name exactly those.
 * What each bundle's chunks were built from goes to dist/bundle-meta/<name>.json (not shipped),
 * so a traced cold start can say which of our folders it loaded.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { build, type Metafile, type Plugin } from 'esbuild';
import { BUNDLE_OPTIONS, ROOT } from './bundle-options.js';
import { ADAPTER_MODULES, adaptersGrantedTo, type Adapter } from '../functions/production.js';
import { PART_MODULES, partsOf } from '../shared/services-for.js';
import { SERVICE_PARTS } from '../shared/service-composition.js';
import { FUNCTIONS } from '../shared/topology.js';
import { deployedPackage, packageOf, type Lockfile, type ProjectPackage } from './deployed-package.js';

export const BUNDLES_DIR = join(ROOT, 'dist', 'bundles');
export const BUNDLE_META_DIR = join(ROOT, 'dist', 'bundle-meta');


/** The entry of one function: the production wiring, then its trigger, which registers it with the framework. */
function entryOf(source: string): string {
  return [
    "import { buildProductionServices } from './functions/production.ts';",
    "import { buildServicesWith } from './functions/wiring.ts';",
    `import './${source}';`,
    'buildServicesWith(() => buildProductionServices());',
    // The first message's wiring, for the cold-start benchmark and tests; the framework ignores other exports.
    "export { services } from './functions/wiring.ts';",
  ].join('\n');
}

/** The lazily imported modules a function may not load: its ungranted adapters and the service parts it does not build. */
export function excludedModules(fn: (typeof FUNCTIONS)[number]): { adapters: string[]; parts: string[] } {
  const granted = adaptersGrantedTo(fn);
  const parts = partsOf(fn.name);
  return {
    adapters: (Object.keys(ADAPTER_MODULES) as Adapter[]).filter((a) => !granted.has(a)).map((a) => ADAPTER_MODULES[a]),
    parts: SERVICE_PARTS.filter((p) => !parts.has(p)).flatMap((p) => PART_MODULES[p]),
  };
}

/**
 * Leaves out of a bundle what its function may not load: the dynamic import of such a module
 * (from the production wiring or the service composition) becomes one that fails saying so,
 * and the module, with the Google client it would pull in, is neither bundled nor installed.
 */
function onlyWhatItMayLoad(fn: (typeof FUNCTIONS)[number]): Plugin {
  const { adapters, parts } = excludedModules(fn);
  const excluded: Record<string, ReadonlySet<string>> = { 'functions/production.ts': new Set(adapters), 'shared/services-for.ts': new Set(parts) };
  return {
    name: 'only-what-it-may-load',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, (args) => {
        if (args.kind !== 'dynamic-import') return undefined;
        const importer = relative(ROOT, args.importer).split('\\').join('/');
        if (excluded[importer]?.has(args.path) !== true) return undefined;
        return { path: `${importer}:${args.path}`, namespace: 'not-bundled' };
      });
      b.onLoad({ filter: /.*/, namespace: 'not-bundled' }, (args) => ({
        contents: `throw new Error(${JSON.stringify(`${args.path} is not bundled with the ${fn.name} function: it holds no right to it`)});`,
        loader: 'js',
      }));
    },
  };
}

/** What one bundle's output files were built from: output path (relative to the bundle) to the source files in it. */
export type BundleInputs = Record<string, string[]>;

function inputsOf(metafile: Metafile, outdir: string): BundleInputs {
  return Object.fromEntries(Object.entries(metafile.outputs).map(([out, o]) => [relative(outdir, join(ROOT, out)), Object.keys(o.inputs).filter((i) => !i.includes('node_modules/'))]));
}

async function bundleOne(fn: (typeof FUNCTIONS)[number], project: ProjectPackage, lock: Lockfile): Promise<{ name: string; bytes: number; imports: string[] }> {
  const outdir = join(BUNDLES_DIR, fn.name);
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    ...BUNDLE_OPTIONS,
    stdin: { contents: entryOf(fn.source), resolveDir: ROOT, loader: 'ts', sourcefile: `${fn.name}.entry.ts` },
    entryNames: 'index',
    outdir,
    plugins: [onlyWhatItMayLoad(fn)],
  });
  const imports = new Set<string>();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const imported of output.imports) {
      if (imported.external && !imported.path.startsWith('node:')) imports.add(packageOf(imported.path));
    }
  }
  // Node's own modules imported without the node: prefix are external too, and not packages.
  const { builtinModules } = await import('node:module');
  const packages = [...imports].filter((p) => !builtinModules.includes(p)).sort();
  const deployed = deployedPackage(fn.name, project, lock, packages);
  await writeFile(join(outdir, 'package.json'), `${JSON.stringify(deployed.packageJson, null, 2)}\n`);
  await writeFile(join(outdir, 'package-lock.json'), `${JSON.stringify(deployed.lockfile, null, 2)}\n`);
  await writeFile(join(BUNDLE_META_DIR, `${fn.name}.json`), `${JSON.stringify(inputsOf(result.metafile, outdir), null, 1)}\n`);
  const bytes = Object.entries(result.metafile.outputs).filter(([out]) => out.endsWith('.js')).reduce((sum, [, o]) => sum + o.bytes, 0);
  return { name: fn.name, bytes, imports: packages };
}

/** Bundles every function of the topology; says what each holds and installs. */
export async function bundleFunctions(): Promise<string[]> {
  const project = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as ProjectPackage;
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as Lockfile;
  await mkdir(BUNDLE_META_DIR, { recursive: true });
  const built = await Promise.all(FUNCTIONS.map((fn) => bundleOne(fn, project, lock)));
  return built.map((b) => `bundled ${b.name.padEnd(20)} ${(b.bytes / 1024).toFixed(0).padStart(5)} KiB of JavaScript; installs ${b.imports.join(', ')}`);
}

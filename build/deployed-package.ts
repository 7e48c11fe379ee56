/**
 * What one deployed function installs: a package.json naming only the packages its bundle
 * imports (and the functions framework that serves it), and a lockfile cut from the project's
 * to exactly what those need, so `npm ci` in the cloud pins every version the tests ran on and
 * installs nothing the function does not load.
 */

/** The parts of a package-lock.json (lockfileVersion 3) this reads and writes. */
export interface LockedPackage {
  version?: string;
  resolved?: string;
  integrity?: string;
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [field: string]: unknown;
}

export interface Lockfile {
  name: string;
  version: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockedPackage>;
}

export interface ProjectPackage {
  name: string;
  version: string;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
}

/** The package a module specifier names: `@scope/name/deep/file.js` is `@scope/name`. */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** Where `name` is installed as seen from the package at `from` (Node's lookup: nearest node_modules up the tree). */
function resolveFrom(lock: Lockfile, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
    if (lock.packages[candidate] !== undefined) return candidate;
    if (base === '') return undefined;
    const up = base.lastIndexOf('/node_modules/');
    base = up < 0 ? '' : base.slice(0, up);
  }
}

/** Every installed package a set of top-level dependencies needs, with the paths they are installed at. */
export function closureOf(lock: Lockfile, roots: readonly string[]): string[] {
  const kept = new Set<string>();
  const visit = (from: string, name: string, optional: boolean, whose: string): void => {
    const path = resolveFrom(lock, from, name);
    if (path === undefined) {
      if (optional) return;
      throw new Error(`the lockfile does not install ${name}, needed by ${whose}: run npm install`);
    }
    if (kept.has(path)) return;
    kept.add(path);
    const entry = lock.packages[path];
    if (entry === undefined) return;
    const optionalPeers = new Set(Object.entries(entry.peerDependenciesMeta ?? {}).filter(([, meta]) => meta.optional === true).map(([peer]) => peer));
    for (const dep of Object.keys(entry.dependencies ?? {})) visit(path, dep, false, path);
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) visit(path, dep, true, path);
    for (const dep of Object.keys(entry.peerDependencies ?? {})) visit(path, dep, optionalPeers.has(dep), path);
  };
  for (const root of roots) visit('', root, false, 'the function');
  return [...kept].sort();
}

export interface DeployedPackage {
  packageJson: Record<string, unknown>;
  lockfile: Lockfile;
}

/**
 * The package.json and lockfile of one function: `imports` are the packages its bundle leaves
 * to node_modules; each is pinned to the version the project's lockfile installed.
 */
export function deployedPackage(fn: string, project: ProjectPackage, lock: Lockfile, imports: readonly string[], server = '@google-cloud/functions-framework'): DeployedPackage {
  const wanted = [...new Set([...imports, server])].sort();
  const declared = project.dependencies ?? {};
  const dependencies: Record<string, string> = {};
  for (const name of wanted) {
    const range = declared[name];
    if (range === undefined) throw new Error(`the ${fn} bundle imports ${name}, which is not a dependency of the project: add it to package.json's dependencies`);
    dependencies[name] = range;
  }
  const name = `${project.name}-${fn}`;
  const packages: Record<string, LockedPackage> = { '': { name, version: project.version, dependencies, ...(project.engines ? { engines: project.engines } : {}) } };
  for (const path of closureOf(lock, wanted)) {
    // Reachable from what the function runs on, so not a dev dependency here whatever the project's lock says.
    const entry: LockedPackage = { ...lock.packages[path] };
    const devOptional = entry.devOptional === true;
    delete entry.dev;
    delete entry.devOptional;
    packages[path] = devOptional ? { ...entry, optional: true } : entry;
  }
  return {
    packageJson: { name, version: project.version, private: true, type: 'module', main: 'index.js', ...(project.engines ? { engines: project.engines } : {}), dependencies },
    lockfile: { name, version: project.version, lockfileVersion: 3, requires: true, packages },
  };
}

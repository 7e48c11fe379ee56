/**
 * What a function's archive installs: its package.json names only what its bundle imports, and
 * its lockfile is the project's cut to those packages' closure, found by Node's own lookup.
 * And what a bundle leaves out is declared where the code loads it, so the two cannot drift.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { closureOf, deployedPackage, packageOf, type Lockfile } from '../../build/deployed-package.js';
import { excludedModules } from '../../build/bundle-functions.js';
import { ADAPTER_MODULES, adaptersGrantedTo } from '../../functions/production.js';
import { PART_MODULES } from '../../shared/services-for.js';
import { FUNCTIONS } from '../../shared/topology.js';

const lock: Lockfile = {
  name: 'project',
  version: '1.0.0',
  lockfileVersion: 3,
  packages: {
    '': { name: 'project', version: '1.0.0', dependencies: { a: '^1', b: '^2' }, devDependencies: { tool: '^1' } },
    'node_modules/a': { version: '1.0.0', dependencies: { c: '^1' }, optionalDependencies: { missing: '^1' } },
    'node_modules/c': { version: '1.5.0' },
    'node_modules/b': { version: '2.0.0', dependencies: { c: '^2' }, peerDependencies: { p: '*', q: '*' }, peerDependenciesMeta: { q: { optional: true } } },
    'node_modules/b/node_modules/c': { version: '2.1.0' },
    'node_modules/p': { version: '1.0.0', devOptional: true },
    'node_modules/@scope/d': { version: '3.0.0', dependencies: { c: '^1' } },
    'node_modules/tool': { version: '1.0.0', dev: true, dependencies: { c: '^1' } },
  },
};

describe('the closure of a function’s dependencies', () => {
  it('follows Node’s lookup: a nested copy wins for its dependent, the top one for the rest', () => {
    expect(closureOf(lock, ['a'])).toEqual(['node_modules/a', 'node_modules/c']);
    expect(closureOf(lock, ['b'])).toEqual(['node_modules/b', 'node_modules/b/node_modules/c', 'node_modules/p']);
  });

  it('skips a missing optional dependency or optional peer, and refuses a missing required one', () => {
    expect(closureOf(lock, ['a'])).not.toContain('node_modules/missing');
    expect(() => closureOf({ ...lock, packages: { ...lock.packages, 'node_modules/c': undefined as never } }, ['a'])).toThrow(/does not install c, needed by node_modules\/a/);
  });

  it('names scoped packages by scope and name', () => {
    expect(packageOf('@scope/d/deep/file.js')).toBe('@scope/d');
    expect(packageOf('googleapis/build/src/apis/gkebackup/index.js')).toBe('googleapis');
    expect(closureOf(lock, ['@scope/d'])).toEqual(['node_modules/@scope/d', 'node_modules/c']);
  });
});

describe('a function’s package', () => {
  const project = { name: 'project', version: '1.0.0', engines: { node: '>=20' }, dependencies: { a: '^1', b: '^2', server: '^5' } };
  const withServer: Lockfile = { ...lock, packages: { ...lock.packages, 'node_modules/server': { version: '5.0.0' } } };

  it('declares what the bundle imports and the server, at the project’s ranges, and locks only their closure', () => {
    const deployed = deployedPackage('fn', project, withServer, ['a'], 'server');
    expect(deployed.packageJson).toMatchObject({ name: 'project-fn', main: 'index.js', type: 'module', dependencies: { a: '^1', server: '^5' } });
    expect(Object.keys(deployed.lockfile.packages).sort()).toEqual(['', 'node_modules/a', 'node_modules/c', 'node_modules/server']);
    expect(deployed.lockfile.packages['']).toMatchObject({ dependencies: { a: '^1', server: '^5' } });
  });

  it('marks nothing as a dev dependency: `npm ci --omit=dev` must install all of it', () => {
    const deployed = deployedPackage('fn', project, withServer, ['b'], 'server');
    expect(deployed.lockfile.packages['node_modules/p']).toMatchObject({ optional: true });
    expect(Object.values(deployed.lockfile.packages).some((p) => p.dev === true || p.devOptional === true)).toBe(false);
  });

  it('refuses a bundle that imports a package the project does not depend on', () => {
    expect(() => deployedPackage('fn', project, withServer, ['@scope/d'], 'server')).toThrow(/imports @scope\/d, which is not a dependency/);
  });
});

describe('what a bundle leaves out', () => {
  const dynamicImports = (file: string) => [...readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8').matchAll(/import\('(\.\.?\/[^']+)'\)/g)].map((m) => m[1]);

  it('is every adapter the production wiring loads lazily, by the module it imports', () => {
    const always = ['../shared/gcp/firestore-store.js', '../shared/gcp/pubsub-bus.js'];
    expect(new Set(dynamicImports('functions/production.ts'))).toEqual(new Set([...always, ...Object.values(ADAPTER_MODULES)]));
  });

  it('is every service part’s module, as the composition imports them', () => {
    expect(new Set(dynamicImports('shared/services-for.ts'))).toEqual(new Set(Object.values(PART_MODULES).flat()));
  });

  it('keeps, for each function, every adapter its rights grant and each service part it builds', () => {
    const rollout = FUNCTIONS.find((f) => f.name === 'rollout');
    const lifecycle = FUNCTIONS.find((f) => f.name === 'lifecycle');
    expect(excludedModules(rollout!).adapters).toContain(ADAPTER_MODULES.cloudSql);
    expect(excludedModules(rollout!).parts).toContain('./engine/index.js');
    expect(excludedModules(lifecycle!).adapters).not.toContain(ADAPTER_MODULES.cloudSql);
    for (const fn of FUNCTIONS) {
      const excluded = new Set(excludedModules(fn).adapters);
      for (const adapter of adaptersGrantedTo(fn)) expect(excluded.has(ADAPTER_MODULES[adapter]), `${fn.name} ${adapter}`).toBe(false);
    }
  });
});

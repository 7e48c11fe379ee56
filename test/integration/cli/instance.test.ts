import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { InstanceRecord } from '../../../shared/events/index.js';
import { createEngineFixture, uniqueId, type EngineFixture } from '../../support/engine-fixture.js';
import { mi } from './support.js';

let f: EngineFixture;
let customer: InstanceRecord;
let busy: InstanceRecord;
let dev: InstanceRecord;

beforeAll(async () => {
  f = await createEngineFixture(import.meta.url);
  customer = await f.seedInstance({ slug: 'acme' });
  busy = await f.seedInstance({
    status: 'upgrading',
    lease: { operationId: 'op-1234', operationType: 'upgrade', acquiredAt: '2026-11-26T10:00:00.000Z' },
  });
  const devId = uniqueId('dev');
  dev = await f.seedInstance({
    id: devId,
    slug: devId,
    environment: 'dev',
    tier: 'internal',
    expiresAt: '2026-12-03T00:00:00Z',
  });
  delete dev.maintenanceWindow;
  await f.store.set(`instances/${dev.id}`, dev);
});

afterAll(async () => {
  await f.close();
});

/** The data rows of a table (the header dropped), each split into its cells. */
function rows(stdout: string): string[][] {
  return stdout
    .trim()
    .split('\n')
    .slice(1)
    .map((row) => row.trim().split(/\s{2,}/));
}

describe('mi instance list', () => {
  it('prints every instance as a table sorted by id, with the lease of a busy one', async () => {
    const run = await mi(f.projectId, ['instance', 'list']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout.split('\n')[0]).toMatch(/^ID\s+ENV\s+TIER\s+SLUG\s+VERSION\s+STATUS\s+LEASE$/);
    const table = rows(run.stdout);
    const ids = table.map((r) => r[0]);
    expect(ids).toEqual([...ids].sort());
    expect(ids).toEqual(expect.arrayContaining([customer.id, busy.id, dev.id]));
    expect(table.find((r) => r[0] === customer.id)).toEqual([customer.id, 'prod', 'customer', 'acme', '5.4.2', 'active', '-']);
    expect(table.find((r) => r[0] === busy.id)).toEqual([busy.id, 'prod', 'customer', busy.id, '5.4.2', 'upgrading', 'upgrade op-1234']);
  });

  it('pages through Firestore: small pages give the same sorted fleet', async () => {
    const whole = await mi(f.projectId, ['instance', 'list', '--json']);
    const paged = await mi(f.projectId, ['instance', 'list', '--json'], { pageSize: 1 });
    expect(paged.code).toBe(0);
    expect(JSON.parse(paged.stdout)).toEqual(JSON.parse(whole.stdout));
  });

  it('filters by environment and status', async () => {
    const devOnly = await mi(f.projectId, ['instance', 'list', '-e', 'dev']);
    expect(rows(devOnly.stdout).map((r) => r[0])).toEqual([dev.id]);
    const upgrading = await mi(f.projectId, ['instance', 'list', '--environment', 'prod', '--status', 'upgrading']);
    expect(rows(upgrading.stdout).map((r) => r[0])).toEqual([busy.id]);
    const none = await mi(f.projectId, ['instance', 'list', '--status', 'restoring']);
    expect(none).toMatchObject({ code: 0, stdout: 'no instances match\n' });
  });

  it('--json prints the documents as stored and nothing else', async () => {
    const run = await mi(f.projectId, ['instance', 'list', '--json', '-e', 'prod']);
    expect(run.code).toBe(0);
    const docs = JSON.parse(run.stdout) as InstanceRecord[];
    expect(docs.find((d) => d.id === customer.id)).toEqual(customer);
    expect(docs.every((d) => d.environment === 'prod')).toBe(true);
  });

  it('refuses a bad filter, naming the flag', async () => {
    const run = await mi(f.projectId, ['instance', 'list', '-e', 'staging']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('mi: --environment: expected "dev" or "prod"\n');
    const status = await mi(f.projectId, ['instance', 'list', '--status', 'sleeping']);
    expect(status.code).toBe(2);
    expect(status.stderr).toContain('--status: expected one of provisioning, active');
  });
});

describe('mi instance get', () => {
  it('shows one instance by id', async () => {
    const run = await mi(f.projectId, ['instance', 'get', customer.id]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(new RegExp(`^id:\\s+${customer.id}$`, 'm'));
    expect(run.stdout).toMatch(/^slug:\s+acme$/m);
    expect(run.stdout).toMatch(/^version:\s+5\.4\.2$/m);
    expect(run.stdout).toMatch(/^maintenance:\s+sat,sun 02:00 for 4h \(America\/New_York\)$/m);
    expect(run.stdout).toContain('no operations yet');
  });

  it('finds an instance by environment and slug', async () => {
    const run = await mi(f.projectId, ['instance', 'get', '-e', 'prod', '--slug', 'acme', '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ metadata: { name: customer.id }, ...customer });
    const wrongEnv = await mi(f.projectId, ['instance', 'get', '-e', 'dev', '--slug', 'acme']);
    expect(wrongEnv).toMatchObject({ code: 2, stdout: '' });
    expect(wrongEnv.stderr).toBe('mi: no instance with slug acme in dev (mi instance list -e dev shows them)\n');
  });

  it('--json prints the document as stored, with metadata.name its id (as scripts written for mi2 read it)', async () => {
    const run = await mi(f.projectId, ['instance', 'get', dev.id, '--json']);
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as { metadata: { name: string } };
    expect(printed).toEqual({ metadata: { name: dev.id }, ...dev });
    expect(printed.metadata.name).toBe(dev.id);
  });

  it('takes the instance whose folder of the deployment repository mi runs in, however deep; an explicit id or -e/--slug wins', async () => {
    const checkout = '/home/oncall/src/deployments';
    const deep = `${checkout}/environments/prod/deployments/${customer.id}/terraform/stacks/networking`;
    const here = await mi(f.projectId, ['instance', 'get', '--json'], { cwd: deep });
    expect(here.stderr).toBe('');
    expect((JSON.parse(here.stdout) as { id: string }).id).toBe(customer.id);
    const explicit = await mi(f.projectId, ['instance', 'get', dev.id, '--json'], { cwd: deep });
    expect((JSON.parse(explicit.stdout) as { id: string }).id).toBe(dev.id);
    const bySlug = await mi(f.projectId, ['instance', 'get', '-e', 'dev', '--slug', dev.slug, '--json'], { cwd: deep });
    expect((JSON.parse(bySlug.stdout) as { id: string }).id).toBe(dev.id);
    // The environments folder itself, or a folder that only looks like one, names no instance.
    for (const cwd of [`${checkout}/environments/prod/deployments`, `${checkout}/environments/staging/deployments/${customer.id}`, '/tmp']) {
      const none = await mi(f.projectId, ['instance', 'get'], { cwd });
      expect([none.code, none.stderr], cwd).toEqual([2, 'mi: give an instance id, or run mi inside its folder of the deployment repository (environments/<env>/deployments/<id>), or both -e <env> and --slug <slug>\n']);
    }
  });

  it('-o json and -o yaml print the same document as --json, for scripts; -o refuses what has no document', async () => {
    const json = await mi(f.projectId, ['-o', 'json', 'instance', 'get', dev.id]);
    expect(JSON.parse(json.stdout)).toEqual({ metadata: { name: dev.id }, ...dev });
    const yaml = await mi(f.projectId, ['instance', 'get', dev.id, '-o', 'yaml']);
    expect(parseYaml(yaml.stdout)).toEqual(JSON.parse(json.stdout));
    const list = await mi(f.projectId, ['instance', 'list', '-o', 'yaml']);
    expect((parseYaml(list.stdout) as Array<{ id: string }>).map((i) => i.id)).toContain(dev.id);
    const bad = await mi(f.projectId, ['instance', 'get', dev.id, '-o', 'xml']);
    expect([bad.code, bad.stderr]).toEqual([2, 'mi: -o xml: expected text, json, yaml or wide\n']);
    const none = await mi(f.projectId, ['-o', 'json', 'instance', 'extend', dev.id, '--hours', '1']);
    expect([none.code, none.stderr]).toEqual([2, 'mi: -o json: mi extend prints no document (it has no --json)\n']);
  });

  it('-o wide adds columns to the same rows; a command with no wide table refuses it', async () => {
    const plain = (await mi(f.projectId, ['instance', 'list'])).stdout.split('\n').filter((l) => l !== '');
    const wide = await mi(f.projectId, ['instance', 'list', '-o', 'wide']);
    expect(wide.code).toBe(0);
    const rows = wide.stdout.split('\n').filter((l) => l !== '');
    expect(rows[0]).toMatch(/^ID\s+ENV\s+TIER\s+SLUG\s+VERSION\s+STATUS\s+LEASE\s+REGION\s+DOMAIN\s+WINDOW\s+EXPIRES\s+UPDATED$/);
    // The same instances, in the same order, each with its region and domain.
    expect(rows.map((r) => r.split(/\s+/)[0])).toEqual(plain.map((r) => r.split(/\s+/)[0]));
    const devRow = rows.find((r) => r.startsWith(`${dev.id} `)) ?? '';
    expect(devRow).toContain(dev.region);
    expect(devRow).toContain(dev.domain);
    const none = await mi(f.projectId, ['instance', 'get', dev.id, '-o', 'wide']);
    expect([none.code, none.stderr]).toEqual([2, 'mi: -o wide: mi get has no wide table (text, json or yaml)\n']);
  });

  it('an unknown instance exits 2 with a pointer to the fleet', async () => {
    const run = await mi(f.projectId, ['instance', 'get', 'no-such-instance']);
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toBe('mi: no instance no-such-instance (mi instance list shows the fleet)\n');
  });

  it.each([
    [['instance', 'get', 'Bad_Id'], '<instance>: expected an instance id'],
    [['instance', 'get', '--slug', 'acme'], 'or both -e <env> and --slug <slug>'],
    [['instance', 'get', 'x1', '-e', 'prod', '--slug', 'acme'], 'not both'],
    [['instance', 'get', '-e', 'prod', '--slug', 'Not A Slug'], '--slug: expected a slug'],
    [['instance', 'get'], 'give an instance id'],
  ])('refuses %j with exit 2', async (args, message) => {
    const run = await mi(f.projectId, args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });

  it('a bad --project is named as such', async () => {
    const run = await mi('X', ['instance', 'list']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--project: expected a Google Cloud project id');
  });
});

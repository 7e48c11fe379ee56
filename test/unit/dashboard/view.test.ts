import { acmeInstance } from '../domain/instance-fixture.js';
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../../shared/compliance/model.js';
import type { ControlResult } from '../../../shared/domain/compliance/controls.js';
import type { OperationRecord } from '../../../shared/domain/lifecycle/model.js';
import type { RolloutRecord } from '../../../shared/domain/rollout/types.js';
import {
  MAX_PAGE_SIZE,
  ageOf,
  backupAgesOf,
  decodeCursor,
  encodeCursor,
  evidenceOf,
  fleetRow,
  matrixRow,
  operationRow,
  pageOf,
  pageOfPath,
  parseDashboardRequest,
  rolloutRow,
} from '../../../shared/dashboard/view.js';

const NOW = new Date('2026-12-02T12:00:00Z');

function control(c: string, status: ControlResult['status'], evidence: ControlResult['evidence'] = {}): ControlResult {
  return { control: c, status, summary: `${c} is ${status}`, source: 'sqladmin.instances.get', evidence };
}

function finding(instanceId: string, controls: ControlResult[]): Finding {
  const failed = controls.filter((c) => c.status === 'fail').map((c) => c.control);
  return {
    runId: 'verify-backups-20261202T020000Z',
    kind: 'instance',
    instanceId,
    environment: 'prod',
    tier: 'customer',
    region: 'us-central1',
    asOf: '2026-12-02T02:00:00Z',
    checkedAt: '2026-12-02T02:00:05Z',
    outcome: failed.length > 0 ? 'fail' : 'pass',
    failedControls: failed,
    blockedControls: [],
    controls,
    remediation: null,
    note: null,
  };
}

describe('cursors', () => {
  it('a cursor names the document its page ended at, and decodes back to it', () => {
    for (const id of ['cus-acme', 'op-3f1c2d4e-0000-4000-8000-000000000001', 'verify-backups-20261202T020000Z']) {
      expect(decodeCursor(encodeCursor(id))).toEqual({ after: id });
    }
  });

  it.each([
    ['not base64', 'c1.***'],
    ['another format', 'cus-acme'],
    ['empty', ''],
    ['a path, which no document id is', `c1.${Buffer.from('instances/x').toString('base64url')}`],
  ])('a cursor that is %s is refused, saying to follow the page\'s own link', (_what, text) => {
    const decoded = decodeCursor(text);
    expect(decoded).toEqual({ problem: expect.stringContaining('not a cursor of this dashboard') as unknown });
  });

  it('a page read one longer than it shows has a next cursor at its last row; a short read is the last page', () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `i-${String(i).padStart(2, '0')}`);
    const full = pageOf(ids(4), 3, (id) => id);
    expect(full.items).toEqual(['i-00', 'i-01', 'i-02']);
    expect(full.next === null ? null : decodeCursor(full.next)).toEqual({ after: 'i-02' });
    expect(pageOf(ids(3), 3, (id) => id)).toEqual({ items: ['i-00', 'i-01', 'i-02'], next: null });
    expect(pageOf([], 3, (id: string) => id)).toEqual({ items: [], next: null });
  });
});

describe('requests', () => {
  it('names each page by its path, with or without the local server\'s /dashboard prefix', () => {
    expect(pageOfPath('/')).toBe('fleet');
    expect(pageOfPath('/dashboard')).toBe('fleet');
    expect(pageOfPath('/dashboard/')).toBe('fleet');
    expect(pageOfPath('/dashboard/operations')).toBe('operations');
    expect(pageOfPath('/compliance/')).toBe('compliance');
    expect(pageOfPath('/dashboards')).toBeUndefined();
    expect(pageOfPath('/admin')).toBeUndefined();
  });

  it('reads a page\'s cursor, limit and filters', () => {
    expect(parseDashboardRequest('/', {})).toEqual({ page: 'fleet', after: null, limit: 50 });
    expect(parseDashboardRequest('/', { after: encodeCursor('cus-acme'), limit: '10' })).toEqual({ page: 'fleet', after: 'cus-acme', limit: 10 });
    expect(parseDashboardRequest('/operations', { list: 'failed' })).toEqual({ page: 'operations', list: 'failed', after: null, limit: 50 });
    expect(parseDashboardRequest('/compliance', { failing: '1', run: 'verify-backups-manual-ab12' })).toEqual({ page: 'compliance', run: 'verify-backups-manual-ab12', failing: true, after: null, limit: 50 });
    expect(parseDashboardRequest('/evidence', { run: 'verify-backups-x', instance: 'cus-acme', control: 'sql.recent-backup' })).toEqual({ page: 'evidence', run: 'verify-backups-x', instance: 'cus-acme', control: 'sql.recent-backup' });
  });

  it.each([
    ['an unknown page', '/admin', {}, 404, 'no page /admin: the dashboard has /, /operations'],
    ['an unknown page under the local prefix', '/dashboard/admin/', {}, 404, 'no page /admin:'],
    ['a bad cursor', '/', { after: 'garbage' }, 400, 'not a cursor of this dashboard'],
    ['a cursor given twice', '/', { after: [encodeCursor('a1'), encodeCursor('b1')] }, 400, 'after must be given once'],
    ['a limit over the maximum', '/', { limit: String(MAX_PAGE_SIZE + 1) }, 400, `limit must be 1 to ${MAX_PAGE_SIZE}`],
    ['a limit that is no number', '/', { limit: 'all' }, 400, 'limit must be a number'],
    ['an unknown parameter', '/rollouts', { sort: 'name' }, 400, '/rollouts takes no parameter sort'],
    ['an unknown operations list', '/operations', { list: 'everything' }, 400, 'list must be one of running, stuck, failed'],
    ['evidence without its control', '/evidence', { run: 'verify-backups-x', instance: 'cus-acme' }, 400, 'control must be given once'],
    ['evidence of a malformed instance', '/evidence', { run: 'verify-backups-x', instance: '../etc', control: 'sql.recent-backup' }, 400, 'instance must be an instance id'],
  ])('refuses %s with a status and a message that says what to do', (_what, path, query, status, message) => {
    const parsed = parseDashboardRequest(path, query);
    expect(parsed).toEqual({ status, message: expect.stringContaining(message) as unknown });
  });
});

describe('ages', () => {
  it.each([
    ['2026-12-02T11:59:30Z', 'just now'],
    ['2026-12-02T11:48:00Z', '12 min'],
    ['2026-12-02T07:00:00Z', '5 h'],
    ['2026-12-01T00:00:00Z', '36 h'],
    ['2026-11-29T11:00:00Z', '3 d'],
    ['2026-12-02T12:05:00Z', 'in 5 min'],
  ])('%s is %s before noon', (at, text) => {
    expect(ageOf(at, NOW)).toBe(text);
  });

  it('an unknown or unreadable time has no age', () => {
    expect(ageOf(null, NOW)).toBeNull();
    expect(ageOf(undefined, NOW)).toBeNull();
    expect(ageOf('yesterday', NOW)).toBeNull();
  });

  it('the backups\' ages come from the recency controls\' evidence, with their verdicts', () => {
    const f = finding('cus-acme', [
      control('sql.recent-backup', 'fail', { endTime: '2026-12-01T00:00:00Z', ageHours: 36, status: 'SUCCESSFUL' }),
      control('gke.recent-backup', 'pass', { createTime: '2026-12-02T01:00:00Z', completeTime: '2026-12-02T01:30:00Z', state: 'SUCCEEDED' }),
    ]);
    expect(backupAgesOf(f, NOW)).toEqual({
      sql: { at: '2026-12-01T00:00:00Z', age: '36 h', status: 'fail', state: 'SUCCESSFUL' },
      gke: { at: '2026-12-02T01:30:00Z', age: '10 h', status: 'pass', state: 'SUCCEEDED' },
    });
    // A GKE backup without an end time is dated by its creation; no finding, no age.
    expect(backupAgesOf(finding('x1', [control('gke.recent-backup', 'fail', { createTime: '2026-12-02T10:00:00Z', completeTime: null })]), NOW).gke?.age).toBe('2 h');
    expect(backupAgesOf(undefined, NOW)).toEqual({ sql: null, gke: null });
    expect(backupAgesOf(finding('x1', [control('sql.recent-backup', 'fail', { runsListed: 0 })]), NOW).sql).toBeNull();
  });
});

describe('rows', () => {
  const instance = acmeInstance({ id: 'cus-acme', status: 'upgrading', lease: { operationId: 'op-1', operationType: 'upgrade', acquiredAt: '2026-12-02T11:30:00Z' } });

  it('a fleet row shows the lease holder and how long it has held the instance', () => {
    expect(fleetRow(instance, undefined, NOW)).toEqual({
      id: 'cus-acme',
      environment: 'prod',
      tier: 'customer',
      version: '5.4.2',
      status: 'upgrading',
      lease: { operationId: 'op-1', operationType: 'upgrade', age: '30 min' },
      sqlBackup: null,
      gkeBackup: null,
    });
    expect(fleetRow({ ...instance, lease: null }, undefined, NOW).lease).toBeNull();
  });

  it('an operation row says which step runs, how many are done, and why it failed', () => {
    const step = (name: string, status: string) => ({ name, status }) as OperationRecord['steps'][number];
    const op = { id: 'op-1', type: 'upgrade', instanceId: 'cus-acme', status: 'running', actor: 'alice@example.com', createdAt: '2026-12-02T11:00:00Z', steps: [step('sql-backup', 'succeeded'), step('gke-backup', 'running'), step('rollout', 'pending')], failure: null } as unknown as OperationRecord;
    expect(operationRow(op, NOW)).toMatchObject({ step: 'gke-backup', progress: '1/3', failure: null, started: '1 h' });
    const failed = { ...op, status: 'failed', failure: { step: 'sql-backup', reason: 'backup run FAILED' } } as OperationRecord;
    expect(operationRow(failed, NOW)).toMatchObject({ step: 'sql-backup', failure: 'sql-backup: backup run FAILED' });
  });

  it('a rollout row gives each wave its state and how much of it has settled', () => {
    const rollout = {
      id: 'ro-1',
      targetVersion: '5.5.0',
      status: 'running',
      actor: 'alice@example.com',
      createdAt: '2026-12-02T10:00:00Z',
      halt: null,
      membership: { recordedAt: '2026-12-02T10:00:00Z', sizes: { dev: 4, internal: 2, canary: 1, customers: 0 } },
      waveStates: [
        { name: 'dev', status: 'done' },
        { name: 'internal', status: 'active' },
        { name: 'canary', status: 'pending' },
        { name: 'customers', status: 'pending' },
      ],
      summary: [
        { wave: 'dev', total: 4, succeeded: 3, failed: 1, inFlight: 0, skipped: 0, waiting: 0, budget: 1 },
        { wave: 'internal', total: 2, succeeded: 1, failed: 0, inFlight: 1, skipped: 0, waiting: 0, budget: 0 },
      ],
    } as unknown as RolloutRecord;
    const row = rolloutRow(rollout, NOW);
    expect(row).toMatchObject({ kind: 'upgrade', what: 'upgrade to 5.5.0', started: '2 h' });
    expect(row.waves.map((w) => [w.wave, w.status, w.total, w.percent])).toEqual([
      ['dev', 'done', 4, 100],
      ['internal', 'active', 2, 50],
      ['canary', 'pending', 1, 0],
      ['customers', 'pending', 0, 0],
    ]);
  });
});

describe('the compliance matrix', () => {
  const controls = ['sql.automated-backups', 'sql.recent-backup', 'gke.plan-active', 'dev.expiry'];
  const f = finding('cus-acme', [control('sql.automated-backups', 'pass'), control('sql.recent-backup', 'fail', { ageHours: 40 }), control('dev.expiry', 'not-applicable')]);

  it('a failed cell links to the evidence of that finding\'s control; no other cell links anywhere', () => {
    const row = matrixRow(f, controls);
    expect(row.cells.map((c) => [c.control, c.status, c.evidence])).toEqual([
      ['sql.automated-backups', 'pass', null],
      ['sql.recent-backup', 'fail', '/evidence?run=verify-backups-20261202T020000Z&instance=cus-acme&control=sql.recent-backup'],
      ['gke.plan-active', 'missing', null],
      ['dev.expiry', 'not-applicable', null],
    ]);
    expect(row.failed).toBe(1);
  });

  it('the evidence of a control is found in its finding, or refused as not found, naming what there is', () => {
    expect(evidenceOf(f, { run: f.runId, instance: 'cus-acme', control: 'sql.recent-backup' })).toEqual({ result: f.controls[1] });
    expect(evidenceOf(f, { run: f.runId, instance: 'cus-acme', control: 'gke.scope' })).toEqual({ status: 404, message: expect.stringContaining('has no control gke.scope (it has sql.automated-backups') as unknown });
    expect(evidenceOf(undefined, { run: f.runId, instance: 'cus-acme', control: 'sql.recent-backup' })).toEqual({ status: 404, message: `compliance run ${f.runId} has no finding for cus-acme` });
  });
});

import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { parseConfig } from '../../../shared/deployments/index.js';
import { applyModeOf, supersession, waveOf, type ApplyStatus } from '../../../shared/domain/deployments/applies.js';
import { confirmedMember, moduleChangeId, moduleChangeMembers, moduleChangeWaves, supersededMember, type ModuleChangeCandidate } from '../../../shared/domain/rollout/index.js';
import { changeEventId, classifyFiles, derivedUuid, filesOfPush, incompleteReason, pushEventId } from '../../../shared/domain/deployments/changes.js';
import { parseDeploymentPath } from '../../../shared/domain/deployments/paths.js';
import { answerDecision, decideConfigChange, dispatchDecision, newerChange, type FileAt } from '../../../shared/domain/deployments/spec-changes.js';
import type { InstanceSpec } from '../../../shared/events/index.js';

const BASE = 'environments/prod/deployments/cus-acme';

describe('deployment repository paths', () => {
  it.each([
    [`${BASE}/config.yaml`, { kind: 'config', environment: 'prod', instanceId: 'cus-acme' }],
    [`${BASE}/terraform/stacks/networking/main.tf`, { kind: 'module', environment: 'prod', instanceId: 'cus-acme', module: 'networking' }],
    [`${BASE}/terraform/stacks/monitoring/alerts/cpu.tf`, { kind: 'module', environment: 'prod', instanceId: 'cus-acme', module: 'monitoring' }],
    [`${BASE}/README.md`, { kind: 'instance-other', environment: 'prod', instanceId: 'cus-acme' }],
    [`${BASE}/terraform/stacks/networking`, { kind: 'instance-other', environment: 'prod', instanceId: 'cus-acme' }],
  ])('%s is %j', (path, expected) => {
    expect(parseDeploymentPath(path)).toEqual(expected);
  });

  it.each([
    'README.md',
    'environments/staging/deployments/cus-acme/config.yaml',
    'environments/prod/deployments/Cus_Acme/config.yaml',
    'environments/prod/other/cus-acme/config.yaml',
    'environments/prod/deployments/cus-acme/../cus-evil/config.yaml',
    'environments/prod/deployments/cus-acme/terraform/stacks/Bad Module/x.tf',
  ])('ignores %s', (path) => {
    const parsed = parseDeploymentPath(path);
    expect(parsed === undefined || parsed.kind === 'instance-other').toBe(true);
  });
});

describe('classifying changed files', () => {
  it('groups spec and module changes per instance and counts what it ignores', () => {
    const set = classifyFiles([
      { filename: `${BASE}/config.yaml`, status: 'modified' },
      { filename: `${BASE}/terraform/stacks/networking/main.tf`, status: 'modified' },
      { filename: `${BASE}/terraform/stacks/networking/vars.tf`, status: 'added' },
      { filename: 'environments/dev/deployments/dev-alice/terraform/stacks/monitoring/a.tf', status: 'removed' },
      { filename: 'environments/dev/deployments/dev-bob/config.yaml', status: 'removed' },
      { filename: 'docs/README.md', status: 'modified' },
    ]);
    expect(set).toEqual({
      instances: [
        { instanceId: 'cus-acme', environment: 'prod', config: 'changed', modules: ['networking'] },
        { instanceId: 'dev-alice', environment: 'dev', config: null, modules: ['monitoring'] },
        { instanceId: 'dev-bob', environment: 'dev', config: 'removed', modules: [] },
      ],
      ignoredPaths: 1,
    });
  });

  it('a rename counts as the old path removed and the new one added', () => {
    const set = classifyFiles([{ filename: 'environments/prod/deployments/cus-new/config.yaml', status: 'renamed', previous_filename: 'environments/dev/deployments/dev-old/config.yaml' }]);
    expect(set.instances.map((i) => [i.instanceId, i.config])).toEqual([
      ['cus-new', 'changed'],
      ['dev-old', 'removed'],
    ]);
  });

  it("nets a push's commits: added then removed is no change, removed then added is modified", () => {
    expect(
      filesOfPush([
        { id: 'c1', added: ['a', 'b'], modified: ['c'] },
        { id: 'c2', removed: ['a', 'c'], added: ['d'] },
        { id: 'c3', added: ['c'], modified: ['b'] },
      ]),
    ).toEqual([
      { filename: 'b', status: 'added' },
      { filename: 'c', status: 'modified' },
      { filename: 'd', status: 'added' },
    ]);
  });
});

describe('when a push payload may be incomplete', () => {
  const caps = { commits: 3, filesPerCommit: 4 };
  it.each([
    ['a forced push', { forced: true, commits: [{ id: 'c1', added: ['a'] }] }, /forced/],
    ['a commits list at its cap', { forced: false, commits: [{ id: 'c1' }, { id: 'c2' }, { id: 'c3' }] }, /commits list at its cap/],
    ['a file list at its cap', { forced: false, commits: [{ id: 'c1', added: ['a', 'b'], removed: ['c'], modified: ['d'] }] }, /file list of commit c1 at its cap/],
  ])('%s: compare the commits instead', (_label, push, reason) => {
    expect(incompleteReason(push, caps)).toMatch(reason);
  });

  it('a push under both caps is complete', () => {
    expect(incompleteReason({ forced: false, commits: [{ id: 'c1', added: ['a', 'b', 'c'] }, { id: 'c2' }] }, caps)).toBeUndefined();
  });
});

describe('derived ids', () => {
  it('are valid UUIDs, the same for the same parts and different otherwise', () => {
    const id = changeEventId('a'.repeat(40), 'cus-acme', 'config');
    expect(z.uuid().safeParse(id).success).toBe(true);
    expect(changeEventId('a'.repeat(40), 'cus-acme', 'config')).toBe(id);
    expect(changeEventId('a'.repeat(40), 'cus-acme', 'config', 1)).not.toBe(id);
    expect(changeEventId('b'.repeat(40), 'cus-acme', 'config')).not.toBe(id);
    expect(pushEventId('Acme/Deployments', 'a'.repeat(40))).toBe(pushEventId('acme/deployments', 'a'.repeat(40)));
    expect(z.uuid().safeParse(derivedUuid('x')).success).toBe(true);
  });
});

describe('module applies', () => {
  it('auto-applies monitoring, executors and security; every other module needs a confirmation', () => {
    expect(['monitoring', 'executors', 'security', 'networking', 'database'].map((m) => applyModeOf(m))).toEqual(['auto', 'auto', 'auto', 'confirm', 'confirm']);
    expect(applyModeOf('networking', ['networking'])).toBe('auto');
  });

  it('waves: dev, then internal prod, then customers', () => {
    expect([waveOf({ environment: 'dev', tier: 'internal' }), waveOf({ environment: 'prod', tier: 'internal' }), waveOf({ environment: 'prod', tier: 'customer' })]).toEqual([0, 1, 2]);
  });

  it('a newer commit supersedes unconfirmed plans of the same instance and module, never confirmed or running ones', () => {
    const others = [
      { id: 'old-plan', committedAt: '2026-11-26T09:00:00Z', status: 'awaiting-confirmation' as ApplyStatus },
      { id: 'old-running', committedAt: '2026-11-26T09:10:00Z', status: 'applying' as ApplyStatus },
      { id: 'old-confirmed', committedAt: '2026-11-26T09:20:00Z', status: 'confirmed' as ApplyStatus },
    ];
    expect(supersession({ id: 'new', committedAt: '2026-11-26T10:00:00Z' }, others)).toEqual({ supersede: ['old-plan'], supersededBy: null });
  });

  it('an older commit arriving late is superseded by the newer pending one', () => {
    const others = [{ id: 'newer', committedAt: '2026-11-26T11:00:00Z', status: 'planning' as ApplyStatus }];
    expect(supersession({ id: 'late', committedAt: '2026-11-26T10:00:00Z' }, others)).toEqual({ supersede: [], supersededBy: 'newer' });
  });

  const T0 = new Date('2026-11-26T10:00:00Z'); // a Thursday
  const SAT = { days: ['sat' as const], start: '02:00', hours: 4, timeZone: 'Etc/UTC' };
  const candidate = (id: string, environment: 'dev' | 'prod', tier: 'internal' | 'customer', over: Partial<ModuleChangeCandidate> = {}): ModuleChangeCandidate => ({
    applyId: `${id}.networking.0123456789ab`,
    mode: 'auto',
    status: 'waiting',
    actor: 'github:octocat',
    instance: { id, environment, tier, ...(tier === 'customer' ? { maintenanceWindow: SAT } : {}) },
    ...over,
  });

  it("a module change's members: each apply in its wave, a customer at its window's opening, a plan to confirm not yet eligible, a superseded one left out", () => {
    const { members, sizes } = moduleChangeMembers(
      [candidate('dev-a', 'dev', 'internal'), candidate('int-b', 'prod', 'internal', { mode: 'confirm', status: 'awaiting-confirmation' }), candidate('cus-c', 'prod', 'customer'), candidate('cus-d', 'prod', 'customer', { status: 'superseded' })],
      T0,
    );
    expect(sizes).toEqual({ dev: 1, internal: 1, customers: 1 });
    expect(members.map((m) => [m.instanceId, m.wave, m.eligibleAt, m.applyId])).toEqual([
      ['cus-c', 'customers', '2026-11-28T02:00:00.000Z', 'cus-c.networking.0123456789ab'],
      ['dev-a', 'dev', T0.toISOString(), 'dev-a.networking.0123456789ab'],
      ['int-b', 'internal', null, 'int-b.networking.0123456789ab'],
    ]);
    expect(moduleChangeWaves(sizes).map((w) => [w.name, w.maxInFlight, w.failureBudget.min, w.soakMs])).toEqual([
      ['dev', 10, 0, 0],
      ['internal', 5, 0, 0],
      ['customers', 20, 0, 0],
    ]);
  });

  it('a confirmation makes a member eligible with the digest and the person; supersession skips one not started', () => {
    const [waiting] = moduleChangeMembers([candidate('int-b', 'prod', 'internal', { mode: 'confirm', status: 'awaiting-confirmation' })], T0).members;
    if (waiting === undefined) throw new Error('no member');
    const confirmed = confirmedMember(waiting, { planDigest: 'd'.repeat(64), by: 'carol@example.com' }, T0);
    expect(confirmed).toMatchObject({ state: 'pending', eligibleAt: T0.toISOString(), planDigest: 'd'.repeat(64), actor: 'carol@example.com' });
    // Only once: a member already eligible (or started) is not confirmed again.
    expect(confirmed === undefined ? undefined : confirmedMember(confirmed, { planDigest: null, by: 'dave@example.com' }, T0)).toBeUndefined();
    expect(supersededMember(waiting, 'int-b.networking.fedcba987654', T0)).toMatchObject({ state: 'skipped', detail: 'superseded by int-b.networking.fedcba987654 before it started' });
    expect(supersededMember({ ...waiting, state: 'in-flight' }, 'x', T0)).toBeUndefined();
  });

  it("a module change's id is readable and the same for one module and commit, whatever the module's name", () => {
    expect(moduleChangeId('networking', 'a'.repeat(40))).toBe('mc-aaaaaaaaaaaa-networking');
    const odd = moduleChangeId('data_store', 'a'.repeat(40));
    expect(odd).toMatch(/^mc-aaaaaaaaaaaa-data-store-[0-9a-f]{8}$/);
    expect(odd).not.toBe(moduleChangeId('data-store', 'a'.repeat(40)));
    expect(moduleChangeId('m'.repeat(63), 'a'.repeat(40)).length).toBeLessThanOrEqual(63);
  });
});

describe('config.yaml', () => {
  const valid = ['id: cus-acme', 'slug: acme', 'environment: prod', 'tier: customer', 'domain: acme.example.com', 'region: us-central1', 'version: 5.4.2', 'maintenanceWindow:', '  days: [sat, sun]', '  start: "02:00"', '  hours: 4', '  timeZone: America/New_York'].join('\n');
  const where = { environment: 'prod', instanceId: 'cus-acme' };

  it('parses a valid spec', () => {
    expect(parseConfig(valid, where)).toMatchObject({ spec: { id: 'cus-acme', version: '5.4.2' } });
  });

  it.each([
    ['a bad version', valid.replace('version: 5.4.2', 'version: five'), 'version'],
    ['a missing maintenance window of a customer', valid.split('\nmaintenanceWindow')[0] ?? '', 'maintenanceWindow'],
    ['an id that is not its folder', valid.replace('id: cus-acme', 'id: cus-other'), 'id'],
    ['an environment that is not its folder', valid.replace('environment: prod', 'environment: dev').replace('tier: customer', 'tier: internal').concat('\nowner: dana@example.com'), 'environment'],
    ['an unknown field', `${valid}\ncolour: blue`, 'colour'],
    ['YAML that does not parse', 'id: [unclosed', null],
  ])('names the field at fault for %s', (_label, text, field) => {
    const parsed = parseConfig(text, where);
    expect(parsed).toMatchObject({ field });
  });
});

describe('what a change of config.yaml means once read', () => {
  const present: FileAt = { state: 'present', text: 'id: cus-acme' };
  const absent: FileAt = { state: 'absent' };
  const unknownAfter: FileAt = { state: 'unknown-commit', commit: 'a'.repeat(40) };
  const unknownBefore: FileAt = { state: 'unknown-commit', commit: 'b'.repeat(40) };
  it.each([
    ['changed, present at after: the spec', 'changed', present, undefined, { kind: 'spec', text: 'id: cus-acme' }],
    ['removed, yet present at after: the spec, not a removal', 'removed', present, undefined, { kind: 'spec', text: 'id: cus-acme' }],
    ['changed, after unknown: retry, never a removal', 'changed', unknownAfter, undefined, { kind: 'retry', reason: expect.stringMatching(/aaaaaaaa.* not in the deployment repository/) as unknown }],
    ['removed, after unknown: retry', 'removed', unknownAfter, present, { kind: 'retry', reason: expect.stringMatching(/not in the deployment repository/) as unknown }],
    ['changed, absent at a known after: refused', 'changed', absent, present, { kind: 'refuse', reason: expect.stringMatching(/listed as changed but absent/) as unknown }],
    ['removed, absent at after, before not read yet: read it', 'removed', absent, undefined, { kind: 'read-before' }],
    ['removed, absent at after, present at before: the removal', 'removed', absent, present, { kind: 'removed' }],
    ['removed, absent at after and at before: nothing to remove', 'removed', absent, absent, { kind: 'ignore', reason: expect.stringMatching(/not at the push's before commit/) as unknown }],
    ['removed, absent at after, before unknown: retry, never a removal', 'removed', absent, unknownBefore, { kind: 'retry', reason: expect.stringMatching(/before commit bbbbbbbb.*cannot be confirmed/) as unknown }],
  ] as const)('%s', (_label, change, after, before, expected) => {
    expect(decideConfigChange(change, after, before)).toEqual(expected);
  });
});

describe('which of two changes of one instance is newer', () => {
  it.each([
    ['the incoming commit descends from the recorded one', 'ahead', undefined, { winner: 'incoming' }],
    ['the incoming commit is an ancestor of the recorded one (arrived late)', 'behind', undefined, { winner: 'stored', reason: expect.stringMatching(/older/) as unknown }],
    ['the same commit', 'identical', undefined, { winner: 'stored', reason: 'the same commit' }],
    ['diverged: the default branch must say', 'diverged', undefined, { winner: 'ask-branch' }],
    ['diverged, only the incoming one on the branch', 'diverged', { incoming: true, stored: false }, { winner: 'incoming' }],
    ['diverged, only the recorded one on the branch', 'diverged', { incoming: false, stored: true }, { winner: 'stored', reason: expect.stringMatching(/no longer holds/) as unknown }],
    ['diverged, both on the branch', 'diverged', { incoming: true, stored: true }, { winner: 'stored', reason: expect.stringMatching(/both are on the default branch/) as unknown }],
  ] as const)('%s', (_label, relation, onBranch, expected) => {
    expect(newerChange(relation, onBranch)).toEqual(expected);
  });
});

describe('what the newest change of an instance does next', () => {
  const spec = { id: 'cus-acme', slug: 'acme', environment: 'prod', tier: 'customer', domain: 'acme.example.com', region: 'us-central1', version: '5.5.0' } as InstanceSpec;
  const lease = { operationId: 'op-1', operationType: 'backup', acquiredAt: '2026-11-26T10:00:00Z' };
  it.each([
    ['no instance: create it', undefined, { kind: 'ask', type: 'instance.create' }],
    ['a deleted instance: create it again', { status: 'deleted', version: '5.4.2', lease: null }, { kind: 'ask', type: 'instance.create' }],
    ['a leased instance: wait for the lease', { status: 'backing-up', version: '5.4.2', lease }, { kind: 'wait', reason: expect.stringMatching(/op-1/) as unknown }],
    ['a leased instance already at the version still waits (the operation may change it)', { status: 'backing-up', version: '5.5.0', lease }, { kind: 'wait', reason: expect.stringMatching(/op-1/) as unknown }],
    ['a free instance at another version: upgrade', { status: 'active', version: '5.4.2', lease: null }, { kind: 'ask', type: 'instance.upgrade', targetVersion: '5.5.0' }],
    ['a free instance at the version: nothing to do', { status: 'active', version: '5.5.0', lease: null }, { kind: 'unchanged', reason: expect.stringMatching(/already runs 5.5.0/) as unknown }],
  ] as const)('%s', (_label, instance, expected) => {
    expect(dispatchDecision(spec, instance)).toEqual(expected);
  });

  const asked = { attempt: 2, request: { eventId: 'e1', type: 'instance.upgrade' as const, at: '2026-11-26T10:00:00Z' } };
  const now = new Date('2026-11-26T10:03:00Z');
  const answer = (outcome: 'accepted' | 'rejected' | 'invalid', code: string | null, operationId: string | null = null) => ({ outcome, code, reason: code === null ? null : `said ${code}`, operationId });
  it.each([
    ['no answer yet', undefined, now, { kind: 'pending' }],
    ['no answer for longer than the republish delay: ask again (same event id)', undefined, new Date('2026-11-26T10:05:00Z'), { kind: 'ask-again' }],
    ['accepted: applied, with its operation', answer('accepted', null, 'op-e1'), now, { kind: 'applied', operationId: 'op-e1' }],
    ['busy: wait again under the next attempt, never a failure', answer('rejected', 'busy'), now, { kind: 'wait', attempt: 3 }],
    ['refused for another reason: recorded with it', answer('rejected', 'not-newer'), now, { kind: 'refused', reason: 'not-newer: said not-newer' }],
    ['invalid: recorded with it', answer('invalid', 'invalid'), now, { kind: 'refused', reason: 'invalid: said invalid' }],
  ] as const)('%s', (_label, given, at, expected) => {
    expect(answerDecision(asked, given, at, 5 * 60_000)).toEqual(expected);
  });

  it('refuses input it cannot judge, saying what is wrong', () => {
    expect(() => answerDecision({ attempt: 0, request: null }, undefined, now, 1)).toThrow(/has no request/);
    expect(() => answerDecision({ attempt: 0, request: { ...asked.request, at: 'yesterday' } }, undefined, now, 1)).toThrow(/request.at is not a time: "yesterday"/);
  });
});

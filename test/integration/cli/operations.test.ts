import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperationRecord } from '../../../shared/domain/lifecycle/operations.js';
import type { InstanceRecord } from '../../../shared/events/index.js';
import { createEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { LifecycleTap, OPERATOR, cliEnv, closeCommands, driveWhile, mi, openCommands } from './support.js';
import { paths } from '../../../shared/store/collections.js';
import { compactElapsed } from '../../../cli/output.js';

let f: EngineFixture;
let tap: LifecycleTap;

beforeAll(async () => {
  f = await createEngineFixture(import.meta.url);
  await openCommands(f);
  tap = await LifecycleTap.open(f);
});

afterAll(async () => {
  await closeCommands();
  await tap.close();
  await f.close();
});

/** The event id the CLI printed ("sent … (event <uuid>)"). */
function eventIdOf(stdout: string): string {
  const match = /\(event ([0-9a-f-]{36})\)/.exec(stdout);
  if (!match?.[1]) throw new Error(`no event id in:\n${stdout}`);
  return match[1];
}

describe('mi upgrade', () => {
  it('sends instance.upgrade as the verified operator, which the commands function publishes as a valid envelope, and names the operation to follow', async () => {
    const inst = await f.seedInstance();
    const run = await mi(f.projectId, ['upgrade', inst.id, '--to', '5.5.0', '--reason', 'monthly release']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const eventId = eventIdOf(run.stdout);
    expect(run.stdout).toContain(`sent instance.upgrade for ${inst.id} (5.4.2 → 5.5.0) as ${OPERATOR}`);
    expect(run.stdout).toContain(`operation op-${eventId}: follow it with mi op get op-${eventId}`);
    const { envelope, message } = await tap.next(eventId);
    expect(envelope).toMatchObject({
      type: 'instance.upgrade',
      schemaVersion: 1,
      instanceId: inst.id,
      actor: OPERATOR,
      reason: 'monthly release',
      origin: 'commands',
      payload: { targetVersion: '5.5.0' },
    });
    expect(message.attributes).toMatchObject({ eventType: 'instance.upgrade', eventId });
  });

  it('--wait shows each step as it passes and exits 0 when the upgrade succeeds', async () => {
    const inst = await f.seedInstance();
    const run = await driveWhile(f, tap, mi(f.projectId, ['upgrade', inst.id, '--to', '5.5.0', '--wait']));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const operationId = `op-${eventIdOf(run.stdout)}`;
    const out = run.stdout;
    expect(out).toContain(`operation ${operationId} running: upgrade of ${inst.id} 5.4.2 → 5.5.0`);
    expect(out).toMatch(/^\d\d:\d\d:\d\dZ \+\S+ {3,}sql-backup\s+\w+ → running {2}\(.*backupRunId \d+/m);
    expect(out).toMatch(/^\d\d:\d\d:\d\dZ \+\S+ {3,}sql-backup\s+\w+ → succeeded/m);
    expect(out).toMatch(/^\d\d:\d\d:\d\dZ \+\S+ {3,}gke-backup\s+\w+ → succeeded/m);
    expect(out).toMatch(/^\d\d:\d\d:\d\dZ \+\S+ {3,}upgrade-application\s+\w+ → succeeded/m);
    // The application step starts only once both backups have succeeded.
    const lines = out.split('\n');
    const upgradeStarted = lines.findIndex((l) => /upgrade-application\s+pending → /.test(l));
    expect(upgradeStarted).toBeGreaterThan(lines.findIndex((l) => /sql-backup\s+\w+ → succeeded/.test(l)));
    expect(upgradeStarted).toBeGreaterThan(lines.findIndex((l) => /gke-backup\s+\w+ → succeeded/.test(l)));
    expect(lines.filter((l) => l !== '').at(-1)).toMatch(new RegExp(`^upgrade ${operationId} succeeded in .*: ${inst.id} runs 5\\.5\\.0$`));
    expect(await f.instance(inst.id)).toMatchObject({ version: '5.5.0', status: 'active', lease: null });
    expect(await f.operation(operationId)).toMatchObject({ actor: OPERATOR, reason: 'requested with mi' });
    // Each line says when it happened (the step's recorded end) and how long after the operation was accepted.
    const op = await f.operation(operationId);
    const backup = op?.steps.find((s) => s.name === 'sql-backup');
    const backedUp = lines.find((l) => /sql-backup\s+\w+ → succeeded/.test(l)) ?? '';
    expect(backedUp.slice(0, 10)).toBe(`${backup?.finishedAt?.slice(11, 19) ?? '?'}Z `);
    expect(backedUp.split(/\s+/)[1]).toBe(`+${compactElapsed(op?.createdAt ?? '', backup?.finishedAt ?? '')}`);
    const elapsed = lines.filter((l) => /^\d\d:\d\d:\d\dZ \+/.test(l)).map((l) => l.split(/\s+/)[1] ?? '');
    expect(elapsed.length).toBeGreaterThan(5);
  });

  it('--wait --json prints one JSON document: what was sent, by whom, and the operation as stored', async () => {
    const inst = await f.seedInstance();
    const run = await driveWhile(f, tap, mi(f.projectId, ['upgrade', inst.id, '--to', '6.0.0', '--wait', '--json']));
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { operationId: string; command: string; by: string; outcome: string; operation: OperationRecord };
    expect(result).toMatchObject({ command: 'instance.upgrade', by: OPERATOR, outcome: 'succeeded' });
    expect(result.operation).toEqual(JSON.parse(JSON.stringify(await f.operation(result.operationId))));
    expect(result.operation).toMatchObject({ actor: OPERATOR, origin: 'commands', type: 'upgrade' });
  });

  it('--wait reports a rejection by the lifecycle function with its code, and exits 1', async () => {
    const inst = await f.seedInstance();
    const run = await driveWhile(f, tap, mi(f.projectId, ['upgrade', inst.id, '--to', '5.5.0', '--wait']), {
      // Between the CLI's check and the function's, someone else upgrades the instance further.
      beforeHandling: async (published) => {
        if (published.envelope.instanceId === inst.id) await f.store.set(paths.instance(inst.id), { ...inst, version: '5.6.0' });
      },
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('rejected (not-newer): target version 5.5.0 is not newer than the running version 5.6.0');
    expect(await f.operation(`op-${eventIdOf(run.stdout)}`)).toBeUndefined();
  });

  it('--wait gives up after --timeout with exit 4 when nothing takes the command up', async () => {
    const inst = await f.seedInstance();
    const run = await mi(f.projectId, ['upgrade', inst.id, '--to', '5.5.0', '--wait', '--timeout', '300ms']);
    expect(run.code).toBe(4);
    expect(run.stdout).toMatch(/gave up after \d+s: operation op-\S+ has not appeared/);
    // Not driven: take the message so no other test's driver starts it.
    await tap.next(eventIdOf(run.stdout));
  });

  it('an unknown instance exits 2 with a pointer to the fleet, and publishes nothing', async () => {
    const run = await mi(f.projectId, ['upgrade', 'no-such-instance', '--to', '5.5.0']);
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toBe('mi: no instance no-such-instance (mi instance list shows the fleet)\n');
  });

  it('a bad version is refused naming the flag', async () => {
    const inst = await f.seedInstance();
    const run = await mi(f.projectId, ['upgrade', inst.id, '--to', '5.x']);
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toBe('mi: --to: expected a semantic version such as 5.4.2, got "5.x"\n');
  });

  it.each(['5.4.2', '5.0.0'])('a version that is not newer (%s) is refused up front', async (version) => {
    const inst = await f.seedInstance();
    const run = await mi(f.projectId, ['upgrade', inst.id, '--to', version]);
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toBe(`mi: --to ${version} is not newer than ${inst.id}'s running version 5.4.2\n`);
  });

  it('--rollback of an instance with no recorded upgrade is refused up front; a degraded instance refuses --to', async () => {
    const fresh = await f.seedInstance();
    const none = await mi(f.projectId, ['upgrade', fresh.id, '--rollback']);
    expect([none.code, none.stderr]).toEqual([2, `mi: instance ${fresh.id} has no recorded upgrade to roll back\n`]);
    const degraded = await f.seedInstance({ status: 'degraded', version: '5.5.0', lastUpgrade: { operationId: 'op-up', fromVersion: '5.4.2', toVersion: '5.5.0', migrationsRan: false, rollback: false, at: '2026-11-26T10:00:00.000Z' } });
    const forward = await mi(f.projectId, ['upgrade', degraded.id, '--to', '5.6.0']);
    expect(forward.code).toBe(2);
    expect(forward.stderr).toContain(`roll it back first (mi upgrade ${degraded.id} --rollback)`);
    const shown = await mi(f.projectId, ['instance', 'get', degraded.id]);
    expect(shown.stdout).toContain(`5.4.2 → 5.5.0 by op-up at 2026-11-26T10:00:00.000Z (no migrations: mi upgrade ${degraded.id} --rollback goes back to 5.4.2)`);
  });

  it('a busy instance is refused up front, naming the operation that holds it', async () => {
    const inst = await f.seedInstance({
      status: 'backing-up',
      lease: { operationId: 'op-other', operationType: 'backup', acquiredAt: '2026-11-26T10:00:00.000Z' },
    });
    const run = await mi(f.projectId, ['upgrade', inst.id, '--to', '5.5.0']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`instance ${inst.id} is busy with backup operation op-other`);
  });

  it.each([
    [['upgrade', 'x1'], 'give --to <version> or --rollback (one of them)'],
    [['upgrade', 'x1', '--to', '5.5.0', '--rollback'], 'give --to <version> or --rollback (one of them)'],
    [['upgrade', 'x1', '--to', '5.5.0', '--timeout', 'soon'], '--timeout: expected a duration such as 90s, 30m or 2h'],
    [['upgrade', 'x1', '--to', '5.5.0', '--reason', ' '], '--reason: expected why, not an empty text'],
    [['upgrade', 'NOPE', '--to', '5.5.0'], '<instance>: expected an instance id'],
  ])('refuses %j with exit 2', async (args, message) => {
    const run = await mi(f.projectId, args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });
});

describe('mi backup', () => {
  it('--wait takes both backups and exits 0, the note in the envelope', async () => {
    const inst = await f.seedInstance();
    const run = await driveWhile(f, tap, mi(f.projectId, ['backup', inst.id, '--note', 'before a data fix', '--wait']));
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^\d\d:\d\d:\d\dZ \+\S+ {3,}sql-backup\s+\w+ → succeeded/m);
    expect(run.stdout).toMatch(/^\d\d:\d\d:\d\dZ \+\S+ {3,}gke-backup\s+\w+ → succeeded/m);
    const operationId = `op-${eventIdOf(run.stdout)}`;
    expect(run.stdout).toMatch(new RegExp(`^backup ${operationId} succeeded in `, 'm'));
    const op = await f.operation(operationId);
    expect(op).toMatchObject({ type: 'backup', status: 'succeeded', actor: OPERATOR });
    expect(await f.instance(inst.id)).toMatchObject({ status: 'active', lease: null } satisfies Partial<InstanceRecord>);
  });

  it('--json without --wait prints the event and operation ids, and who sent it', async () => {
    const inst = await f.seedInstance();
    const run = await mi(f.projectId, ['backup', inst.id, '--json']);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { eventId: string; operationId: string; command: string; by: string };
    expect(result).toMatchObject({ operationId: `op-${result.eventId}`, command: 'instance.backup', by: OPERATOR });
    expect((await tap.next(result.eventId)).envelope).toMatchObject({ type: 'instance.backup', instanceId: inst.id, actor: OPERATOR, payload: {} });
  });
});

describe('mi check', () => {
  it('--wait runs the read-only checks and exits 0 when they pass; an unhealthy instance exits 1 with what the probe saw, and nothing was changed', async () => {
    const inst = await f.seedInstance();
    const run = await driveWhile(f, tap, mi(f.projectId, ['check', inst.id, '--wait']));
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain(`sent instance.check for ${inst.id} (health, backup-policy)`);
    expect(run.stdout).toMatch(/^\d\d:\d\d:\d\dZ \+\S+ {3,}health\s+\w+ → succeeded/m);
    expect(run.stdout).toMatch(/^\d\d:\d\d:\d\dZ \+\S+ {3,}backup-policy\s+\w+ → succeeded/m);

    const sick = await f.seedInstance();
    f.fleet.applications.failNow(sick.domain, 'unhealthy');
    const failed = await driveWhile(f, tap, mi(f.projectId, ['check', sick.id, '--only', 'health', '--wait']));
    expect(failed.code).toBe(1);
    expect(`${failed.stdout}${failed.stderr}`).toMatch(/the health gate of the running instance \(recorded on 5\.4\.2\) did not see 1 passing probe.* → 503.*nothing was changed/s);
    const op = await f.operation(`op-${eventIdOf(failed.stdout)}`);
    expect(op?.steps.map((s) => s.kind)).toEqual(['health-check']);
    expect(await f.instance(sick.id)).toMatchObject({ status: 'active', lease: null, version: sick.version });
    f.fleet.applications.clearFaults(sick.domain);
  });

  it('refuses a check it does not know before sending anything', async () => {
    const inst = await f.seedInstance();
    const run = await mi(f.projectId, ['check', inst.id, '--only', 'disk']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--only');
    expect(run.stderr).toContain('expected a check: one of health, backup-policy');
  });
});

describe('the instance from where you stand', () => {
  it('a lifecycle command takes the instance whose folder mi runs in; an explicit id wins; elsewhere it says how to name one', async () => {
    const inst = await f.seedInstance();
    const other = await f.seedInstance();
    const cwd = `/srv/checkout/environments/prod/deployments/${inst.id}/terraform`;
    const here = await mi(f.projectId, ['backup', '--json'], { cwd });
    expect(here.stderr).toBe('');
    const { eventId } = JSON.parse(here.stdout) as { eventId: string };
    expect((await tap.next(eventId)).envelope.instanceId).toBe(inst.id);
    const explicit = await mi(f.projectId, ['backup', other.id, '--json'], { cwd });
    expect((await tap.next((JSON.parse(explicit.stdout) as { eventId: string }).eventId)).envelope.instanceId).toBe(other.id);
    const nowhere = await mi(f.projectId, ['backup'], { cwd: '/srv/checkout' });
    expect([nowhere.code, nowhere.stderr]).toEqual([2, 'mi: give an instance id, or run mi inside its folder of the deployment repository (environments/<env>/deployments/<id>)\n']);
  });
});

describe('who sends a command', () => {
  it('is the token the commands function verified: MI_ACTOR and a git email that differs change nothing', async () => {
    const inst = await f.seedInstance();
    const run = await mi(f.projectId, ['backup', inst.id, '--json'], { env: cliEnv({ MI_ACTOR: 'bob@example.com', GIT_AUTHOR_EMAIL: 'bob@example.com' }) });
    expect(run.code).toBe(0);
    const { eventId } = JSON.parse(run.stdout) as { eventId: string };
    expect((await tap.next(eventId)).envelope.actor).toBe(OPERATOR);
    const request = await f.store.get<{ actor: string; subject: string }>(paths.commandRequest(eventId));
    expect(request).toMatchObject({ actor: OPERATOR, subject: `local:${OPERATOR}` });
  });

  it('on the local stack, --as signs the token for that person, and the record says so', async () => {
    const inst = await f.seedInstance();
    const run = await mi(f.projectId, ['--as', 'second.person@example.com', 'backup', inst.id]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('as second.person@example.com');
    expect((await tap.next(eventIdOf(run.stdout))).envelope.actor).toBe('second.person@example.com');
  });

  it('in the cloud, --as is refused before anything is sent (exit 2): you are your Google credentials', async () => {
    const run = await mi(f.projectId, ['--as', 'boss@example.com', 'backup', 'any-instance'], {
      env: cliEnv({ FIRESTORE_EMULATOR_HOST: undefined, PUBSUB_EMULATOR_HOST: undefined, MI_COMMANDS_URL: 'https://commands.example.run.app' }),
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--as boss@example.com works on the local stack only');
  });

});

/**
 * Time-bound access, end to end in one process: `mi access` through the real PAM adapter, over
 * HTTP, to the simulated PAM as `mi dev` serves it (its grants on a manual clock, its bindings in
 * the simulated IAM policy the sweep reads), each person a token signed by mi dev's key.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../cli/main.js';
import { EXIT } from '../../../cli/config.js';
import type { GrantSummary, SweepFinding } from '../../../shared/domain/access/grants.js';
import { ManualClock } from '../../../shared/sim/index.js';
import type { PamServer } from '../../../shared/sim/pam-http.js';
import type { SimulatedPam } from '../../../shared/sim/pam.js';
import { LOCAL_FOLDERS } from '../../../cli/dev/access.js';
import { serveLocalAccess } from '../../support/local-access.js';

const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
const clock = new ManualClock('2026-12-01T09:00:00Z');
let pam: SimulatedPam;
let server: PamServer;
let dir: string;
let identityFile: string;

async function mi(as: string, args: readonly string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['--as', as, 'access', ...args], {
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    env: { FIRESTORE_EMULATOR_HOST: '127.0.0.1:1', MI_DEV_IDENTITY_FILE: identityFile },
  });
  return { code, stdout: out.join(''), stderr: err.join('') };
}
const json = <T>(run: { stdout: string }) => JSON.parse(run.stdout) as T;
const grantId = (run: { stdout: string }) => json<{ name: string }>(run).name.split('/').at(-1) ?? '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mi-access-'));
  ({ pam, server, identityFile } = await serveLocalAccess(clock, dir, [ALICE, BOB]));
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('prod access: requested with a reason, approved by someone else, removed when it ends', () => {
  it('alice asks for 1 h, her own approval is refused, bob approves, the sweep reports only a binding added by hand, and the grant ends on time', async () => {
    const requested = await mi(ALICE, ['request', '--env', 'prod', '--role', 'operator', '--for', '1h', '--why', 'INC-4711: verify the restore on cus-acme', '--json']);
    expect(requested.stderr).toBe('');
    expect(json<{ state: string; requester: string }>(requested)).toMatchObject({ state: 'APPROVAL_AWAITED', requester: ALICE });
    const id = grantId(requested);

    const own = await mi(ALICE, ['approve', id, '--reason', 'looks fine to me']);
    expect(own.code).toBe(EXIT.refused);
    expect(own.stderr).toContain(`approving ${id} refused: ${ALICE} requested grant ${id} and cannot approve it`);
    expect(pam.policies.bindings(LOCAL_FOLDERS.prod)).toEqual([]);

    clock.advance(5 * 60_000);
    const approved = await mi(BOB, ['approve', id, '--reason', 'on call, incident open']);
    expect(approved.stderr).toBe('');
    expect(approved.stdout).toContain(`${id} on prod-operator for ${ALICE}: ACTIVE, approved by ${BOB}, from 2026-12-01T09:05:00.000Z`);
    expect(pam.policies.bindings(LOCAL_FOLDERS.prod).map((b) => [b.role, b.members])).toEqual([
      ['roles/container.developer', [`user:${ALICE}`]],
      ['roles/cloudsql.client', [`user:${ALICE}`]],
      ['roles/cloudsql.instanceUser', [`user:${ALICE}`]],
      ['roles/logging.viewer', [`user:${ALICE}`]],
    ]);

    // Someone grants themselves a role by hand: standing access no grant explains.
    pam.policies.add({ resource: LOCAL_FOLDERS.prod, role: 'roles/editor', members: ['user:mallory@example.com', 'serviceAccount:mi-fn-lifecycle@p.iam.gserviceaccount.com'] });
    const sweep = await mi(BOB, ['sweep', '--json']);
    expect(sweep.code).toBe(EXIT.failed);
    expect(json<{ findings: SweepFinding[] }>(sweep).findings).toEqual([
      { kind: 'standing-human-access', resource: LOCAL_FOLDERS.prod, role: 'roles/editor', member: 'user:mallory@example.com', detail: `user:mallory@example.com holds roles/editor on ${LOCAL_FOLDERS.prod} and no active grant explains it` },
    ]);

    clock.advance(59 * 60_000);
    expect((await mi(BOB, ['list', '--env', 'prod', '--json'])).stdout).toContain('"state": "ACTIVE"');
    clock.advance(60_000);
    const ended = json<GrantSummary[]>(await mi(BOB, ['list', '--env', 'prod', '--json']));
    expect(ended).toEqual([
      {
        grant: expect.stringContaining(`/grants/${id}`) as unknown,
        entitlement: 'prod-operator',
        requester: ALICE,
        reason: 'INC-4711: verify the restore on cus-acme',
        state: 'ENDED',
        hours: 1,
        approvedBy: BOB,
        deniedBy: null,
        revokedBy: null,
        start: '2026-12-01T09:05:00.000Z',
        end: '2026-12-01T10:05:00.000Z',
      },
    ]);
    expect(pam.policies.bindings(LOCAL_FOLDERS.prod).filter((b) => b.members.includes(`user:${ALICE}`))).toEqual([]);
    pam.policies.remove(LOCAL_FOLDERS.prod, 'roles/editor', 'user:mallory@example.com');
  });

  it('refuses a request longer than the entitlement allows, and one without a known entitlement', async () => {
    const long = await mi(ALICE, ['request', '--env', 'prod', '--role', 'operator', '--for', '5h', '--why', 'a long day']);
    expect(long.code).toBe(EXIT.refused);
    expect(long.stderr).toContain("exceeds the entitlement's max_request_duration of 14400s");
    const unknown = await mi(ALICE, ['request', '--env', 'prod', '--role', 'owner', '--for', '1h', '--why', 'x']);
    expect(unknown.code).toBe(EXIT.refused);
    expect(unknown.stderr).toContain('no entitlement prod-owner (there are: dev-operator, prod-operator, prod-breakglass)');
  });

  it('grants dev access at once; break-glass is granted at once too and the sweep asks for its review; revoke ends it', async () => {
    const dev = await mi(BOB, ['request', '--env', 'dev', '--role', 'operator', '--for', '2h', '--why', 'debugging dev-bob', '--json']);
    expect(json<{ state: string }>(dev).state).toBe('ACTIVE');
    const glass = await mi(BOB, ['request', '--env', 'prod', '--role', 'breakglass', '--for', '1h', '--why', 'SEV1: control plane down', '--json']);
    expect(json<{ state: string }>(glass).state).toBe('ACTIVE');
    const sweep = json<{ findings: SweepFinding[] }>(await mi(ALICE, ['sweep', '--json']));
    expect(sweep.findings).toEqual([expect.objectContaining({ kind: 'breakglass-unreviewed', requester: BOB })]);
    const revoked = await mi(BOB, ['revoke', grantId(glass), '--reason', 'incident over']);
    expect(revoked.stdout).toContain(': REVOKED');
    expect(pam.policies.bindings(LOCAL_FOLDERS.prod).filter((b) => b.role === 'roles/owner')).toEqual([]);
  });

  it('outside the local stack, --as is refused before PAM is asked', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['--as', BOB, 'access', 'list'], { stdout: { write: (t) => out.push(t) }, stderr: { write: (t) => err.push(t) }, env: { GOOGLE_CLOUD_PROJECT: 'p', MI_ACCESS_ENTITLEMENTS: pam.entitlementNames().join(',') } });
    expect(code).toBe(EXIT.refused);
    expect(err.join('')).toContain('works on the local stack only');
  });
});

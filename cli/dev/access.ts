/**
 * The local stack's Privileged Access Manager: the simulator with the default entitlements on a
 * dev and a prod folder of its own, served over HTTP for `mi access` in another terminal. The
 * local signer plays the people; `oncall-approvers` are alice and bob, so that one of them can
 * approve the other's request (and nobody their own).
 */
import { defaultEntitlements } from '../../shared/domain/access/entitlements.js';
import { localIdentity, type LocalSigner } from '../../shared/identity/index.js';
import type { Clock } from '../../shared/ports.js';
import { servePam } from '../../shared/sim/pam-http.js';
import { SimulatedPam } from '../../shared/sim/pam.js';
import type { UndoStack } from './undo.js';

export const LOCAL_FOLDERS = { dev: 'folders/100000000001', prod: 'folders/100000000002' } as const;
export const LOCAL_APPROVERS = 'group:oncall-approvers@example.com';

export interface LocalAccess {
  pam: SimulatedPam;
  url: string;
  entitlements: string[];
}

export async function startLocalAccess(clock: Clock, signer: LocalSigner, undo: UndoStack, log: (line: string) => void): Promise<LocalAccess> {
  const pam = new SimulatedPam({
    clock,
    entitlements: defaultEntitlements([LOCAL_APPROVERS]).map((spec) => ({ spec, parent: LOCAL_FOLDERS[spec.environment] })),
    groups: { [LOCAL_APPROVERS]: ['alice@example.com', 'bob@example.com'] },
  });
  const server = await servePam(pam, localIdentity(signer, { clock }));
  undo.push('stop the simulated access manager', () => server.close());
  log(`access (sim PAM): ${server.url} (${pam.entitlementNames().map((n) => n.slice(n.lastIndexOf('/') + 1)).join(', ')})`);
  return { pam, url: server.url, entitlements: pam.entitlementNames() };
}

/**
 * The simulated PAM as `mi dev` serves it (its default entitlements on the local folders, the
 * approvers' group), over HTTP, and the identity file `mi` reads it from: for tests of `mi access`
 * and of the commands that need access.
 */
import { join } from 'node:path';
import { LOCAL_APPROVERS, LOCAL_FOLDERS } from '../../cli/dev/access.js';
import { writeIdentityFile } from '../../cli/dev/identity-file.js';
import { defaultEntitlements } from '../../shared/domain/access/entitlements.js';
import { createLocalSigner, localIdentity } from '../../shared/identity/index.js';
import type { Clock } from '../../shared/ports.js';
import { servePam, type PamServer } from '../../shared/sim/pam-http.js';
import { SimulatedPam } from '../../shared/sim/pam.js';

export interface LocalAccessFixture {
  pam: SimulatedPam;
  server: PamServer;
  /** MI_DEV_IDENTITY_FILE for mi. */
  identityFile: string;
}

/** Grants on `clock`; tokens signed and checked on the system clock, as mi signs them. */
export async function serveLocalAccess(clock: Clock, dir: string, approvers: readonly string[]): Promise<LocalAccessFixture> {
  const signer = await createLocalSigner();
  const pam = new SimulatedPam({ clock, entitlements: defaultEntitlements([LOCAL_APPROVERS]).map((spec) => ({ spec, parent: LOCAL_FOLDERS[spec.environment] })), groups: { [LOCAL_APPROVERS]: approvers } });
  const server = await servePam(pam, localIdentity(signer));
  const identityFile = join(dir, 'identity.json');
  await writeIdentityFile(identityFile, {
    version: 1,
    functionsUrl: 'http://127.0.0.1:1',
    commandsUrl: 'http://127.0.0.1:1/commands',
    audience: 'http://127.0.0.1:1/commands',
    issuer: signer.issuer,
    privateJwk: await signer.exportPrivateJwk(),
    projectId: 'demo-mi-local',
    access: { url: server.url, entitlements: pam.entitlementNames() },
    pid: process.pid,
    writtenAt: new Date().toISOString(),
  });
  return { pam, server, identityFile };
}

/**
 * The local stack's identity provider: the signer whose key the commands function verifies,
 * left in the identity file for `mi` in another terminal.
 */
import type { LocalSigner } from '../../shared/identity/index.js';
import { DEFAULT_IDENTITY_FILE, removeIdentityFile, writeIdentityFile } from './identity-file.js';
import type { UndoStack } from './undo.js';

/**
 * Writes the identity file (removed on stop, if still ours) unless `option` is false; returns
 * where it is. The default place is `.mi-dev/identity.json` in the repository.
 */
export async function leaveIdentityFile(
  option: string | false | undefined,
  input: { functionsUrl: string; commandsUrl: string; signer: LocalSigner; projectId: string; access?: { url: string; entitlements: string[] }; faultsUrl?: string; storageUrl?: string; soakScale?: number; windowClock?: { speedup: number; epochMs: number } },
  undo: UndoStack,
  log: (line: string) => void,
): Promise<string | undefined> {
  const identityFile = option === false ? undefined : (option ?? DEFAULT_IDENTITY_FILE);
  if (identityFile === undefined) return undefined;
  const { signer } = input;
  await writeIdentityFile(identityFile, {
    version: 1,
    functionsUrl: input.functionsUrl,
    commandsUrl: input.commandsUrl,
    audience: input.commandsUrl,
    issuer: signer.issuer,
    privateJwk: await signer.exportPrivateJwk(),
    projectId: input.projectId,
    ...(input.access === undefined ? {} : { access: input.access }),
    ...(input.faultsUrl === undefined ? {} : { faultsUrl: input.faultsUrl }),
    ...(input.storageUrl === undefined ? {} : { storageUrl: input.storageUrl }),
    ...(input.soakScale === undefined ? {} : { soakScale: input.soakScale }),
    ...(input.windowClock === undefined ? {} : { windowClock: input.windowClock }),
    pid: process.pid,
    writtenAt: new Date().toISOString(),
  });
  undo.push('remove the local identity file', () => removeIdentityFile(identityFile, signer.kid));
  log(`local identity for mi: ${identityFile}`);
  return identityFile;
}

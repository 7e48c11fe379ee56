/**
 * The commands function served on 127.0.0.1 as `mi dev` serves it: the production verifier on
 * a local signing key, the audience the function's URL (and any others the config names), the real services on the ports given
 * (the emulators), and the identity file `mi` signs its tokens from.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveFunctions } from '../../cli/dev/functions-server.js';
import { writeIdentityFile } from '../../cli/dev/identity-file.js';
import { useServices } from '../../functions/wiring.js';
import { createLocalSigner, localIdentity, type LocalSigner } from '../../shared/identity/index.js';
import type { Ports, Services, ServicesConfig } from '../../shared/services.js';
import { servicesWith } from './services.js';
import '../../functions/commands.js';

export interface CommandsServer {
  /** The commands function's URL, which is also the audience its tokens carry. */
  url: string;
  signer: LocalSigner;
  /** Where `mi` finds the key (MI_DEV_IDENTITY_FILE). */
  identityFile: string;
  services: Services;
  /** A token of `email` for this function. */
  tokenFor(email: string): Promise<string>;
  close(): Promise<void>;
}

export async function serveCommands(ports: Partial<Ports>, config: Partial<ServicesConfig> = {}, parts: Partial<Services> = {}): Promise<CommandsServer> {
  const signer = await createLocalSigner();
  const server = await serveFunctions({ functionNames: ['commands'] });
  const url = server.routes.commands ?? `${server.url}/commands`;
  const services = servicesWith(parts, { ...ports, identity: localIdentity(signer) }, { ...config, callers: { ...config.callers, audiences: [url, ...(config.callers?.audiences ?? [])] } });
  useServices(services);
  const dir = await mkdtemp(join(tmpdir(), 'mi-commands-'));
  const identityFile = join(dir, '.mi-dev', 'identity.json');
  await writeIdentityFile(identityFile, {
    version: 1,
    functionsUrl: server.url,
    commandsUrl: url,
    audience: url,
    issuer: signer.issuer,
    privateJwk: await signer.exportPrivateJwk(),
    projectId: 'demo-mi-local',
    pid: process.pid,
    writtenAt: new Date().toISOString(),
  });
  return {
    url,
    signer,
    identityFile,
    services,
    tokenFor: (email) => signer.sign({ email, audience: url }),
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * How `mi dev` hands its local identity to `mi` in another terminal: a file under `.mi-dev/` at
 * the repository root (gitignored) holding the local signing key and where the commands
 * function listens. The key signs tokens only this machine's `mi dev` accepts, but it
 * is still a key: the file is readable by its owner only, and removed when `mi dev` stops.
 */
import { chmod, mkdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { JWK } from 'jose';
import * as z from 'zod';
import type { CliEnv } from '../backend.js';
import { inProject } from '../project-root.js';

/** Overrides where the file is (tests, or two checkouts sharing nothing). */
export const IDENTITY_FILE_VARIABLE = 'MI_DEV_IDENTITY_FILE';

/** `<repository>/.mi-dev/identity.json`. */
export const DEFAULT_IDENTITY_FILE = inProject('.mi-dev', 'identity.json');

/** Where the file is for this environment. */
export function identityFilePath(env: CliEnv): string {
  const override = env[IDENTITY_FILE_VARIABLE]?.trim();
  return override === undefined || override === '' ? DEFAULT_IDENTITY_FILE : override;
}

const privateJwkSchema = z.looseObject({
  kty: z.literal('RSA'),
  kid: z.string().min(1),
  n: z.string().min(1),
  e: z.string().min(1),
  d: z.string().min(1),
});

export const localIdentityFileSchema = z.object({
  version: z.literal(1),
  /** `http://127.0.0.1:<port>`: every function of the stack. */
  functionsUrl: z.url(),
  commandsUrl: z.url(),
  /** The audience the commands function expects. */
  audience: z.string().min(1),
  issuer: z.string().min(1),
  privateJwk: privateJwkSchema,
  projectId: z.string().min(1),
  /** The simulated Privileged Access Manager: where it listens and its entitlements' names. */
  access: z.object({ url: z.url(), entitlements: z.array(z.string().min(1)) }).optional(),
  /** The simulated fleet's fault control (`mi dev fault`). */
  faultsUrl: z.url().optional(),
  /** The simulated Cloud Storage: the evidence bucket `mi compliance verify` reads the anchors from. */
  storageUrl: z.url().optional(),
  /** What a rollout's soak lasts on this stack's clock, as a fraction of what its waves ask (cli/dev/local-time.ts). */
  soakScale: z.number().positive().max(1).optional(),
  /** The calendar customers' windows are read on by this stack's rollouts (cli/dev/local-time.ts). */
  windowClock: z.object({ speedup: z.number().min(1), epochMs: z.number().int() }).optional(),
  /** The `mi dev` process that wrote it. */
  pid: z.number().int(),
  writtenAt: z.string(),
});
export type LocalIdentityFile = z.infer<typeof localIdentityFileSchema>;

/** What `mi dev` writes: the signer's exported key is checked to be a usable RSA private JWK on the way. */
export type LocalIdentityFileInput = Omit<LocalIdentityFile, 'privateJwk'> & { privateJwk: JWK };

/** Writes the file with owner-only permissions (the directory too), replacing any previous one whole. */
export async function writeIdentityFile(path: string, input: LocalIdentityFileInput): Promise<void> {
  const content = localIdentityFileSchema.parse(input);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Written aside then renamed: a reader never sees half a file, and the key is never world-readable.
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

/** The file, or undefined when there is none; throws when it exists but is not one. */
export async function readIdentityFile(path: string): Promise<LocalIdentityFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = localIdentityFileSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${path} is not a local identity file of mi dev: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/** Removes the file if it is still the one with this key (a later `mi dev` may have replaced it). */
export async function removeIdentityFile(path: string, kid: string): Promise<void> {
  let current: LocalIdentityFile | undefined;
  try {
    current = await readIdentityFile(path);
  } catch {
    // Unreadable or not ours to judge: leave it.
    return;
  }
  if (current?.privateJwk.kid !== kid) return;
  await rm(path, { force: true });
  // The directory goes too when nothing else is in it; otherwise it stays, untouched.
  await rmdir(dirname(path)).catch(() => undefined);
}

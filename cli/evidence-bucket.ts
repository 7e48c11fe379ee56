/**
 * The evidence bucket as `mi` reads it: in the cloud, Cloud Storage with the operator's own
 * credentials (Application Default Credentials, as for Firestore; operators hold objectViewer
 * on it); on the local stack, the simulated Cloud Storage `mi dev` names in its identity file.
 */
import { evidenceBucketName } from '../shared/domain/compliance/anchor.js';
import { createEvidenceBucket } from '../shared/gcp/evidence-bucket.js';
import type { EvidenceBucketPort } from '../shared/ports.js';
import type { CliEnv } from './backend.js';
import { isLocalMode } from './commands-client.js';
import { identityFilePath, readIdentityFile } from './dev/identity-file.js';
import { EXIT } from './config.js';
import { CliError } from './errors.js';

export async function evidenceBucketFor(env: CliEnv, projectId: string, bucket: string | undefined): Promise<EvidenceBucketPort> {
  const name = bucket ?? evidenceBucketName(projectId);
  if (isLocalMode(env)) {
    const file = await readIdentityFile(identityFilePath(env)).catch(() => undefined);
    if (file?.storageUrl === undefined) throw new CliError(`no local evidence bucket: start the local stack with mi dev (its identity file ${identityFilePath(env)} names the simulated Cloud Storage)`, EXIT.unreachable);
    return createEvidenceBucket({ bucket: name, endpoint: file.storageUrl, token: () => Promise.resolve('local') });
  }
  return createEvidenceBucket({
    bucket: name,
    token: async () => {
      const { GoogleAuth } = await import('google-auth-library');
      try {
        const token = await new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/devstorage.read_only'] }).getAccessToken();
        if (token === null || token === undefined || token === '') throw new Error('no access token');
        return token;
      } catch (error) {
        throw new CliError(`cannot read gs://${name} without Google credentials (${error instanceof Error ? error.message : String(error)}): run gcloud auth application-default login, then try again`, EXIT.unreachable, { cause: error });
      }
    },
  });
}

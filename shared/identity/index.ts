/**
 * Who is calling: Google ID tokens verified against Google's keys in the cloud, or against a
 * local signer's in tests and `mi dev`.
 */
export {
  APPLICATION_DEFAULT_CLIENT_ID,
  DEFAULT_CLOCK_SKEW_SECONDS,
  GCLOUD_CLIENT_ID,
  GOOGLE_CERTS_URL,
  GOOGLE_ISSUERS,
  createGoogleIdentity,
  googleJwks,
  keysById,
  type GoogleIdentityOptions,
  type KeySource,
  type PublicKeyMaterial,
} from './google.js';
export { createLocalSigner, localIdentity, type LocalSigner, type LocalSignerOptions, type LocalTokenOptions } from './local.js';

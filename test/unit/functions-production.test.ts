import { describe, expect, it } from 'vitest';
import { readEnvironment } from '../../shared/environment.js';
import { FUNCTIONS } from '../../shared/topology.js';
import { getFunction } from '@google-cloud/functions-framework/testing';
import '../../functions/index.js';

describe('deployed functions', () => {
  it('refuse to start without their configuration, naming every variable at fault', () => {
    expect(() => readEnvironment('lifecycle', {})).toThrow(
      "cannot start lifecycle: GOOGLE_CLOUD_PROJECT is missing: the project that holds Firestore, the topics and the scheduler jobs; MI_APP_IMAGE is missing: the application's image repository; MI_BUILD_LOCATION is missing: the region the executor's Cloud Builds run in (such as us-central1); MI_BUILD_TOKEN_SECRET is missing: the Secret Manager version a build clones the deployment repository with; MI_CENTRAL_BACKUP_PROJECT is missing: the project that keeps deleted instances' final GKE backups; MI_DEPLOYMENT_REPOSITORY is missing: the deployment repository as owner/name; MI_ONCALL_GROUP is missing or not an email: the on-call group added as an IAM database user on create",
    );
    const complete = {
      GOOGLE_CLOUD_PROJECT: 'p',
      MI_BUILD_LOCATION: 'us-central1',
      MI_BUILD_TOKEN_SECRET: 'projects/p/secrets/mi-github-token/versions/latest',
      MI_APP_IMAGE: 'us-docker.pkg.dev/p/app/server',
      MI_ONCALL_GROUP: 'oncall@example.com',
      MI_CENTRAL_BACKUP_PROJECT: 'mi-central-backups',
      MI_DEPLOYMENT_REPOSITORY: 'example/deployments',
    };
    // The external runner instead of Cloud Build is optional, and checked when given.
    expect(() => readEnvironment('lifecycle', { ...complete, MI_EXECUTOR_STATUS_URL: 'not a url' })).toThrow(/MI_EXECUTOR_STATUS_URL/);
    expect(readEnvironment('lifecycle', { ...complete, UNRELATED: 'x' })).toEqual(complete);
    // The health gates' endpoints are checked when given: a URL with {domain}, paths.
    expect(() => readEnvironment('lifecycle', { ...complete, MI_HEALTH_URL: 'https://example.com' })).toThrow('MI_HEALTH_URL: expected a URL with {domain}, such as https://{domain}');
    expect(() => readEnvironment('reconcile', { ...complete, MI_HEALTH_PATH: 'healthz' })).toThrow('MI_HEALTH_PATH: expected a path such as /healthz');
    expect(readEnvironment('reconcile', { ...complete, MI_HEALTH_URL: 'https://{domain}:8443', MI_VERSION_PATH: '/api/version' })).toMatchObject({ MI_HEALTH_URL: 'https://{domain}:8443', MI_VERSION_PATH: '/api/version' });
  });

  it('every function of the topology is registered with the functions framework', () => {
    for (const fn of FUNCTIONS) expect(getFunction(fn.name), fn.name).toBeTypeOf('function');
  });
});

import { describe, expect, it } from 'vitest';
import { readEnvironment } from '../../shared/environment.js';
import { FUNCTIONS } from '../../shared/topology.js';
import { getFunction } from '@google-cloud/functions-framework/testing';
import '../../functions/index.js';

describe('deployed functions', () => {
  it('refuse to start without their configuration, naming every variable at fault', () => {
    expect(() => readEnvironment('lifecycle', {})).toThrow(
      "cannot start lifecycle: GOOGLE_CLOUD_PROJECT is missing: the project that holds Firestore, the topics and the scheduler jobs; MI_CENTRAL_BACKUP_PROJECT is missing: the project that keeps deleted instances' final GKE backups; MI_EXECUTOR_STATUS_URL is missing or not a URL: where the executor answers GET /runs/<key>",
    );
    expect(() => readEnvironment('lifecycle', { GOOGLE_CLOUD_PROJECT: 'p', MI_EXECUTOR_STATUS_URL: 'not a url' })).toThrow(/MI_EXECUTOR_STATUS_URL/);
    expect(readEnvironment('lifecycle', { GOOGLE_CLOUD_PROJECT: 'p', MI_EXECUTOR_STATUS_URL: 'https://executor.internal', MI_CENTRAL_BACKUP_PROJECT: 'mi-central-backups', UNRELATED: 'x' })).toEqual({
      MI_CENTRAL_BACKUP_PROJECT: 'mi-central-backups',
      GOOGLE_CLOUD_PROJECT: 'p',
      MI_EXECUTOR_STATUS_URL: 'https://executor.internal',
    });
  });

  it('every function of the topology is registered with the functions framework', () => {
    for (const fn of FUNCTIONS) expect(getFunction(fn.name), fn.name).toBeTypeOf('function');
  });
});

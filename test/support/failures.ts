import { expect } from 'vitest';
import { ControlPlaneError } from '../../shared/errors.js';

/** What the call rejected with; fails the test when it resolves. */
export async function rejectionOf(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail, and it succeeded');
}

/** The ControlPlaneError the call rejected with; fails the test when it resolves or fails otherwise. */
export async function controlPlaneFailure(call: Promise<unknown>): Promise<ControlPlaneError> {
  const error = await rejectionOf(call);
  expect(error).toBeInstanceOf(ControlPlaneError);
  return error as ControlPlaneError;
}

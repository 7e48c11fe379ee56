import { describe, expect, it } from 'vitest';
import { ControlPlaneError } from '../../../shared/errors.js';
import { guardedCall, toControlPlaneError } from '../../../shared/gcp/grpc-errors.js';

function grpcError(code: number): Error {
  return Object.assign(new Error(`${code} STATUS: from the client`), { code });
}

describe('mapping client failures to ControlPlaneErrors', () => {
  it.each([
    [14, 'unavailable', true],
    [4, 'deadline-exceeded', true],
    [10, 'unavailable', true],
    [8, 'rate-limited', true],
    [13, 'unavailable', true],
    [6, 'already-exists', false],
    [5, 'not-found', false],
    [9, 'failed-precondition', false],
    [3, 'internal', false],
    [7, 'internal', false],
  ] as const)('gRPC status %i becomes %s (retryable: %s), keeping the original as cause', (status, code, retryable) => {
    const original = grpcError(status);
    const mapped = toControlPlaneError(original, 'firestore get x');
    expect(mapped).toBeInstanceOf(ControlPlaneError);
    expect(mapped).toMatchObject({ code, retryable, cause: original });
  });

  it('treats a refused connection as unavailable and retryable', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(toControlPlaneError(refused, 'publish')).toMatchObject({ code: 'unavailable', retryable: true, cause: refused });
  });

  it('passes ControlPlaneErrors and plain bugs through unchanged', () => {
    const mine = new ControlPlaneError('busy', 'leased');
    const bug = new TypeError('x is not a function');
    expect(toControlPlaneError(mine, 'op')).toBe(mine);
    expect(toControlPlaneError(bug, 'op')).toBe(bug);
  });

  it('maps a synchronous throw of the call, and a call that never settles fails at its deadline', async () => {
    await expect(
      guardedCall('sync', 1000, () => {
        throw grpcError(14);
      }),
    ).rejects.toMatchObject({ code: 'unavailable' });
    await expect(guardedCall('hang', 50, () => new Promise<never>(() => undefined))).rejects.toMatchObject({
      code: 'deadline-exceeded',
      retryable: true,
    });
  });
});

import { describe, expect, it } from 'vitest';
import { ControlPlaneError } from '../../../shared/errors.js';
import { errorForHttpStatus, FaultInjector } from '../../../shared/sim/faults.js';

type Method = 'get' | 'put';
const style = { service: 'demo', conflictCode: 'conflict' } as const;

describe('fault injection', () => {
  it.each([
    [503, 'unavailable', true],
    [429, 'rate-limited', true],
    [409, 'conflict', true],
    [504, 'deadline-exceeded', true],
    [500, 'internal', true],
    [404, 'not-found', false],
    [400, 'failed-precondition', false],
    [403, 'failed-precondition', false],
  ] as const)('maps HTTP %i to %s (retryable: %s)', (status, code, retryable) => {
    const error = errorForHttpStatus(style, 'get', status);
    expect(error).toBeInstanceOf(ControlPlaneError);
    expect(error).toMatchObject({ code, retryable, details: { httpStatus: status, service: 'demo', method: 'get' } });
  });

  it('fails exactly the scripted number of matching calls, in order', async () => {
    const faults = new FaultInjector<Method>(style);
    faults.inject({ method: 'get', times: 2, error: { httpStatus: 503 } });
    faults.inject({ method: '*', error: { httpStatus: 429 } });
    await expect(faults.call('put', 'x', () => 1)).rejects.toMatchObject({ code: 'rate-limited' });
    await expect(faults.call('get', 'x', () => 1)).rejects.toMatchObject({ code: 'unavailable' });
    await expect(faults.call('get', 'x', () => 1)).rejects.toMatchObject({ code: 'unavailable' });
    await expect(faults.call('get', 'x', () => 1)).resolves.toBe(1);
    expect(faults.pending()).toBe(0);
    expect(faults.calls('get')).toBe(3);
    expect(faults.calls('put')).toBe(1);
  });

  it('fails only calls about the targeted resource', async () => {
    const faults = new FaultInjector<Method>(style);
    faults.inject({ method: 'get', target: 'a', times: Infinity, error: { httpStatus: 503, message: 'a is down' } });
    await expect(faults.call('get', 'b', () => 'b')).resolves.toBe('b');
    await expect(faults.call('get', 'a', () => 'a')).rejects.toThrow('a is down');
    await expect(faults.call('get', 'a', () => 'a')).rejects.toThrow('a is down');
    faults.clear();
    await expect(faults.call('get', 'a', () => 'a')).resolves.toBe('a');
  });

  it('runs the effect before an after-effect fault, and not before a plain one', async () => {
    const faults = new FaultInjector<Method>(style);
    let effects = 0;
    faults.inject({ method: 'put', error: { httpStatus: 503 } });
    faults.inject({ method: 'put', afterEffect: true, error: { httpStatus: 503 } });
    await expect(faults.call('put', 'x', () => (effects += 1))).rejects.toMatchObject({ code: 'unavailable' });
    expect(effects).toBe(0);
    await expect(faults.call('put', 'x', () => (effects += 1))).rejects.toMatchObject({ code: 'unavailable' });
    expect(effects).toBe(1);
  });

  it('delays only the method given a latency', async () => {
    const faults = new FaultInjector<Method>(style);
    faults.setLatency(40, 'get');
    let started = performance.now();
    await faults.call('put', 'x', () => undefined);
    expect(performance.now() - started).toBeLessThan(35);
    started = performance.now();
    await faults.call('get', 'x', () => undefined);
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);
  });
});

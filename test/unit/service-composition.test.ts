/** A function builds what it serves and what that stands on, nothing more; a part it did not build says so when used. */
import { describe, expect, it } from 'vitest';
import { composeServices, notGranted, withFoundations, type Ports } from '../../shared/service-composition.js';
import { createRollouts } from '../../shared/rollout/index.js';

describe('withFoundations', () => {
  it('adds what a part stands on, transitively, and nothing else', () => {
    expect([...withFoundations(['engine'])].sort()).toEqual(['engine']);
    expect([...withFoundations(['deployments'])].sort()).toEqual(['deployments', 'rollouts']);
    expect([...withFoundations(['commands'])].sort()).toEqual(['commands', 'deployments', 'engine', 'rollouts']);
  });

  it('leaves the parts not built unusable, with a message naming what the process builds', () => {
    const port = notGranted<never>('x', 'test');
    const ports = { store: port, bus: port, clock: port, log: port } as unknown as Ports;
    const services = composeServices(ports, { schedulerParent: 'projects/p/locations/l', callers: { audiences: [] } }, { createRollouts }, new Set(['rollouts']));
    expect(typeof services.rollouts.tickAll).toBe('function');
    expect(() => services.engine.accept).toThrow('this process builds rollouts, not engine (accept)');
  });
});

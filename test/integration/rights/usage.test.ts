import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../../shared/topology.js';
import { UsageRecorder, type FunctionUsage } from '../../support/usage.js';
import { exerciseEveryFunction } from './exercise.js';

const recorder = new UsageRecorder();
let usage: Record<string, FunctionUsage>;

beforeAll(async () => {
  await exerciseEveryFunction(recorder, import.meta.url);
  usage = recorder.usage();
  if (process.env.MI_PRINT_USAGE) process.stdout.write(`${JSON.stringify(usage, null, 2)}\n`);
}, 300_000);

describe('every function of the topology, driven through its real service code', () => {
  it('has recorded usage: at least one topic published to or one API method called', () => {
    const shown = JSON.stringify(usage, null, 2);
    const unused = FUNCTIONS.map((f) => f.name).filter((name) => {
      const u = usage[name];
      return u === undefined || u.publishes.length + Object.values(u.calls).flat().length === 0;
    });
    expect(unused, `functions without recorded usage; recorded:\n${shown}`).toEqual([]);
    expect(Object.keys(usage).sort(), `functions recorded that the topology does not have; recorded:\n${shown}`).toEqual(FUNCTIONS.map((f) => f.name).sort());
  });

  it('reads the same usage every time it is asked', () => {
    expect(recorder.usage()).toEqual(usage);
    expect(recorder.usage()).toEqual(recorder.usage());
  });
});

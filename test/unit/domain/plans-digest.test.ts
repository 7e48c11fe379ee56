import { describe, expect, it } from 'vitest';
import { groupPlansByShape, planFactsOf, type ModuleApplyRecord } from '../../../shared/domain/deployments/applies.js';
import { readPlanOutput } from '../../../shared/domain/executor/index.js';

const HEX = (c: string) => c.repeat(64);

describe("a plan build's output", () => {
  it('reads the summary, the digest and the shape, and the counts from the summary', () => {
    expect(readPlanOutput(JSON.stringify({ summary: 'Plan: 2 to add, 1 to change, 0 to destroy.', digest: HEX('a'), shape: HEX('b') }))).toEqual({
      summary: 'Plan: 2 to add, 1 to change, 0 to destroy.',
      digest: HEX('a'),
      shape: HEX('b'),
      add: 2,
      change: 1,
      destroy: 0,
    });
    expect(readPlanOutput('{"summary":"No changes. Your infrastructure matches the configuration.","digest":"","shape":""}')).toEqual({ summary: 'No changes. Your infrastructure matches the configuration.', add: 0, change: 0, destroy: 0 });
  });

  it('takes a bare summary line (a build from before digests), and refuses a digest that is not sha256', () => {
    expect(readPlanOutput('Plan: 0 to add, 1 to change, 0 to destroy.\n')).toEqual({ summary: 'Plan: 0 to add, 1 to change, 0 to destroy.', add: 0, change: 1, destroy: 0 });
    expect(readPlanOutput('{"summary":"Plan: 1 to add, 0 to change, 0 to destroy.","digest":"not-a-digest"}')?.digest).toBeUndefined();
    expect(readPlanOutput('')).toBeUndefined();
  });

  it('its facts on the apply record come from the run outputs', () => {
    expect(planFactsOf({ planSummary: 'x', planDigest: HEX('a'), planShape: HEX('b'), planAdd: '1', planChange: '0', planDestroy: '3' })).toEqual({ digest: HEX('a'), shape: HEX('b'), add: 1, change: 0, destroy: 3 });
    expect(planFactsOf({ planSummary: 'Plan: 1 to add' })).toBeUndefined();
  });
});

describe('mi apply diff: plans grouped by shape', () => {
  const apply = (instanceId: string, shape: string | undefined, summary = 'Plan: 0 to add, 1 to change, 0 to destroy.'): ModuleApplyRecord =>
    ({ id: `${instanceId}.monitoring.cccc`, instanceId, planSummary: summary, ...(shape === undefined ? {} : { plan: { shape } }) }) as ModuleApplyRecord;

  it('instances whose plans differ only by their own names are one group; another shape is another; no shape is compared with nothing', () => {
    const groups = groupPlansByShape([apply('dev-b', HEX('1')), apply('dev-a', HEX('1')), apply('dev-c', HEX('2'), 'Plan: 1 to add, 1 to change, 1 to destroy.'), apply('dev-d', undefined), apply('dev-e', undefined)]);
    expect(groups).toEqual([
      { shape: HEX('1'), summary: 'Plan: 0 to add, 1 to change, 0 to destroy.', instances: ['dev-a', 'dev-b'] },
      { shape: HEX('2'), summary: 'Plan: 1 to add, 1 to change, 1 to destroy.', instances: ['dev-c'] },
      { shape: null, summary: 'Plan: 0 to add, 1 to change, 0 to destroy.', instances: ['dev-d'] },
      { shape: null, summary: 'Plan: 0 to add, 1 to change, 0 to destroy.', instances: ['dev-e'] },
    ]);
  });
});

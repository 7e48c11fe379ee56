import { describe, expect, it } from 'vitest';
import { groupPlansByShape, planFactsOf, type ModuleApplyRecord } from '../../../shared/domain/deployments/applies.js';
import { isPlanObjectOf, planObjectOf, readPlanOutput } from '../../../shared/domain/executor/index.js';

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

  it('reads where the plan file was saved, only when it is a gs:// object URL', () => {
    const object = planObjectOf('mi-control-plans-prod', 'cus-acme', 'networking', 'c'.repeat(40));
    expect(readPlanOutput(JSON.stringify({ summary: 'Plan: 0 to add, 1 to change, 0 to destroy.', digest: HEX('a'), shape: HEX('b'), object }))?.object).toBe(object);
    for (const bad of ['', '/workspace/networking.tfplan', 'gs://UPPER/x', `${object}" injected`, 'gs://b/']) expect(readPlanOutput(JSON.stringify({ summary: 'x', object: bad }))?.object, bad).toBeUndefined();
  });

  it("a recorded plan file is read for a person only where that instance's plan of that module at that commit is saved", () => {
    const apply = { instanceId: 'cus-acme', module: 'networking', commit: 'c'.repeat(40) };
    expect(isPlanObjectOf(planObjectOf('mi-control-plans-prod', 'cus-acme', 'networking', 'c'.repeat(40)), apply)).toBe(true);
    expect(isPlanObjectOf(planObjectOf('mi-control-plans-dev', 'cus-acme', 'networking', 'c'.repeat(40)), apply)).toBe(true);
    for (const other of [
      planObjectOf('mi-control-plans-prod', 'cus-other', 'networking', 'c'.repeat(40)),
      planObjectOf('mi-control-plans-prod', 'cus-acme', 'database', 'c'.repeat(40)),
      planObjectOf('mi-control-plans-prod', 'cus-acme', 'networking', 'd'.repeat(40)),
      'gs://mi-control-plans-prod/instances/cus-acme/networking/../../../secrets/networking.tfplan',
      'https://example.com/instances/cus-acme/networking/cccc/networking.tfplan',
    ]) {
      expect(isPlanObjectOf(other, apply), other).toBe(false);
    }
  });

  it('its facts on the apply record come from the run outputs', () => {
    expect(planFactsOf({ planSummary: 'x', planDigest: HEX('a'), planShape: HEX('b'), planAdd: '1', planChange: '0', planDestroy: '3' })).toEqual({ digest: HEX('a'), shape: HEX('b'), add: 1, change: 0, destroy: 3 });
    expect(planFactsOf({ planSummary: 'x', planObject: 'gs://b-plans/instances/i/m/c/m.tfplan' })).toEqual({ object: 'gs://b-plans/instances/i/m/c/m.tfplan' });
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

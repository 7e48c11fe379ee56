import { describe, expect, it } from 'vitest';
import type { RunRequest } from '../../../shared/ports.js';
import { ManualClock } from '../../../shared/sim/clock.js';
import { SimulatedExecutor, type FinishedRun } from '../../../shared/sim/executor.js';

function request(runKey: string, overrides: Partial<RunRequest> = {}): RunRequest {
  return { runKey, action: 'upgrade', instanceId: 'acme', params: { version: '5.5.0' }, actor: 'alice@example.com', reason: 'release', refuseAfter: '2026-03-01T11:00:00Z', ...overrides };
}

function setup(onFinished?: (run: FinishedRun) => void): { clock: ManualClock; executor: SimulatedExecutor } {
  const clock = new ManualClock('2026-03-01T10:00:00Z');
  const executor = new SimulatedExecutor({ clock, queuedMs: 1_000, defaultDurationMs: 10_000, durations: { provision: 60_000 }, ...(onFinished ? { onFinished } : {}) });
  return { clock, executor };
}

describe('simulated executor', () => {
  it('starts one run per run key however often it is asked', async () => {
    const { clock, executor } = setup();
    await executor.requestRun(request('op-1:upgrade'));
    clock.advance(5_000);
    await executor.requestRun(request('op-1:upgrade'));
    await executor.requestRun(request('op-1:upgrade', { params: { version: '9.9.9' } }));
    expect(executor.runsStarted()).toBe(1);
    expect(executor.duplicateRequests()).toBe(2);
    expect(executor.calls('requestRun')).toBe(3);
    expect(executor.runs()[0]?.request.params).toEqual({ version: '5.5.0' });
  });

  it('refuses a request taken up after its refuse-after time: no run, and the run stays unknown', async () => {
    const { clock, executor } = setup();
    clock.advance(60 * 60_000 + 1);
    await executor.requestRun(request('op-1:upgrade'));
    expect(executor.runsStarted()).toBe(0);
    expect(executor.refusedRequests().map((r) => r.runKey)).toEqual(['op-1:upgrade']);
    expect(await executor.getRunStatus('op-1:upgrade')).toEqual({ state: 'unknown' });
  });

  it('moves a run from queued to running to succeeded with the clock', async () => {
    const { clock, executor } = setup();
    expect(await executor.getRunStatus('op-1:upgrade')).toEqual({ state: 'unknown' });
    await executor.requestRun(request('op-1:upgrade'));
    expect((await executor.getRunStatus('op-1:upgrade')).state).toBe('queued');
    clock.advance(1_000);
    expect((await executor.getRunStatus('op-1:upgrade')).state).toBe('running');
    clock.advance(10_000);
    expect(await executor.getRunStatus('op-1:upgrade')).toMatchObject({ state: 'succeeded' });
  });

  it('takes the duration configured for the action', async () => {
    const { clock, executor } = setup();
    await executor.requestRun(request('op-2:provision', { action: 'provision' }));
    clock.advance(11_000);
    expect((await executor.getRunStatus('op-2:provision')).state).toBe('running');
    clock.advance(50_000);
    expect((await executor.getRunStatus('op-2:provision')).state).toBe('succeeded');
  });

  it('fails the runs a failure was scripted for, matched by action or run key', async () => {
    const { clock, executor } = setup();
    executor.scriptOutcome({ runKey: /^op-3:/ }, 'failed', 'terraform apply: quota exceeded');
    executor.scriptOutcome({ action: 'destroy' }, 'failed', 'lock held');
    await executor.requestRun(request('op-1:upgrade'));
    await executor.requestRun(request('op-3:upgrade'));
    await executor.requestRun(request('op-4:destroy', { action: 'destroy' }));
    await executor.requestRun(request('op-5:destroy', { action: 'destroy' }));
    clock.advance(11_000);
    expect((await executor.getRunStatus('op-1:upgrade')).state).toBe('succeeded');
    expect(await executor.getRunStatus('op-3:upgrade')).toEqual({ state: 'failed', detail: 'terraform apply: quota exceeded' });
    expect(await executor.getRunStatus('op-4:destroy')).toEqual({ state: 'failed', detail: 'lock held' });
    expect((await executor.getRunStatus('op-5:destroy')).state).toBe('succeeded');
  });

  it('keeps a hung run running however much time passes, until it is finished by hand', async () => {
    const { clock, executor } = setup();
    executor.scriptHang({ runKey: 'op-6:apply' });
    await executor.requestRun(request('op-6:apply', { action: 'apply' }));
    clock.advance(7 * 86_400_000);
    expect((await executor.getRunStatus('op-6:apply')).state).toBe('running');
    expect(await executor.finishDue()).toEqual([]);

    executor.finishRun('op-6:apply', 'failed', 'killed');
    expect(await executor.getRunStatus('op-6:apply')).toEqual({ state: 'failed', detail: 'killed' });
    expect((await executor.finishDue()).map((run) => run.runKey)).toEqual(['op-6:apply']);
  });

  it('reports each finished run once, through onFinished, and only once it finished', async () => {
    const reported: FinishedRun[] = [];
    const { clock, executor } = setup((run) => {
      reported.push(run);
    });
    await executor.requestRun(request('op-1:upgrade'));
    await executor.requestRun(request('op-2:provision', { action: 'provision' }));
    expect(await executor.finishDue()).toEqual([]);
    clock.advance(11_000);
    const first = await executor.finishDue();
    expect(first.map((run) => [run.runKey, run.outcome, run.instanceId])).toEqual([['op-1:upgrade', 'succeeded', 'acme']]);
    expect(await executor.finishDue()).toEqual([]);
    clock.advance(60_000);
    await executor.finishDue();
    expect(reported.map((run) => run.runKey)).toEqual(['op-1:upgrade', 'op-2:provision']);
  });

  it('reports a finished run again when its report failed', async () => {
    const { clock, executor } = setup();
    await executor.requestRun(request('op-1:upgrade'));
    clock.advance(11_000);
    await expect(
      executor.finishDue(() => {
        throw new Error('publish failed');
      }),
    ).rejects.toThrow('publish failed');
    expect((await executor.finishDue()).map((run) => run.runKey)).toEqual(['op-1:upgrade']);
  });

  it('surfaces an injected 503 on a request as retryable, and starts no run', async () => {
    const { executor } = setup();
    executor.faults.inject({ method: 'requestRun', error: { httpStatus: 503 } });
    await expect(executor.requestRun(request('op-1:upgrade'))).rejects.toMatchObject({ code: 'unavailable', retryable: true });
    expect(executor.runsStarted()).toBe(0);
    await executor.requestRun(request('op-1:upgrade'));
    expect(executor.runsStarted()).toBe(1);
  });
});

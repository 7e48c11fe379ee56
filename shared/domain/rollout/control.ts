/**
 * What an operator's `mi rollout pause|resume|promote|abort` does to a rollout: pure
 * decisions, returned as values (a refusal says why).
 */
import type { RolloutRecord } from './types.js';

export const ROLLOUT_ACTIONS = ['pause', 'resume', 'promote', 'abort'] as const;
export type RolloutAction = (typeof ROLLOUT_ACTIONS)[number];

export type ControlDecision = { kind: 'changed'; rollout: RolloutRecord; detail: string } | { kind: 'refused'; message: string };

function refuse(message: string): ControlDecision {
  return { kind: 'refused', message };
}

/**
 * Applies an operator's action. Resuming a halted rollout accepts the failures its halted wave
 * has so far (`failuresNow`): only failures beyond them count against the budget afterwards.
 */
export function controlRollout(
  rollout: RolloutRecord,
  action: RolloutAction,
  input: { actor: string; now: Date; failuresNow?: number },
): ControlDecision {
  const at = input.now.toISOString();
  const base = { ...rollout, updatedAt: at };
  switch (action) {
    case 'pause':
      if (rollout.status === 'awaiting-approval') return refuse(`workflow ${rollout.id} waits for a second person's approval (mi workflow approve); nothing runs yet`);
      if (rollout.status !== 'running') return refuse(`rollout ${rollout.id} is ${rollout.status}; only a running rollout can be paused`);
      return { kind: 'changed', rollout: { ...base, status: 'paused' }, detail: 'paused: no upgrade starts until mi rollout resume (those in flight finish)' };
    case 'resume': {
      if (rollout.status === 'paused') return { kind: 'changed', rollout: { ...base, status: 'running' }, detail: 'resumed' };
      if (rollout.status !== 'halted') return refuse(`rollout ${rollout.id} is ${rollout.status}; only a paused or halted rollout can be resumed`);
      const index = rollout.waveStates.findIndex((w) => w.status === 'halted');
      const waveStates = rollout.waveStates.map((w, i) => (i === index ? { ...w, status: 'active' as const, forgivenFailures: input.failuresNow ?? w.forgivenFailures } : w));
      return {
        kind: 'changed',
        rollout: { ...base, status: 'running', halt: null, waveStates },
        detail: `resumed after a halt in wave ${rollout.halt?.wave ?? '?'}, accepting its ${input.failuresNow ?? 0} failure(s); later failures count against the budget`,
      };
    }
    case 'promote': {
      if (rollout.status !== 'running' && rollout.status !== 'paused') return refuse(`rollout ${rollout.id} is ${rollout.status}; there is no gate to pass`);
      const index = rollout.waveStates.findIndex((w, i) => w.status === 'awaiting-gate' || (w.status === 'pending' && rollout.waves[i]?.manualGate === true && w.gatePassedAt === null));
      const state = rollout.waveStates[index];
      if (state === undefined) return refuse(`rollout ${rollout.id} has no wave waiting at a manual gate`);
      const waveStates = rollout.waveStates.map((w, i) => (i === index ? { ...w, gatePassedAt: at, gatePassedBy: input.actor } : w));
      return { kind: 'changed', rollout: { ...base, waveStates }, detail: `gate of wave ${state.name} passed` };
    }
    case 'abort':
      if (rollout.status === 'completed' || rollout.status === 'aborted') return refuse(`rollout ${rollout.id} is already ${rollout.status}`);
      return { kind: 'changed', rollout: { ...base, status: 'aborted', completedAt: at }, detail: 'aborted: no upgrade starts any more (those in flight finish)' };
  }
}

/**
 * A second person's approval of a workflow that changes prod: only while it waits for one, and
 * never by the person who started it.
 */
export function approveWorkflow(fanOut: RolloutRecord, input: { approver: string; now: Date; reason: string }): ControlDecision | { kind: 'self-approval'; message: string } {
  if (fanOut.kind !== 'workflow' || fanOut.workflow === undefined) return refuse(`${fanOut.id} is not a workflow: it needs no approval (a module change's plans are confirmed with mi apply confirm)`);
  if (fanOut.status !== 'awaiting-approval') return refuse(`workflow ${fanOut.id} is ${fanOut.status} and not waiting for an approval`);
  if (input.approver.trim().toLowerCase() === fanOut.actor.trim().toLowerCase()) {
    return { kind: 'self-approval', message: `${input.approver} started workflow ${fanOut.id} and cannot also approve it: a second person must` };
  }
  const at = input.now.toISOString();
  return {
    kind: 'changed',
    rollout: { ...fanOut, status: 'running', updatedAt: at, workflow: { ...fanOut.workflow, approval: { ...fanOut.workflow.approval, approvedBy: input.approver, approvedAt: at, reason: input.reason } } },
    detail: `approved by ${input.approver}: it starts`,
  };
}

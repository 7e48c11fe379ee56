/**
 * The health gate step: no side effect, only probes. Each poll (at most one per the gate's
 * interval) GETs the instance's health and version endpoints over the health port and folds the
 * answers into the gate (domain/lifecycle/health-gates.ts); the step keeps the evidence.
 */
import {
  afterProbe,
  gateFailureReason,
  gateHandles,
  gateOf,
  gateStateOf,
  probeDue,
  probeUrls,
  readProbe,
} from '../../domain/lifecycle/health-gates.js';
import type { StepDeps as Deps, StepRunner } from './kit.js';
import { param } from './kit.js';

export function healthCheckRunner(deps: Deps): StepRunner {
  const policy = deps.policy.healthGates;
  return {
    // Nothing to start: the first probe is the first poll's.
    start: (_op, step) => Promise.resolve({ kind: 'running', handles: { gate: String(step.params.phase ?? 'before') } }),
    async poll(op, step) {
      const gate = gateOf(step);
      const state = gateStateOf(step.handles);
      if (!probeDue(gate, state, deps.clock.now())) return { kind: 'running' };
      const urls = probeUrls(policy, param(op, step, 'domain'));
      const timeoutMs = policy.timeoutSeconds * 1000;
      const [health, version] = await Promise.all([deps.health.get(urls.health, { timeoutMs }), deps.health.get(urls.version, { timeoutMs })]);
      const { state: next, verdict } = afterProbe(gate, step, state, readProbe(gate, { health, version }, deps.clock.now()));
      const handles = gateHandles(next);
      if (verdict.kind === 'passed') return { kind: 'succeeded', handles };
      if (verdict.kind === 'failed') return { kind: 'failed', error: gateFailureReason(op, gate, verdict.reason), handles };
      // Recorded only over the state this probe was folded into: a racing poll's probe is dropped, never double counted.
      return { kind: 'running', progress: { handles, basedOn: { probes: String(state.probes) } } };
    },
    // A probe changes nothing.
    isIdle: () => Promise.resolve(true),
  };
}

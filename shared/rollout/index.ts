/**
 * Fan-outs on the store and the bus: rollouts (a release upgrade across the fleet), fleet
 * workflows (one executor action across a filtered set) and a merge's module changes (one
 * module at one commit across the instances it changed), all on one planner and one tick. The decisions are the pure domain's
 * (shared/domain/rollout: planner, controls, counts, facts); this folder reads, writes and
 * publishes:
 *
 * - deps.ts          what every function is given (ports, tick pacing), defaults filled in
 * - start.ts         starting a rollout (refused while another is active): its members, once
 * - workflow-start.ts  starting a fleet workflow (an executor action across filtered instances) on the same planner
 * - workflow-output.ts  a workflow's per-instance outputs (a plan's saved text, a backup's ids)
 * - module-change.ts  a merge's module change (one module at one commit) as a fan-out; a member's plan confirmed
 * - tick.ts          a tick, one per rollout at a time in a process; the schedule's tick of every running rollout
 * - tick-write.ts    a tick's transaction: due or not, the plan on counts read in it, starts, pass-overs, notes
 * - reader.ts        what the planner reads of the members, in that transaction
 * - tick-records.ts  what a tick writes per started upgrade and per note (a halt's alert)
 * - facts.ts         recording an upgrade's outcome from the engine's facts, then ticking
 * - leaks.ts         the schedule: members whose outcome never came back, recorded from the ledger and operations
 * - control.ts       an operator's pause, resume, promote or abort; a workflow's second-person approval
 * - reads.ts, publish.ts  the calendar, active rollouts, the fleet; publishing a tick
 * - status.ts        what `mi rollout status` reads and shows
 * - index.ts         createRollouts, wiring these into the service
 *
 * The in-flight limit and the failure budget hold under concurrent ticks and outcomes because
 * every tick that writes does so in one transaction that reads and writes the rollout document
 * (so ticks are serialized) and reads, inside it, the wave's in-flight and failed counts and
 * the members it starts. Only ticks add in-flight upgrades; recording an outcome only removes
 * them. A tick reads what it starts, never the fleet. The rollout document is the only shared
 * document written, at most once a second: a tick within a second of the last write is
 * deferred, and a tick issued before the last one started planning is dropped (that tick saw
 * its cause already); both are decided on one plain read, outside any transaction.
 */
import type { RolloutAction, UpgradeOutcome } from '../domain/rollout/index.js';
import type { AnyEnvelope, Envelope, RolloutPayloads } from '../events/index.js';
import { approve, control } from './control.js';
import { rolloutContext, type RolloutDeps } from './deps.js';
import { recordFact, recordOutcome } from './facts.js';
import { publishTick } from './publish.js';
import { start, type StartInput } from './start.js';
import { onTick, tick, tickAll, tickPatiently } from './tick.js';
import { startWorkflow, type WorkflowStartInput } from './workflow-start.js';
import { confirmMember, startModuleChange, type ModuleChangeInput } from './module-change.js';

export type { RolloutDeps } from './deps.js';
export type { TickOutcome } from './tick.js';
export type { FactOutcome } from './facts.js';
export type { ApproveOutcome, ControlOutcome } from './control.js';
export type { WorkflowStartInput } from './workflow-start.js';
export type { ModuleChangeInput, ModuleChangeOutcome } from './module-change.js';
export { readWorkflowOutputs, type WorkflowOutputPage } from './workflow-output.js';
export { newRolloutId, type StartInput, type StartOutcome } from './start.js';

/** The rollouts service, wired to its ports. */
export function createRollouts(deps: RolloutDeps) {
  const ctx = rolloutContext(deps);
  return {
    /** Its ports, as the Pub/Sub edge records through them. */
    deps: { store: ctx.store, bus: ctx.bus, clock: ctx.clock, log: ctx.log },
    /** Plans and starts the next upgrades of one rollout; `issuedAt` is when the tick was asked for. */
    tick: (rolloutId: string, issuedAt?: string) => tick(ctx, rolloutId, issuedAt),
    /** Ticks until the tick is done, waiting out deferrals (at most a few seconds). */
    tickPatiently: (rolloutId: string, issuedAt?: string, attempts?: number) => tickPatiently(ctx, rolloutId, issuedAt, attempts),
    /** Matches an upgrade's fact to the rollout that started it and records the outcome. */
    recordFact: (envelope: AnyEnvelope) => recordFact(ctx, envelope),
    /** Records a member's outcome learnt from its operation (its fact may come too: recorded once). */
    recordOutcome: (outcome: UpgradeOutcome & { rolloutId: string }, causeEventId: string) => recordOutcome(ctx, outcome, causeEventId),
    /** Publishes a tick now (not through the outbox: a lost tick only delays). */
    publishTick: (rolloutId: string, cause: RolloutPayloads['rollout.tick']['cause']) => publishTick(ctx, rolloutId, cause),
    /** Ticks every running rollout (the schedule). */
    tickAll: () => tickAll(ctx),
    /** A `rollout.tick` on `mi-rollout` (through the edge): tick that rollout. */
    onTick: (envelope: Envelope<'rollout.tick'>) => onTick(ctx, envelope),
    /** Starts a rollout to `targetVersion`; refused while another is active. */
    start: (input: StartInput) => start(ctx, input),
    /** An operator's pause, resume, promote or abort; audited with who and why. */
    control: (rolloutId: string, action: RolloutAction, actor: string, reason: string) => control(ctx, rolloutId, action, actor, reason),
    /** Starts a fleet workflow on the same planner; one that changes prod waits for a second person. */
    startWorkflow: (input: WorkflowStartInput) => startWorkflow(ctx, input),
    /** A merge's module change, recorded once per module and commit, and ticked. */
    startModuleChange: (input: ModuleChangeInput) => startModuleChange(ctx, input),
    /** A person confirmed a member's plan: it may start. */
    confirmMember: (fanOutId: string, instanceId: string, confirmation: { planDigest: string | null; by: string }) => confirmMember(ctx, fanOutId, instanceId, confirmation),
    /** A second person's approval of a workflow that changes prod. */
    approve: (workflowId: string, approver: string, reason: string) => approve(ctx, workflowId, approver, reason),
  };
}

export type Rollouts = ReturnType<typeof createRollouts>;

/**
 * The `deployments` consumer: turns a merge on the deployment repository into work, every effect
 * keyed by merge commit, instance and module. A spec change (config.yaml read at the merge
 * commit, validated by the instance schema) becomes `instance.create` or `instance.upgrade`, at
 * once or, when the instance is leased, when the lease frees (`specChanges/{instanceId}`, the
 * newest change by ancestry winning); a removed instance folder (absent at the merge commit,
 * present at the push's `before`) a delete waiting for confirmation; a module change a `moduleApplies`
 * document, and each module at a commit a module change on the rollout planner (waves dev,
 * internal, customers in their windows; freezes; a failure halts): auto-apply modules apply by
 * themselves, other modules run a plan first and each instance's apply waits for a person's
 * confirmation. Plans and applies are leased
 * operations (`instance.module-apply`), accepted by the engine like any lifecycle command.
 *
 * Here: model.ts (deps, context, outcomes), pushes.ts (a `deployment.pushed` handled),
 * config-file.ts and config-changes.ts (config.yaml read, parsed, decided), spec-changes/ (the
 * newest spec change of each instance), applies.ts (module applies created, their module changes recorded),
 * ticks.ts (the schedule's tick), confirmations.ts (a person's confirm), commands.ts (what is
 * asked of the engine, under which event id), git-repo.ts and memory-repo.ts (the repository
 * port for `mi dev` and for tests). This file wires them.
 */
import { DEFAULT_AUTO_APPLY_MODULES } from '../domain/deployments/applies.js';
import { publishOutbox } from '../store/outbox.js';
import type { OutboxEntry } from '../store/records.js';
import { silentLogger } from '../log.js';
import type { VerifiedCaller } from '../ports.js';
import { confirm, type ConfirmTarget } from './confirmations.js';
import type { ConfirmOutcome, ConsumerContext, DeploymentsDeps, Push, PushOutcome } from './model.js';
import { handlePush } from './pushes.js';
import { handleWriteBack, type WriteBackOutcome, type WriteBackRequest } from './write-backs.js';
import { createSpecChanges } from './spec-changes/index.js';
import { tick, type TickSummary } from './ticks.js';

export { parseConfig } from './config-file.js';
export type { ConfirmOutcome, DeploymentsDeps, PushOutcome } from './model.js';

/** The schedule whose ticks (on mi-deployments) move module applies on. */
export const DEPLOYMENTS_SCHEDULE = 'deployments';

/** Wires the consumer to its ports. */
export function createDeploymentsConsumer(deps: DeploymentsDeps) {
  const log = deps.log ?? silentLogger;
  const publish = (entries: readonly OutboxEntry[]) => publishOutbox({ ...deps, log }, entries);
  const ctx: ConsumerContext = {
    store: deps.store,
    repo: deps.repo,
    executor: deps.executor,
    clock: deps.clock,
    log,
    autoApply: deps.autoApplyModules ?? DEFAULT_AUTO_APPLY_MODULES,
    githubIdentities: deps.githubIdentities ?? {},
    publish,
    specChanges: createSpecChanges({ store: deps.store, repo: deps.repo, clock: deps.clock, log, publish }),
    branch: deps.branch ?? 'main',
    fanOuts: deps.fanOuts,
  };
  return {
    /** Its ports, as the Pub/Sub edge records through them. */
    deps: { store: deps.store, bus: deps.bus, clock: deps.clock, log },
    /** A `deployment.pushed` message: every change of the merge, keyed by commit, instance and module. */
    handlePush: (push: Push): Promise<PushOutcome> => handlePush(ctx, push),
    /** An operation changed an instance's spec: its config.yaml is brought in line, once. */
    handleWriteBack: (request: WriteBackRequest): Promise<WriteBackOutcome> => handleWriteBack(ctx, request),
    /** The schedule's tick: sync what runs, start the next waves, halt what a failure stops, start spec changes whose lease freed. */
    tick: (options: { limit?: number } = {}): Promise<TickSummary> => tick(ctx, options),
    /**
     * A person confirms a plan (or a delete), by apply id or for every instance of one module
     * at one commit. `caller` comes from a verified ID token; it is recorded on each apply.
     */
    confirm: (target: ConfirmTarget, caller: VerifiedCaller): Promise<ConfirmOutcome> => confirm(ctx, target, caller),
  };
}

export type DeploymentsConsumer = ReturnType<typeof createDeploymentsConsumer>;

/** What the deployments consumer needs from the world, the context its parts share, and the outcomes it returns. */
import type { GitHubIdentities } from '../domain/deployments/confirmers.js';
import type { OutboxEntry } from '../store/records.js';
import type { Envelope } from '../events/index.js';
import type { Logger } from '../log.js';
import type { Clock, DeploymentRepoPort, EventBus, ExecutorPort, StateStore } from '../ports.js';
import type { SpecChanges } from './spec-changes/index.js';
import type { Rollouts } from '../rollout/index.js';

/** The planner's side of module changes: each module at a commit is a fan-out of its own. */
export type ModuleChangeFanOuts = Pick<Rollouts, 'startModuleChange' | 'confirmMember' | 'recordOutcome'>;

export interface DeploymentsDeps {
  store: StateStore;
  bus: EventBus;
  repo: DeploymentRepoPort;
  /** For the plan summaries: the executor's detail of a finished plan run. */
  executor: Pick<ExecutorPort, 'getRunStatus'>;
  clock: Clock;
  log?: Logger;
  autoApplyModules?: readonly string[];
  /** GitHub logins → Google emails: who pushed and wrote a change, so that neither confirms it. */
  githubIdentities?: GitHubIdentities;
  /** The protected default branch, where write-backs go (default main). */
  branch?: string;
  /** Module changes run on the rollout planner: waves, windows, freezes, budgets, pause/resume/abort. */
  fanOuts: ModuleChangeFanOuts;
}

/** The deps as the consumer's parts take them, resolved once by `createDeploymentsConsumer`. */
export interface ConsumerContext {
  store: StateStore;
  repo: DeploymentRepoPort;
  executor: Pick<ExecutorPort, 'getRunStatus'>;
  clock: Clock;
  log: Logger;
  /** The modules applied without a plan and a confirmation. */
  autoApply: readonly string[];
  githubIdentities: GitHubIdentities;
  /** Publishes outbox entries just committed (a failure leaves them for the reconciler). */
  publish(entries: readonly OutboxEntry[]): Promise<number>;
  specChanges: SpecChanges;
  /** The protected default branch, where write-backs go. */
  branch: string;
  fanOuts: ModuleChangeFanOuts;
}

export type Push = Envelope<'deployment.pushed'>;

export type PushOutcome =
  | { kind: 'duplicate' }
  | {
      kind: 'handled';
      source: 'payload' | 'compare';
      commands: Array<{ instanceId: string; type: string; eventId: string }>;
      invalid: Array<{ instanceId: string; file: string; field: string | null; reason: string }>;
      applies: string[];
      /** Instances whose spec change waits for their lease (kept in specChanges; the tick applies it when the lease frees). */
      waiting: string[];
      /** Spec changes older by ancestry than the one recorded for their instance: not applied (recorded in the audit). */
      superseded: Array<{ instanceId: string; newer: string }>;
      /** Changes that need nothing done, and why (a removal of a file that was not there). */
      ignored: Array<{ instanceId: string; reason: string }>;
    };

/** A push being handled: what its changes came to so far. */
export type HandledPush = Extract<PushOutcome, { kind: 'handled' }>;

export type ConfirmOutcome =
  | { kind: 'confirmed'; confirmed: string[]; by: string }
  | { kind: 'refused'; code: 'not-found' | 'not-awaiting-confirmation' | 'same-person'; message: string };

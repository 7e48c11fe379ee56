/** What the spec-change records need from the world, what a push offers them, and what comes of it. */
import type { SpecChangeRecord, SpecCommandType } from '../../domain/deployments/spec-changes.js';
import type { OutboxEntry } from '../../store/records.js';
import type { Envelope, InstanceSpec } from '../../events/index.js';
import type { Logger } from '../../log.js';
import type { Clock, DeploymentRepoPort, StateStore } from '../../ports.js';

export type Push = Envelope<'deployment.pushed'>;

export interface SpecChangeDeps {
  store: StateStore;
  repo: DeploymentRepoPort;
  clock: Clock;
  log: Logger;
  /** Publishes outbox entries just committed (a failure leaves them for the reconciler). */
  publish(entries: readonly OutboxEntry[]): Promise<number>;
}

/** One instance's change in a push, read at the push's commit. */
export interface IncomingChange {
  push: Push;
  instanceId: string;
  environment: SpecChangeRecord['environment'];
  file: string;
  /** The valid spec at the push's commit; null when the change leaves no spec to apply (removed, invalid). */
  spec: InstanceSpec | null;
  /** Why there is no spec, when there is none. */
  reason?: string;
}

export type OfferOutcome =
  /** The command was asked of the engine at once. */
  | { kind: 'asked'; type: SpecCommandType; eventId: string }
  /** The instance is leased: the change waits for the tick. */
  | { kind: 'waiting'; reason: string }
  | { kind: 'unchanged'; reason: string }
  /** No spec: recorded as the instance's newest change, so older waiting ones do not run. */
  | { kind: 'recorded' }
  /** An older change than the one recorded for the instance: dropped (recorded in the audit). */
  | { kind: 'older'; newer: string; reason: string }
  /** This very change is already recorded (a redelivery). */
  | { kind: 'same'; status: SpecChangeRecord['status'] };

/** Which of a push's change and a recorded one wins. */
export type Verdict = { winner: 'incoming' } | { winner: 'stored'; reason: string };

/** For one push: whether the change recorded at `stored` is newer than the push's. */
export type NewerThan = (stored: string) => Promise<Verdict>;

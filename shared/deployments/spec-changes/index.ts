/**
 * The newest spec change of each instance, kept durably in `specChanges/{instanceId}`: a merged
 * config.yaml change that finds its instance leased waits there (never a failure, never a
 * redelivery) until the deployments tick sees the lease free and asks the engine; the engine's
 * answer is recorded when it comes (applied with its operation, refused with its reason, busy:
 * wait again). Of two changes of one instance the newer by ancestry on the default branch wins,
 * whatever order they arrive in; the record stays after it is done, so a late older change is
 * recognised as older.
 *
 * Here: model.ts (deps and outcomes), ancestry.ts (which change is newer), offer.ts (a push's
 * change recorded), dispatch.ts (ask, wait or nothing, in a transaction), sync.ts (the tick).
 */
import type { SpecChangeRecord } from '../../domain/deployments/spec-changes.js';
import { newerThan } from './ancestry.js';
import type { IncomingChange, NewerThan, OfferOutcome, Push, SpecChangeDeps } from './model.js';
import { offerChange } from './offer.js';
import { syncChange, syncSpecChanges } from './sync.js';

export type { IncomingChange, NewerThan, OfferOutcome, SpecChangeDeps, Verdict } from './model.js';

/** Wires the spec-change records to their ports. */
export function createSpecChanges(deps: SpecChangeDeps) {
  return {
    /** A per-push memo of "which is newer", for `offer`. */
    newerThan: (push: Push): NewerThan => newerThan(deps.repo, push),

    /**
     * Records one instance's change from a push as its newest, unless a newer one is recorded,
     * and asks for it at once when the instance is free. Never throws `busy`.
     */
    offer: (incoming: IncomingChange, newer: NewerThan): Promise<OfferOutcome> => offerChange(deps, incoming, newer),

    /** The tick: start the waiting changes whose instance is free, record the engine's answers. */
    sync: (options: { limit?: number } = {}): Promise<{ active: number; moved: number }> => syncSpecChanges(deps, options),

    /** Moves one change on; true when it wrote something. */
    syncOne: (change: SpecChangeRecord): Promise<boolean> => syncChange(deps, change),
  };
}

export type SpecChanges = ReturnType<typeof createSpecChanges>;

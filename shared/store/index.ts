/**
 * What every feature stores through: the registry of collections and document paths
 * (collections.ts), the records a decision leaves in its transaction — the append-only audit,
 * the ledger of processed events, the outbox — (records.ts), and publishing the outbox after
 * the commit, draining it, and sending a request once (outbox.ts).
 */
export * from './collections.js';
export * from './outbox.js';
export * from './records.js';
